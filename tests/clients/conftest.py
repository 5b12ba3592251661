"""Real mail clients as subprocesses against a lab on loopback.

The clients are Debian packages that ``.ci/run`` installs. Outside CI a missing
client skips its tests with a reason; in CI (``CI`` set) it is a failure, so a
missing install step cannot hide.
"""

from __future__ import annotations

from collections.abc import Iterator

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
