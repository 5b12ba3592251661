"""The shared %-variable expander."""

import pytest

from labserver.config.varexpand import expand, mail_user_values

VALUES = mail_user_values("Alice@Example.COM", home="/home/alice", service="imap",
                          rip="192.0.2.7", lip="127.0.0.1")


@pytest.mark.parametrize("template,text", [
    ("%u", "Alice@Example.COM"),
    ("%Lu", "alice@example.com"),
    ("%n", "Alice"),
    ("%Ld/%Ln", "example.com/alice"),
    ("%{user}", "Alice@Example.COM"),
    ("%{username}.%{service}", "Alice.imap"),
    ("%h/Maildir", "/home/alice/Maildir"),
    ("%%u", "%u"),
    ("%1Ln/%Ln", "a/alice"),
    ("%2.1Ln", "i"),
    ("%-1.1n", "e"),
    ("%05X{pid}", None),
    ("mbox:~/mail:INBOX=/var/mail/%u", "mbox:~/mail:INBOX=/var/mail/Alice@Example.COM"),
    ("%r", "192.0.2.7"),
    ("%{env:LAB_TEST_VAR}", "from-env"),
])
def test_expansions(template: str, text: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_TEST_VAR", "from-env")
    result = expand(template, VALUES)
    assert result.error is None
    if text is not None:
        assert result.text == text


def test_md5_modifier_is_real_md5() -> None:
    import hashlib

    assert expand("%Mu", VALUES).text == hashlib.md5(b"Alice@Example.COM").hexdigest()


def test_unknown_variables_are_reported_as_dovecot_does() -> None:
    result = expand("/var/mail/%q", VALUES)
    assert result.text == "/var/mail/UNSUPPORTED_VARIABLE_q"
    assert result.error == "Unknown variable '%q'"
    assert expand("%{nosuch}", VALUES).error == "Unknown variable '%nosuch'"
