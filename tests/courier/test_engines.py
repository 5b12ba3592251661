"""The sans-I/O engines with Courier's settings: transcripts, no sockets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from labserver.config.resolve import PathResolver
from labserver.courier import settings
from labserver.courier.personality import GREETING, imap_settings, pop3_settings
from labserver.imap.session import (
    NEED_DATA,
    PAUSED,
    Close,
    ImapConnection,
    ImapSettings,
    SendData,
)
from labserver.pop3 import Pop3Settings
from labserver.rewording import Rewording
from tests.pop3.fakes import Driver, FakeMailbox, transcript


@pytest.fixture
def courier(tmp_path: Path) -> settings.CourierSettings:
    resolver = PathResolver(tmp_path)
    settings.write_defaults(resolver)
    return settings.load(resolver)


def test_pop3_transcript(courier: settings.CourierSettings) -> None:
    base = Pop3Settings(disable_plaintext_auth=False, pop3_uidl_format="UID%u-%v")
    mailbox = FakeMailbox([b"Subject: one\n\nbody\n", b"Subject: two\n\nbody\n"],
                          uidvalidity=1700000000)
    driver = Driver(pop3_settings(base, courier), mailbox=mailbox)
    transcript([
        "S: +OK Hello there.",
        "C: CAPA", "S: +OK Here's what I can do:", "S: STLS", "S: TOP", "S: USER",
        "S: LOGIN-DELAY 10", "S: PIPELINING", "S: UIDL", "S: UTF8 USER",
        "S: IMPLEMENTATION Courier Mail Server", "S: .",
        "C: PASS x", "S: -ERR USER/PASS required.",
        "C: USER alice", "S: +OK Password required.",
        "C: PASS secret", "S: +OK logged in.",
        "C: LIST", "S: +OK POP3 clients that break here, they violate STD53.", "S: 1 22",
        "S: 2 22", "S: .",
        "C: UIDL 2", "S: +OK 2 UID2-1700000000",
        "C: TOP 1 0", "S: +OK headers follow.", "S: Subject: one", "S: ", "S: .",
        "C: DELE 1", "S: +OK Deleted.", "C: RETR 1", "S: -ERR Invalid message number.",
        "C: RSET", "S: +OK Resurrected.", "C: NOOP", "S: +OK Yup.",
        "C: XYZZY", "S: -ERR Invalid command.",
        "C: QUIT", "S: +OK Bye-bye.",
    ], driver)


def _imap(settings_: ImapSettings, *lines: bytes) -> str:
    conn = ImapConnection(settings_, session_id="SESSION", pid=42, tls_available=False)
    out = bytearray(conn.start())
    for line in lines:
        conn.receive_data(line + b"\r\n")
        while (event := conn.next_event()) not in (NEED_DATA, PAUSED):
            if isinstance(event, SendData):
                out += event.data
            elif isinstance(event, Close):
                return out.decode()
    return out.decode()


def test_imap_before_login(courier: settings.CourierSettings) -> None:
    text = _imap(imap_settings(ImapSettings(), courier), b"a CAPABILITY", b"b NOOP",
                 b"c FOO", b"d LOGOUT")
    caps = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
            "SORT QUOTA IDLE ACL ACL2=UNION STARTTLS ENABLE UTF8=ACCEPT")
    assert text.split("\r\n") == [
        f"* OK [CAPABILITY {caps}] {GREETING}",
        f"* CAPABILITY {caps}", "a OK CAPABILITY completed",
        "b OK NOOP completed",
        "c NO Error in IMAP command received by server.",
        "* BYE Courier-IMAP server shutting down", "d OK LOGOUT completed", ""]


def test_the_hooks_leave_dovecot_alone() -> None:
    plain = ImapSettings()
    assert not plain.replies and plain.fixed_capabilities is None
    text = _imap(plain, b"a NOOP", b"b LOGOUT")
    assert text.split("\r\n")[1:] == ["a OK NOOP completed.", "* BYE Logging out",
                                      "b OK Logout completed.", ""]
    assert dataclasses.replace(plain, replies=Rewording({"x": "y"})) == plain


def test_rewording() -> None:
    words = Rewording({"+OK {} octets": "+OK {} octets follow.", "USER +OK": "+OK user",
                       "+OK": "+OK plain"})
    assert words("+OK 12 octets") == "+OK 12 octets follow."
    assert words("+OK", "USER") == "+OK user"
    assert words("+OK", "NOOP") == "+OK plain"
    assert words("-ERR other") == "-ERR other"
    assert words.reword_bytes(b"+OK 5 octets\r\nbody +OK\r\n") == \
        b"+OK 5 octets follow.\r\nbody +OK\r\n"
    assert Rewording()("anything") == "anything"
