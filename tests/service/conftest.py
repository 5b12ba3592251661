"""Fixtures: a running lab on ephemeral loopback ports, stopped by the test's end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab

MESSAGE = (b"From: Bob <bob@example.com>\nTo: alice@example.com\nSubject: lab test\n"
           b"Date: Mon, 23 Nov 2026 10:00:00 +0000\n\nFirst line\n.starts with a dot\n")


@pytest.fixture
def lab_factory() -> Iterator:
    labs: list[Lab] = []

    def make(extra: str = "", config: str | None = None, users: dict[str, str] | None = None,
             messages: int = 1) -> Lab:
        text = config if config is not None else DEFAULT_CONFIG + "auth_failure_delay = 0\n"
        lab = Lab(text + extra, ports="ephemeral")
        labs.append(lab)
        for user, password in (users or {"alice": "secret"}).items():
            lab.add_user(user, password)
            for _ in range(messages):
                lab.deliver(user, MESSAGE)
        return lab.start()

    yield make
    for lab in labs:
        lab.cleanup()
