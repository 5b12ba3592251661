"""Real mail clients as subprocesses against a lab on loopback.

The clients are Debian packages that ``.ci/run`` installs. Outside CI a missing
client skips its tests with a reason; in CI (``CI`` set) it is a failure, so a
missing install step cannot hide.
"""

from __future__ import annotations

import os
import pty
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab
from tests.tools import require_program

MESSAGES = [
    b"From: Bob <bob@example.com>\nTo: alice@example.com\nSubject: first\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <1@example.com>\n\nHello Alice.\n"
    b".A line that starts with a dot\n",
    b"From: Carol <carol@example.com>\r\nTo: alice@example.com\r\nSubject: second\r\n"
    b"Date: Tue, 24 Nov 2026 11:30:00 +0100\r\nMessage-ID: <2@example.com>\r\n\r\n"
    b"Second message, CRLF on disk.\r\n",
]


def need(program: str) -> str:
    return require_program(program)


@pytest.fixture
def mail_lab() -> Iterator[Lab]:
    lab = Lab(DEFAULT_CONFIG + "auth_failure_delay = 0\n", ports="ephemeral")
    lab.add_user("alice", "secret")
    for message in MESSAGES:
        lab.deliver("alice", message)
    lab.start()
    yield lab
    lab.cleanup()


def crlf_size(message: bytes) -> int:
    return len(message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def _run_in_pty(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """Run a full-screen program on a pseudo-terminal until it exits (bounded in time)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(argv[0], argv, env)
    output = b""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            output += chunk
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError("mutt did not finish in time:\n" + output.decode(errors="replace"))
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output


def run_mutt(port: int, home: Path, saved: Path, extra: str = "") -> tuple[int, bytes]:
    """Open the lab's INBOX in mutt (as alice, on a pty), copy every message to ``saved``."""
    muttrc = home / "muttrc"
    muttrc.write_text(f"""\
set folder = {home}
set spoolfile = ""
set imap_user = alice
set imap_pass = secret
{extra}set ssl_starttls = no
set ssl_force_tls = no
set mbox_type = mbox
set confirmappend = no
set confirmcreate = no
set quit = yes
set header_cache = ""
set message_cachedir = ""
push "<tag-pattern>~A<enter><tag-prefix><copy-message>{saved}<enter><quit>"
""")
    env = dict(os.environ, HOME=str(home), TERM="vt100", LANG="C.UTF-8")
    return _run_in_pty([require_program("mutt"), "-n", "-F", str(muttrc), "-f",
                        f"imap://alice@127.0.0.1:{port}/INBOX"], env, 60)
