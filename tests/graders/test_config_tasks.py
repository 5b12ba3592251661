"""Configuration graders: correct answers written differently pass, typical mistakes fail."""

from __future__ import annotations

from pathlib import Path

import pytest

import graders


def test_tasks_are_listed_with_descriptions() -> None:
    assert set(graders.TASKS) >= {"config-valid", "config-modern", "setting-value"}
    assert all(graders.TASKS.values())


def test_valid_and_refused_configs() -> None:
    assert graders.check("config-valid", "ssl = required\n").passed
    verdict = graders.check("config-valid", "ssl = maybe\n")
    assert not verdict.passed
    assert "Invalid value: maybe" in verdict.feedback
    with pytest.raises(AssertionError, match="Invalid value: maybe"):
        verdict.assert_passed()


def test_obsolete_settings_are_flagged() -> None:
    verdict = graders.check("config-modern", "ssl_protocols = !SSLv3 !TLSv1\n")
    assert not verdict.passed and verdict.score == 0.5
    assert "ssl_protocols has been replaced by ssl_min_protocol" in verdict.feedback
    assert graders.check("config-modern", "ssl_min_protocol = TLSv1.1\n").passed


@pytest.mark.parametrize("config", [
    "mail_location = mbox:~/mail:INBOX=/var/mail/%u\n",
    "mail_location = mbox:~/mail:INBOX=/var/mail/%u # the chapter's line\n",
    'mail = "mbox:~/mail:INBOX=/var/mail/%u"\n',
])
def test_setting_value_accepts_equivalent_spellings(config: str) -> None:
    verdict = graders.check("setting-value", config, setting="mail_location",
                            expected="mbox:~/mail:INBOX=/var/mail/%u")
    assert verdict.passed, verdict.feedback


def test_setting_value_sees_includes(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "dovecot.conf").write_text("!include conf.d/*.conf\n")
    (tmp_path / "conf.d" / "10-auth.conf").write_text("auth_failure_delay = 0\n")
    assert graders.check("setting-value", tmp_path, setting="auth_failure_delay",
                         expected="0").passed


def test_setting_value_respects_protocol_filters() -> None:
    config = "protocol pop3 {\n  mail_max_userip_connections = 3\n}\n"
    assert graders.check("setting-value", config, setting="mail_max_userip_connections",
                         expected="3", protocol="pop3").passed
    verdict = graders.check("setting-value", config, setting="mail_max_userip_connections",
                            expected="3", protocol="imap")
    assert not verdict.passed and "but Dovecot reads '10'" in verdict.feedback


def test_a_grader_never_raises_on_garbage() -> None:
    verdict = graders.check("setting-value", b"\x00\xff", setting="ssl", expected="yes")
    assert not verdict.passed
    with pytest.raises(KeyError):
        graders.check("no-such-task", "")


@pytest.mark.parametrize("text,expected", [
    ("protocols = pop3 imap\n", "imap pop3"),
    ("auth_mechanisms = PLAIN CRAM-MD5\n", "plain cram-md5"),
    ("auth_mechanisms = cram-md5 plain\n", "plain cram-md5"),
    ("listen = ::, *\n", "*, ::"),
])
def test_word_list_settings_ignore_order_and_mechanism_case(text, expected) -> None:
    assert graders.check("setting-value", text, setting=text.split(" =")[0],
                         expected=expected).passed


@pytest.mark.parametrize("text,expected", [
    ("protocols = imap\n", "imap pop3"),
    ("auth_mechanisms = plain\n", "plain cram-md5"),
    ("protocols = IMAP POP3\n", "imap pop3"),
])
def test_word_list_settings_still_need_the_same_words(text, expected) -> None:
    assert not graders.check("setting-value", text, setting=text.split(" =")[0],
                             expected=expected).passed
