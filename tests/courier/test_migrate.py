"""The migration exercise: Courier's maildir served by Dovecot, clients noticing nothing."""

from __future__ import annotations

import imaplib
import poplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from labserver.courier import migrate
from labserver.courier.lab import CourierLab
from labserver.service.lab import Lab
from tests.courier.conftest import MESSAGES
from tests.dovecot_harness import dovecot_binary


def _uidls(lab: Lab) -> list[bytes]:
    pop = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=30)
    pop.user("alice")
    pop.pass_("secret")
    uidls = pop.uidl()[1]
    pop.quit()
    return uidls


@pytest.fixture
def used(courier_lab: CourierLab) -> Iterator[tuple[CourierLab, migrate.MailboxView,
                                                      list[bytes]]]:
    """A Courier lab after some use: folders, a subscription, flags, an expunge; what a
    client saw, then stopped."""
    imap = imaplib.IMAP4("127.0.0.1", courier_lab.port("imap"), timeout=30)
    imap.login("alice", "secret")
    imap.create("INBOX.Sent")
    imap.create("INBOX.Sent.2024")
    imap.subscribe("INBOX.Sent")
    imap.append("INBOX.Sent", "(\\Seen)", None, MESSAGES[1])
    imap.select("INBOX")
    imap.store("1", "+FLAGS", "(\\Flagged \\Answered)")
    imap.append("INBOX", None, None, b"Subject: third\r\n\r\nthree\r\n")
    imap.store("2", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.logout()
    before = migrate.imap_view("127.0.0.1", courier_lab.port("imap"), "alice", "secret")
    uidls = _uidls(courier_lab)
    courier_lab.stop()
    yield courier_lab, before, uidls


def _dovecot(courier: CourierLab, engine: str = "lab") -> Lab:
    lab = Lab(migrate.DOVECOT_CONFIG, root=courier.root, ports="ephemeral", engine=engine)
    lab.add_user("alice", "secret")
    return lab


def test_what_a_client_sees_before(used) -> None:  # noqa: ANN001
    _, before, _ = used
    assert before.separator == "."
    assert sorted(before.folders) == ["INBOX", "INBOX.Sent", "INBOX.Sent.2024"]
    assert before.subscribed == ["INBOX.Sent"]
    assert before.folders["INBOX"].messages == {1: frozenset({"\\Flagged", "\\Answered"}),
                                                3: frozenset()}
    assert before.folders["INBOX.Sent"].messages == {1: frozenset({"\\Seen"})}


def test_without_conversion_clients_notice(used) -> None:  # noqa: ANN001
    courier, before, _ = used
    dovecot = _dovecot(courier).start()
    try:
        after = migrate.imap_view("127.0.0.1", dovecot.port("imap"), "alice", "secret")
    finally:
        dovecot.stop()
    changes = migrate.compare(before, after)
    assert any(c.startswith("INBOX: UIDVALIDITY changed") for c in changes)
    assert "INBOX: UIDs changed from [1, 3] to [1, 2]" in changes
    assert "subscriptions changed from ['INBOX.Sent'] to []" in changes


def test_converted_maildir_looks_the_same(used) -> None:  # noqa: ANN001
    courier, before, uidls = used
    maildir = courier.path("/home/alice/Maildir")
    report = migrate.convert(str(maildir))
    assert len([x for x in report if "UIDs, UIDVALIDITY" in x]) == 3
    assert (maildir / "subscriptions").read_text() == "Sent\n"
    head = (maildir / "dovecot-uidlist").read_text().splitlines()[0]
    assert head == f"3 V{before.folders['INBOX'].uidvalidity} N4"
    dovecot = _dovecot(courier).start()
    try:
        after = migrate.imap_view("127.0.0.1", dovecot.port("imap"), "alice", "secret")
        assert _uidls(dovecot) == uidls
    finally:
        dovecot.stop()
    assert migrate.compare(before, after) == []
    # a second run keeps what Dovecot now owns
    assert all("not overwritten" in x for x in migrate.convert(str(maildir)))


def test_real_dovecot_agrees(used) -> None:  # noqa: ANN001
    dovecot_binary()
    courier, before, uidls = used
    migrate.convert(str(courier.path("/home/alice/Maildir")))
    dovecot = _dovecot(courier, engine="dovecot").start()
    try:
        after = migrate.imap_view("127.0.0.1", dovecot.port("imap"), "alice", "secret")
        assert _uidls(dovecot) == uidls
    finally:
        dovecot.cleanup()
    assert migrate.compare(before, after) == []


def test_broken_uiddb_is_reported(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "courierimapuiddb").write_text("2 1 2\n")
    assert migrate.convert(str(md)) == [f"{md}/courierimapuiddb: Broken header: 2 1 2"]
    assert not (md / "dovecot-uidlist").exists()
