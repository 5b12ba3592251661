"""Virtual-user mail locations, Maildir S=/W= values and UIDLs, on the lab and real Dovecot."""

from __future__ import annotations

from pathlib import Path

import pytest

import graders

BASE = "protocols = imap pop3\ndisable_plaintext_auth = no\n"

VIRTUAL_RIGHT = {
    "short variables": BASE + "mail_location = maildir:/var/vmail/%d/%n\n",
    "long variables": BASE + "mail_location = maildir:/var/vmail/%{domain}/%{username}\n",
}
VIRTUAL_WRONG = {
    "whole address": (BASE + "mail_location = maildir:/var/vmail/%u\n", 0.25),
    "fs layout": (BASE + "mail_location = maildir:/var/vmail/%d/%n:LAYOUT=fs\n", 0.75),
}


@pytest.mark.parametrize("config", VIRTUAL_RIGHT.values(), ids=VIRTUAL_RIGHT)
def test_virtual_location_written_two_ways_passes(config: str, engine: str) -> None:
    verdict = graders.check("mail-location-virtual", config, engine=engine)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", VIRTUAL_WRONG)
def test_virtual_location_mistakes_get_the_same_partial_score(case: str, engine: str) -> None:
    config, score = VIRTUAL_WRONG[case]
    verdict = graders.check("mail-location-virtual", config, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert "%n" in verdict.feedback and "See: 04-mail-location: Variables" in str(verdict)


def test_virtual_location_through_an_include_passes(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "dovecot.conf").write_text(BASE + "!include conf.d/*.conf\n")
    (tmp_path / "conf.d" / "10-mail.conf").write_text(
        "mail_location = maildir:/var/vmail/%Ld/%Ln\n")
    assert graders.check("mail-location-virtual", tmp_path).passed


def test_virtual_location_refused_config_quotes_doveconf() -> None:
    verdict = graders.check("mail-location-virtual", BASE + "mail_locaton = maildir:~/M\n")
    assert not verdict.passed and "Unknown setting: mail_locaton" in verdict.feedback


CONTROL_RIGHT = {
    "control only": BASE + "mail_location = maildir:~/Maildir:"
                    "CONTROL=/var/lib/dovecot/control/%u\n",
    "with an index dir": BASE + "mail_location = maildir:%h/Maildir:CONTROL=/var/lib/dovecot/"
                         "control/%n:INDEX=/var/lib/dovecot/index/%u\n",
}
CONTROL_WRONG = {
    "no control dir": (BASE + "mail_location = maildir:~/Maildir\n", 0.4),
    "one control dir for all": (BASE + "mail_location = maildir:~/Maildir:"
                                "CONTROL=/var/lib/dovecot/control\n", 0.6),
}


@pytest.mark.parametrize("config", CONTROL_RIGHT.values(), ids=CONTROL_RIGHT)
def test_control_dir_written_two_ways_passes(config: str, engine: str) -> None:
    verdict = graders.check("mail-location-control", config, engine=engine)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", CONTROL_WRONG)
def test_control_dir_mistakes_get_the_same_partial_score(case: str, engine: str) -> None:
    config, score = CONTROL_WRONG[case]
    verdict = graders.check("mail-location-control", config, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert "CONTROL=" in verdict.feedback


MESSAGES = [b"Subject: one\n\nhello\n", b"Subject: two\r\n\r\nalready\r\nCRLF\r\n",
            b"Subject: three\n\n.a dot\nno end"]
# Saved with LF line ends: S= is that size, W= adds one byte per line end.
RIGHT = [(20, 23), (27, 31), (29, 32)]


@pytest.mark.parametrize("answer", [
    RIGHT, [{"S": s, "W": w} for s, w in RIGHT],
    [f"1700000000.M1P2.host,S={s},W={w}:2," for s, w in RIGHT]],
    ids=["pairs", "dicts", "file names"])
def test_size_fields_right_answers_pass(answer: list, engine: str) -> None:
    verdict = graders.check("maildir-size-fields", answer, messages=MESSAGES, engine=engine)
    assert verdict.passed, str(verdict)


def test_size_fields_file_sizes_as_sent_are_the_typical_mistake(engine: str) -> None:
    as_sent = [(len(m), len(m)) for m in MESSAGES]
    verdict = graders.check("maildir-size-fields", as_sent, messages=MESSAGES, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(3 / 6), str(verdict)
    assert "LF line ends" in verdict.feedback and "S=27" in verdict.feedback


@pytest.mark.parametrize("answer", [[(1, 2)], ["no sizes here"] * 3, None, [("a", 1)] * 3])
def test_size_fields_malformed_answers_get_a_verdict(answer: object) -> None:
    verdict = graders.check("maildir-size-fields", answer, messages=MESSAGES)
    assert not verdict.passed and "(S, W)" in verdict.feedback


def test_uidl_default_format_passes_and_upper_case_hex_fails(engine: str) -> None:
    right = graders.check("pop3-uidl", lambda uid, validity: f"{uid:08x}{validity:08x}",
                          engine=engine)
    assert right.passed, str(right)
    upper = graders.check("pop3-uidl", lambda uid, validity: f"{uid:08X}{validity:08X}",
                          engine=engine)
    assert not upper.passed and upper.score == 0, str(upper)
    assert "lower case" in upper.feedback


def test_uidl_with_another_format(engine: str) -> None:
    verdict = graders.check("pop3-uidl", lambda uid, validity: f"UID{uid}-{validity}",
                            uidl_format="UID%u-%v", engine=engine)
    assert verdict.passed, str(verdict)


def test_uidl_function_that_raises_or_is_not_a_function() -> None:
    verdict = graders.check("pop3-uidl", lambda uid, validity: 1 / 0)
    assert not verdict.passed and "ZeroDivisionError" in verdict.feedback
    verdict = graders.check("pop3-uidl", "0000000100000001")
    assert not verdict.passed and "function" in verdict.feedback
