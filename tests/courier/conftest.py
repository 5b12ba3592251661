"""Fixtures for the Courier personality: a Courier lab with one user and some mail."""

from __future__ import annotations

import imaplib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labserver.courier import personality
from labserver.courier.lab import CourierLab
from labserver.courier.maildir import maildirmake
from labserver.service.lab import Lab
from tests.courier.courier_harness import CourierUnavailable, download

MESSAGES = [
    b"From: Bob <bob@example.com>\nTo: alice@example.com\nSubject: first\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <1@example.com>\n\nHello Alice.\n",
    b"From: Carol <carol@example.com>\nTo: alice@example.com\nSubject: second\n"
    b"Date: Tue, 24 Nov 2026 11:30:00 +0100\nMessage-ID: <2@example.com>\n\n"
    b"Second message.\n",
]


def fill_maildir(maildir: Path) -> None:
    """The same starting mailbox for every server: one new message, one seen, two
    folders (one of them subscribed)."""
    maildirmake(str(maildir))
    maildirmake(str(maildir), folder="Sent")
    maildirmake(str(maildir), folder="Sent.2024")
    (maildir / "new" / "1790000000.M1P1.lab").write_bytes(MESSAGES[0])
    (maildir / "cur" / "1790000001.M2P1.lab:2,S").write_bytes(MESSAGES[1])
    (maildir / "courierimapsubscribed").write_text("INBOX.Sent\n")


def chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid)


@pytest.fixture
def courier_lab(monkeypatch: pytest.MonkeyPatch) -> Iterator[CourierLab]:
    """A started Courier lab; wrong passwords cost no time here."""
    monkeypatch.setattr(personality, "FAILURE_DELAY", 0.0)
    lab = Lab(flavor="courier", ports="ephemeral")
    assert isinstance(lab, CourierLab)
    lab.add_user("alice", "secret")
    for message in MESSAGES:
        lab.deliver("alice", message)
    lab.start()
    yield lab
    lab.cleanup()


def imap_login(lab: Lab) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=30)
    imap.login("alice", "secret")
    return imap


@pytest.fixture(scope="session")
def courier_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian's Courier packages, downloaded and unpacked once per test session.

    Skipped when they cannot be downloaded, a failure in CI (``CI`` set)."""
    try:
        return download(tmp_path_factory.mktemp("courier-debs"))
    except CourierUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Courier's packages could not be downloaded: {exc}")
        pytest.skip(f"Courier's packages could not be downloaded: {exc}")
