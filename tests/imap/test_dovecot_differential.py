"""The IMAP library against a real Dovecot 2.3: same bytes for the same messages and input.

A throwaway Dovecot (``tests/dovecot_harness.py``) gets the sample messages in its Maildir;
Python's imaplib fetches ENVELOPE, BODY, BODYSTRUCTURE, sizes and sections over loopback and
the raw response is compared, byte for byte, with what ``ParsedMessage`` produces. The BAD
texts of ``bad_cases.py`` are checked against the same server. Skips when Dovecot is not
installed; fails in CI (``CI`` set) then.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import re
import socket
import time

import pytest

from labserver.imap import CommandReader, LiteralPending, ParsedMessage, responses
from tests.dovecot_harness import real_dovecot
from tests.imap.bad_cases import BAD_CASES
from tests.imap.samples import FETCH_ITEMS, SAMPLES
from tests.imap.transcript import wire

NAMES = list(SAMPLES)
MTIME = 1704106800.0  # 2024-01-01 11:00:00 UTC


@pytest.fixture(scope="module")
def dovecot():
    with real_dovecot() as dc:
        for name in NAMES:
            dc.add_message(SAMPLES[name], mtime=MTIME)
        # messages the BAD cases may change (STORE, EXPUNGE) live in a folder of their own
        for _ in range(3):
            dc.add_message(b"Subject: hi\r\n\r\nbody\r\n", folder="bad")
        yield dc


@pytest.fixture(scope="module")
def imap(dovecot):
    conn = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    conn.login(dovecot.user, dovecot.password)
    conn.select("INBOX", readonly=True)
    yield conn
    conn.logout()


def _raw(data: list) -> bytes:
    """Undo imaplib's split of a response around its literals."""
    out = b""
    for part in data:
        out += part[0] + b"\r\n" + part[1] if isinstance(part, tuple) else part
    return out


def _mine(msg: ParsedMessage, item: str) -> tuple[str, bytes]:
    reader = CommandReader()
    reader.receive_data(wire(f"x FETCH 1 ({item})"))
    att = reader.next_event().items[0]
    value = {
        "ENVELOPE": msg.envelope, "BODY": msg.body, "BODYSTRUCTURE": msg.bodystructure,
        "RFC822.SIZE": lambda: str(msg.size).encode(),
    }.get(att.name, lambda: msg.fetch_body_section(att))()
    return att.response_name(), value


@pytest.mark.parametrize("item", FETCH_ITEMS)
@pytest.mark.parametrize("name", NAMES)
def test_fetch_matches_dovecot(imap, name, item):
    seq = NAMES.index(name) + 1
    typ, data = imap.fetch(str(seq), f"({item})")
    assert typ == "OK"
    resp_name, value = _mine(ParsedMessage(SAMPLES[name]), item)
    assert _raw(data) == f"{seq} ({resp_name} ".encode() + value + b")"


def test_internaldate_format_matches_dovecot(imap):
    typ, data = imap.fetch("1", "(INTERNALDATE)")
    local = dt.datetime.fromtimestamp(MTIME).astimezone()
    assert _raw(data) == b"1 (INTERNALDATE " + responses.internaldate(local) + b")"


def _dovecot_reply(dc, line: str) -> str:
    """The first tagged, or untagged BAD/BYE, line Dovecot answers to ``line``."""
    tag = line.split(" ", 1)[0] if line and not line.startswith(" ") else "*"
    with socket.create_connection((dc.host, dc.imap_port), timeout=5) as s:
        s.settimeout(5)
        buf = s.recv(4096)
        s.sendall(f"L LOGIN {dc.user} {dc.password}\r\nS SELECT bad\r\n".encode())
        while b"\r\nS " not in buf:
            buf += s.recv(4096)
        s.sendall(wire(line))
        s.settimeout(0.3)
        got = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            got += chunk
            done = rb"(^|\n)(" + re.escape(tag.encode()) + rb" (OK|NO|BAD)|\* (BAD|BYE))[^\n]*\n"
            if re.search(done, got):
                break
    text = re.sub(rb" \(\d+\.\d+( \+ \d+\.\d+)* secs\)", b"", got).decode("utf-8", "replace")
    for reply in text.split("\r\n"):
        if reply.startswith((tag + " ", "* BAD", "* BYE")):
            return reply
    return text


@pytest.mark.parametrize(("line", "text"), BAD_CASES, ids=[c for c, _ in BAD_CASES])
def test_bad_texts_match_dovecot(dovecot, line, text):
    reply = _dovecot_reply(dovecot, line)
    reader = CommandReader()
    reader.receive_data(wire(line))
    ev = reader.next_event()
    while isinstance(ev, LiteralPending):
        reader.accept_literal()
        ev = reader.next_event()
    if text is None:
        assert " BAD " not in reply, reply
    else:
        tag = reply.split(" ", 1)[0]
        assert reply == f"{tag} BAD {text}"
