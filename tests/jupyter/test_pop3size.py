"""The POP3 size explorer: its numbers are what the lab and real Dovecot report and send."""

from __future__ import annotations

import imaplib
import random
import socket
import time

import pytest

from graders.probe import close, imap_client, lab_for
from labserver.jupyter.pop3size import EXAMPLE, SizeExplorer, measure, shown, sizes_table
from labserver.service.lab import DEFAULT_CONFIG
from tests.tools import require_program


def test_lf_message() -> None:
    got = measure(b"Subject: a\n\nhello\n")
    assert (got.given_size, got.file_size, got.lines, got.pop3_size) == (18, 18, 3, 21)
    assert (got.s_value, got.w_value) == (18, 21)
    assert got.retr == b"+OK 21 octets\r\nSubject: a\r\n\r\nhello\r\n.\r\n"


def test_crlf_message_is_stored_with_lf() -> None:
    got = measure("Subject: a\r\n\r\nhello\r\n")
    assert (got.given_size, got.file_size, got.pop3_size) == (21, 18, 21)
    assert got.stored == b"Subject: a\n\nhello\n"


def test_dots_are_stuffed_except_at_the_very_start() -> None:
    got = measure(b".odd first line\n\n.one\n..two\n")
    assert got.stuffed_lines == 2
    assert got.retr.endswith(b"\r\n..one\r\n...two\r\n.\r\n")
    assert got.retr.split(b"\r\n")[1] == b".odd first line"


@pytest.mark.parametrize(("message", "pop3", "lines"), [(b"", 0, 0), (b"no end", 6, 0)])
def test_edge_cases(message: bytes, pop3: int, lines: int) -> None:
    got = measure(message)
    assert (got.pop3_size, got.lines, got.stuffed_lines) == (pop3, lines, 0)
    assert got.retr.endswith(b"\r\n.\r\n")


def test_table_and_shown() -> None:
    rows = sizes_table([b"a\n", b"b\r\n"])
    assert [(r.file_size, r.pop3_size) for r in rows] == [(2, 3), (2, 3)]
    assert shown(b"a\r\nb\n") == "a␍␊\nb␊\n"


def test_the_widget_measures_what_is_typed() -> None:
    explorer = SizeExplorer()
    assert explorer.last is not None and explorer.last.given_size == len(EXAMPLE)
    explorer.text.value = "x\ny\n"
    assert explorer.last.pop3_size == 6 and "S=4,W=6" in explorer.out.value
    explorer.crlf.value = True
    assert explorer.last.given_size == 6 and explorer.last.file_size == 4


def _messages(seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for n in range(5):
        ending = rnd.choice([b"\n", b"\r\n"])
        body = [rnd.choice([b"text", b".dot", b"..two", b"", b"x" * rnd.randrange(80)])
                for _ in range(rnd.randrange(1, 12))]
        out.append(ending.join([b"Subject: m%d" % n, b"", *body]) + rnd.choice([ending, b""]))
    return out


def _raw_retr(port: int, user: str, password: str, count: int) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(f"USER {user}\r\nPASS {password}\r\n".encode()
                  + b"".join(b"RETR %d\r\n" % (i + 1) for i in range(count)) + b"QUIT\r\n")
        data = b""
        while not data.endswith(b"Logging out.\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    replies = data.split(b"+OK Logged in.\r\n", 1)[1]
    return [b"+OK " + r for r in replies.split(b"+OK ")[1:-1]]


@pytest.mark.parametrize("engine", ["lab", "dovecot"])
def test_the_servers_report_and_send_what_measure_says(engine: str) -> None:
    if engine == "dovecot":
        require_program("dovecot", "dovecot-core")
    messages = _messages(len(engine))
    with lab_for("sizes", DEFAULT_CONFIG, engine=engine, users=[("amy", "pw")]) as lab:
        client = imap_client(lab, source=None)
        try:
            client.login("amy", "pw")
            for data in messages:
                client.append("INBOX", None, imaplib.Time2Internaldate(time.time()), data)
        finally:
            close(client)
        wire = _raw_retr(lab.port("pop3"), "amy", "pw", len(messages))
    assert wire == [measure(m).retr for m in messages]
