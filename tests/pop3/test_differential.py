"""The same POP3 session against real Dovecot 2.3 and against the lab's engine.

A scripted client talks to a throwaway Dovecot over a raw socket and to a
``Pop3Connection`` over an in-memory fake mailbox reading the same Maildir files.
Replies must match byte for byte after normalising what is volatile (nothing, for
these scripts: the greeting carries no APOP timestamp); the Maildir afterwards
must hold the same messages with the same \\Seen flags, and the Login and
Disconnected log lines must match once pids and session ids are masked.
"""

from __future__ import annotations

import base64
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from labserver.config import parse_text
from labserver.pop3 import Pop3Settings

from .dovecot_pop3_oracle import RealDovecot
from .fakes import Driver, FakeMailbox

MESSAGES = {
    "1700000001.M1P1.lab:2,": b"From: a@example.org\nSubject: bare LF\n\nline one\n"
                              b".hidden dot line\n.\nlast\n",
    "1700000002.M2P1.lab:2,": b"From: b@example.org\r\nSubject: CRLF\r\n\r\nbody\r\n"
                              b"..two dots\r\n",
    "1700000003.M3P1.lab:2,": b"Subject: no final newline\n\nfirst\nsecond",
    "1700000004.M4P1.lab:2,": b"Subject: header only\n",
}
PLAIN_IR = base64.b64encode(b"\0alice\0secret")

MULTI = ("CAPA", "LIST", "UIDL", "TOP", "RETR", "AUTH")

# Each entry is one packet: a list of command lines sent together.
LOCAL_SCRIPT = [
    ["CAPA"], ["BOGUS"], ["capa"], ["USER alice"], ["PASS wrong"], ["PASS secret"],
    ["AUTH"], ["AUTH CRAM-MD5"], ["AUTH PLAIN"], ["*"],
    ["USER alice", "PASS secret", "STAT"],
    ["LIST"], ["LIST 2"], ["LIST 9"], ["LIST 1 "], ["UIDL"], ["UIDL 3"],
    ["TOP 1 0"], ["TOP 1 2"], ["TOP 3 1"], ["TOP 4 5"], ["TOP 1"], ["TOP 1 x"],
    ["RETR 1"], ["RETR 2"], ["RETR 3"], ["RETR 4"], ["RETR x"], ["RETR 1x"],
    ["RETR 0"], ["RETR 4294967296"], ["DELE 2"], ["DELE 2"], ["RETR 2"], ["LIST"],
    ["STAT"], ["UIDL"], ["RSET"], ["STAT"], ["DELE 1"], ["NOOP", "STAT", "LIST 3"],
    ["FOO"], [""], ["STLS"], ["LAST"], ["CAPA"], ["QUIT"],
]

REMOTE_SCRIPT = [
    ["CAPA"], ["USER alice"], ["PASS secret"], ["AUTH PLAIN " + PLAIN_IR.decode()],
    ["AUTH LOGIN"], ["AUTH"], ["X1"], ["X2"], ["X3"],
]


def is_multiline(command: str, first: bytes) -> bool:
    name, _, args = command.partition(" ")
    name = name.upper()
    if not first.startswith(b"+OK"):
        return False
    if name in ("LIST", "UIDL"):
        return args.strip() == ""
    if name == "AUTH":
        return args.strip() == ""
    return name in ("CAPA", "TOP", "RETR")


def split_replies(data: bytes, commands: list[str]) -> list[bytes]:
    replies = []
    for command in commands:
        end = data.index(b"\r\n") + 2
        if is_multiline(command, data[:end]):
            end = data.index(b"\r\n.\r\n", end - 2) + 5
        replies.append(data[:end])
        data = data[end:]
    if data:
        replies.append(data)  # lines no command asked for, e.g. a farewell
    return replies


class SocketClient:
    def __init__(self, port: int, source: str) -> None:
        self.sock = socket.socket()
        self.sock.settimeout(10)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def read_reply(self, command: str | None) -> bytes:
        while b"\r\n" not in self.buf:
            self._more()
        end = self.buf.index(b"\r\n") + 2
        if command is not None and is_multiline(command, self.buf[:end]):
            while b"\r\n.\r\n" not in self.buf[end - 2:]:
                self._more()
            end = self.buf.index(b"\r\n.\r\n", end - 2) + 5
        reply, self.buf = self.buf[:end], self.buf[end:]
        return reply

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(self.buf)
        self.buf += chunk

    def exchange(self, packet: list[str]) -> list[bytes]:
        self.sock.sendall(b"".join(c.encode() + b"\r\n" for c in packet))
        replies = []
        for command in packet:
            try:
                replies.append(self.read_reply(command))
            except EOFError:
                replies.append(b"<closed>")
                break
        return replies

    def drain(self) -> bytes:
        """Whatever the server still sends within a moment, up to its close."""
        self.sock.settimeout(1)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except OSError:
            pass
        tail, self.buf = self.buf, b""
        return tail

    def close(self) -> None:
        self.sock.close()


