"""mail_location graders and POP3 sizes, judged on the lab and on real Dovecot alike."""

from __future__ import annotations

from pathlib import Path

import pytest

import graders

BASE = "protocols = imap pop3\ndisable_plaintext_auth = no\n"

MAILDIR_RIGHT = {
    "plain": BASE + "mail_location = maildir:~/Maildir\n",
    "explicit layout": BASE + "mail_location = maildir:~/Maildir:LAYOUT=maildir++\n",
    "home variable": BASE + "mail_location = maildir:%h/Maildir\n",
    "in a protocol filter": BASE + "protocol imap {\n  mail_location = maildir:~/Maildir\n}\n"
                            "protocol pop3 {\n  mail_location = maildir:~/Maildir\n}\n",
}
MAILDIR_WRONG = {
    "another folder": (BASE + "mail_location = maildir:~/mail\n", 1 / 6),
    "mbox instead": (BASE + "mail_location = mbox:~/mail:INBOX=/var/mail/%u\n", 1 / 6),
    "fs layout": (BASE + "mail_location = maildir:~/Maildir:LAYOUT=fs\n", 5 / 6),
    # Autodetection finds the first user's ~/Maildir, but a new user gets nothing.
    "left to autodetection": (BASE, 5 / 6),
}
MBOX_RIGHT = {
    "plain": BASE + "mail_location = mbox:~/mail:INBOX=/var/mail/%u\n",
    "home variable": BASE + "mail_location = mbox:%h/mail:INBOX=/var/mail/%u\n",
    "user variable spelled out": BASE + "mail_location = mbox:~/mail:INBOX=/var/mail/%{user}\n",
}
MBOX_WRONG = {
    "no INBOX": (BASE + "mail_location = mbox:~/mail\n", 0.6),
    "maildir": (BASE + "mail_location = maildir:~/Maildir\n", 0.2),
}


@pytest.mark.parametrize("config", MAILDIR_RIGHT.values(), ids=MAILDIR_RIGHT)
def test_maildir_written_several_ways_passes(config, engine) -> None:
    verdict = graders.check("mail-location-maildir", config, engine=engine)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", MAILDIR_WRONG)
def test_maildir_mistakes_fail_with_the_same_partial_score(case, engine) -> None:
    config, score = MAILDIR_WRONG[case]
    verdict = graders.check("mail-location-maildir", config, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert "[MISS]" in verdict.feedback and "See: 04-mail-location" in str(verdict)


@pytest.mark.parametrize("config", MBOX_RIGHT.values(), ids=MBOX_RIGHT)
def test_mbox_with_spool_inbox_passes(config, engine) -> None:
    verdict = graders.check("mail-location-mbox-inbox", config, engine=engine)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", MBOX_WRONG)
def test_mbox_mistakes_fail_with_the_same_partial_score(case, engine) -> None:
    config, score = MBOX_WRONG[case]
    verdict = graders.check("mail-location-mbox-inbox", config, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)


def test_a_config_folder_with_includes_is_judged_by_what_it_means(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "dovecot.conf").write_text(BASE + "!include conf.d/*.conf\n")
    (tmp_path / "conf.d" / "10-mail.conf").write_text("mail_location = maildir:~/Maildir\n")
    assert graders.check("mail-location-maildir", tmp_path).passed


def test_a_config_dovecot_refuses_gets_doveconfs_error() -> None:
    verdict = graders.check("mail-location-maildir", BASE + "mail_location = maildir:~/Maildir\n"
                            "protocol imap {\n")
    assert not verdict.passed and verdict.score == 0
    assert "Missing '}'" in verdict.feedback


MESSAGES = [b"Subject: one\n\nhello\n", b"Subject: two\r\n\r\nalready CRLF\r\n",
            b"Subject: three\n\nmixed\r\nends\n\n"]


def test_pop3_sizes_right_answers_pass(engine) -> None:
    sizes = [len(m) + m.count(b"\n") - m.count(b"\r\n") for m in MESSAGES]
    assert graders.check("pop3-sizes", sizes, messages=MESSAGES, engine=engine).passed
    as_dict = dict(enumerate(sizes, 1))
    assert graders.check("pop3-sizes", as_dict, messages=MESSAGES, engine=engine).passed


def test_pop3_sizes_file_sizes_are_a_typical_mistake(engine) -> None:
    verdict = graders.check("pop3-sizes", [len(m) for m in MESSAGES], messages=MESSAGES,
                            engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(1 / 3)
    assert "bare LF" in verdict.feedback and "CRLF" in verdict.feedback


@pytest.mark.parametrize("answer", [["x"], [1, 2], None])
def test_pop3_sizes_malformed_answers_get_a_verdict(answer) -> None:
    verdict = graders.check("pop3-sizes", answer, messages=MESSAGES)
    assert not verdict.passed and "one" in verdict.feedback
