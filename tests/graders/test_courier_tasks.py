"""courier-user, courier-imap-tls-only and courier-migration: right and wrong answers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import graders
from labserver.courier import migrate
from labserver.courier.lab import CourierLab


def _account(c: CourierLab, user: str, password: str, *, compile_db: bool = True,
             maildir: bool = True, hashed: bool = True, mail: str = "") -> None:
    stored = c.userdbpw(password).stdout.strip() if hashed else password
    fields = {"uid": str(os.getuid()), "gid": str(os.getgid()), "home": f"/home/{user}",
              "systempw": stored}
    if mail:
        fields["mail"] = mail
    c.userdb(user, **fields)
    if compile_db:
        c.makeuserdb()
    if maildir:
        c.maildirmake(mail or f"/home/{user}/Maildir")


def _des_account(c: CourierLab, user: str, password: str) -> None:
    stored = c.userdbpw(password, "").stdout.strip()  # userdbpw without -md5: crypt(3)
    c.userdb(user, uid="1000", gid="1000", home=f"/home/{user}", systempw=stored)
    c.makeuserdb()
    c.maildirmake(f"/home/{user}/Maildir")


def _maildir_elsewhere(c: CourierLab, user: str, password: str) -> None:
    c.path("/var/mail/boxes").mkdir(parents=True)
    _account(c, user, password, mail=f"/var/mail/boxes/{user}")


USER_RIGHT = {"md5 hash": _account, "crypt hash": _des_account,
              "mail= field": _maildir_elsewhere}
USER_WRONG = {
    "makeuserdb forgotten": (lambda c, u, p: _account(c, u, p, compile_db=False), 1 / 5,
                             "Authentication FAILED"),
    "maildirmake forgotten": (lambda c, u, p: _account(c, u, p, maildir=False), 2 / 5,
                              "is not a maildir"),
    "password not hashed": (lambda c, u, p: _account(c, u, p, hashed=False), 2 / 5,
                            "Authentication FAILED"),
}


@pytest.mark.parametrize("make", USER_RIGHT.values(), ids=USER_RIGHT)
def test_user_right(make) -> None:  # noqa: ANN001
    verdict = graders.check("courier-user", make)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", USER_WRONG)
def test_user_wrong(case: str) -> None:
    make, score, words = USER_WRONG[case]
    verdict = graders.check("courier-user", make)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert words in verdict.feedback and "See: 01-courier" in str(verdict)


def test_user_function_that_fails_or_is_missing() -> None:
    verdict = graders.check("courier-user", lambda c, u, p: c.no_such_tool())
    assert not verdict.passed and "AttributeError" in verdict.feedback
    assert "function itself" in graders.check("courier-user", "userdb alice set").feedback


TLS_RIGHT = {
    "plaintext server off": {"imapd": {"IMAPDSTART": "NO"}},
    "TLS required": {"imapd-ssl": {"IMAP_TLS_REQUIRED": "1"}},
}
TLS_WRONG = {
    "nothing changed": ({}, 0.5, "a LOGIN on port 143 without STARTTLS succeeded"),
    "everything off": ({"imapd": {"IMAPDSTART": "NO"}, "imapd-ssl": {"IMAPDSSLSTART": "NO"}},
                       0.5, "there is no IMAPS listener"),
    "STARTTLS off, not required": ({"imapd-ssl": {"IMAPDSTARTTLS": "NO"}}, 0.5,
                                   "without STARTTLS succeeded"),
}


@pytest.mark.parametrize("files", TLS_RIGHT.values(), ids=TLS_RIGHT)
def test_tls_right(files) -> None:  # noqa: ANN001
    verdict = graders.check("courier-imap-tls-only", files)
    assert verdict.passed, str(verdict)


def test_tls_right_as_a_whole_file() -> None:
    with_text = CourierLab(ports="ephemeral")
    try:
        text = with_text.read_courier("imapd").replace("IMAPDSTART=YES", "IMAPDSTART=NO")
    finally:
        with_text.cleanup()
    verdict = graders.check("courier-imap-tls-only", {"imapd": text})
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", TLS_WRONG)
def test_tls_wrong(case: str) -> None:
    files, score, words = TLS_WRONG[case]
    verdict = graders.check("courier-imap-tls-only", files)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert words in verdict.feedback


@pytest.mark.parametrize(("files", "words"), [
    ({"imapd": "PORT=abc\n"}, "/etc/courier/imapd line 1: PORT: not a number"),
    ({"imapd": {"IMAPSTART": "NO"}}, "IMAPSTART"),
    ({"dovecot.conf": "ssl = yes\n"}, "not one of Courier's files"),
    ("IMAPDSTART=NO", "Hand in a dict"),
])
def test_tls_broken_files(files, words: str) -> None:  # noqa: ANN001
    verdict = graders.check("courier-imap-tls-only", files)
    assert not verdict.passed and verdict.score == 0 and words in verdict.feedback, str(verdict)


MINIMAL = """protocols = imap pop3
mail_location = maildir:~/Maildir
pop3_uidl_format = UID%u-%v
namespace inbox {
  prefix = INBOX.
  separator = .
  inbox = yes
}
"""


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "dovecot.conf").write_text("!include conf.d/*.conf\n")
    (tmp_path / "conf.d" / "10-mail.conf").write_text(MINIMAL)
    return tmp_path


def test_migration_right(engine: str) -> None:
    verdict = graders.check("courier-migration", migrate.DOVECOT_CONFIG,
                            convert=migrate.convert, engine=engine)
    assert verdict.passed, str(verdict)


def test_migration_right_in_debian_layout(tmp_path: Path) -> None:
    verdict = graders.check("courier-migration", _folder(tmp_path), convert=migrate.convert)
    assert verdict.passed, str(verdict)


MIGRATION_WRONG = {
    "no conversion": (migrate.DOVECOT_CONFIG, None, 3 / 7, "each folder keeps its UIDVALIDITY"),
    "no namespace": ("protocols = imap pop3\nmail_location = maildir:~/Maildir\n"
                     "pop3_uidl_format = UID%u-%v\n", migrate.convert, 5 / 7, "the same folders"),
    "Dovecot's UIDLs": (MINIMAL.replace("pop3_uidl_format = UID%u-%v\n", ""), migrate.convert,
                        6 / 7, "POP3 UIDLs stay the same"),
}


@pytest.mark.parametrize("case", MIGRATION_WRONG)
def test_migration_wrong(case: str, engine: str) -> None:
    config, convert, score, missed = MIGRATION_WRONG[case]
    verdict = graders.check("courier-migration", config, convert=convert, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert f"[MISS] {missed}" in verdict.feedback and "See: 01-courier" in str(verdict)


def test_migration_refused_config_and_failing_conversion() -> None:
    broken = MINIMAL.replace("  inbox = yes\n", "  inbx = yes\n")
    verdict = graders.check("courier-migration", broken, convert=migrate.convert)
    assert not verdict.passed and "Unknown setting" in verdict.feedback
    verdict = graders.check("courier-migration", MINIMAL, convert=lambda path: 1 / 0)
    assert not verdict.passed and "ZeroDivisionError" in verdict.feedback