def run_real(dovecot: RealDovecot, source: str, script: list[list[str]]):
    client = SocketClient(dovecot.port, source)
    transcript = [("greeting", client.read_reply(None))]
    for packet in script:
        replies = client.exchange(packet)
        transcript.append((packet, replies))
        if b"<closed>" in replies or packet == ["QUIT"]:
            break
    tail = client.drain()
    if tail:
        transcript[-1][1].append(tail)
    client.close()
    return transcript


def run_engine(settings: Pop3Settings, mailbox: FakeMailbox, source: str,
               script: list[list[str]]):
    driver = Driver(settings, mailbox=mailbox, remote_ip=source, local_ip="127.0.0.1",
                    local_port=110, remote_port=50000)
    transcript = [("greeting", bytes(driver.output))]
    for packet in script:
        out = driver.send(b"".join(c.encode() + b"\r\n" for c in packet))
        try:
            replies = split_replies(out, packet)
        except ValueError:
            replies = [out]
        if driver.closed and len(replies) < len(packet):
            replies.append(b"<closed>")
        transcript.append((packet, replies))
        if driver.closed:
            break
    return transcript, driver


def mask_log(line: str) -> str:
    line = re.sub(r"^\w{3} \d\d \d\d:\d\d:\d\d ", "", line)
    line = re.sub(r"session=<[^>]*>", "session=<S>", line)
    line = re.sub(r"mpid=\d+", "mpid=P", line)
    line = re.sub(r"\)<\d+><[^>]*>", ")<P><S>", line)
    line = re.sub(r"(in|waited) \d+ secs", r"\1 N secs", line)
    return line


def interesting(lines: list[str]) -> list[str]:
    keep = ("pop3-login: Info: Login:", "pop3-login: Info: Disconnected",
            "pop3(alice)<P><S>: Info: Disconnected")
    # The oracle's readiness probe connects and leaves: not part of the script.
    probe = "Disconnected: Connection closed (no auth attempts"
    return [m for m in (mask_log(x) for x in lines) if m.startswith(keep) and probe not in m]


@pytest.fixture
def dovecot():
    # Not tmp_path: pytest's base directory is private to its owner, and Dovecot's
    # mail process runs as an unprivileged user that must reach the home directory.
    root = Path(tempfile.mkdtemp(prefix="pop3-oracle-"))
    try:
        server = RealDovecot(root, MESSAGES)
        yield server
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def lab_settings(dovecot: RealDovecot) -> Pop3Settings:
    return Pop3Settings.from_config(parse_text(dovecot.config.read_text()))


def pristine_mailbox(uidvalidity: int) -> FakeMailbox:
    names = sorted(MESSAGES)
    return FakeMailbox([MESSAGES[n] for n in names], uidvalidity=uidvalidity,
                       guids=[n.split(":")[0] for n in names])


def compare(real, lab) -> None:
    assert len(real) == len(lab), (real, lab)
    for (packet, want), (_, have) in zip(real, lab, strict=True):
        assert have == want, f"after {packet!r}:\n  dovecot: {want!r}\n  lab:     {have!r}"


def test_local_session_matches_dovecot(dovecot: RealDovecot):
    real = run_real(dovecot, "127.0.0.1", LOCAL_SCRIPT)
    mailbox = pristine_mailbox(dovecot.uidvalidity())
    lab, driver = run_engine(lab_settings(dovecot), mailbox, "127.0.0.1", LOCAL_SCRIPT)
    compare(real, lab)
    # The Maildir afterwards: message 1 expunged, the RETRieved others \Seen.
    real_left = sorted((name.split(":")[0], "S" in name.split(":2,")[1])
                       for name in (p.name for p in (dovecot.maildir / "cur").iterdir()))
    names = sorted(MESSAGES)
    lab_left = sorted((names[uid - 1].split(":")[0], "\\Seen" in mailbox.flags[uid])
                      for uid in mailbox.data)
    assert lab_left == real_left
    real_logs = interesting(_wait_for_log(dovecot, "Logged out"))
    assert len(real_logs) == 2
    assert interesting(driver.logs) == real_logs


def test_remote_session_matches_dovecot(dovecot: RealDovecot):
    real = run_real(dovecot, "127.0.0.2", REMOTE_SCRIPT)
    lab, driver = run_engine(lab_settings(dovecot), pristine_mailbox(1), "127.0.0.2",
                             REMOTE_SCRIPT)
    compare(real, lab)
    real_logs = interesting(_wait_for_log(dovecot, "Too many bad commands"))
    assert len(real_logs) == 1
    assert interesting(driver.logs) == real_logs


def _wait_for_log(dovecot: RealDovecot, text: str) -> list[str]:
    import time

    for _ in range(50):
        log = dovecot.log()
        if text in log:
            break
        time.sleep(0.1)
    return dovecot.log().splitlines()
