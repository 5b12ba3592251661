"""Courier and Dovecot side by side on one maildir: the table shows what each server said."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labserver.courier.lab import CourierLab
from labserver.jupyter.courier import (
    FirstContact,
    SideBySide,
    differences,
    first_contact,
    side_by_side,
)
from labserver.service.lab import Lab


@pytest.fixture(scope="module")
def contacts() -> Iterator[dict[str, FirstContact]]:
    courier = Lab(flavor="courier", ports="ephemeral")
    assert isinstance(courier, CourierLab)
    dovecot = Lab(root=courier.root, ports="ephemeral")
    try:
        courier.add_user("alice", "secret")
        dovecot.add_user("alice", "secret")
        courier.deliver("alice", "Subject: one\n\nhello\n")
        courier.maildirmake("/home/alice/Maildir", folder="Sent")
        courier.path("/home/alice/Maildir/courierimapsubscribed").write_text("INBOX.Sent\n")
        courier.start()
        dovecot.start()
        yield {"Courier": first_contact(courier, "alice", "secret"),
               "Dovecot": first_contact(dovecot, "alice", "secret")}
    finally:
        dovecot.stop()
        courier.cleanup()


def test_each_server_in_its_own_words(contacts: dict[str, FirstContact]) -> None:
    courier, dovecot = contacts["Courier"], contacts["Dovecot"]
    assert "Courier-IMAP ready." in courier.greeting and "Dovecot" in dovecot.greeting
    assert courier.namespace.startswith('(("INBOX." "."))')
    assert dovecot.namespace == '(("" ".")) NIL NIL'
    assert '"." INBOX.Sent' in "\n".join(courier.folders)
    assert '"." Sent' in "\n".join(dovecot.folders)
    assert courier.subscribed == ('() "." INBOX.Sent',)
    assert "STARTTLS" not in courier.capability_after
    assert dovecot.capability_after.count("IMAP4rev1") == 1


def test_the_table_marks_what_differs(contacts: dict[str, FirstContact]) -> None:
    assert {"greeting", "NAMESPACE", 'LIST "" "*"'} <= set(differences(contacts))
    table = side_by_side(contacts)
    assert "NAMESPACE ≠" in table and "INBOX.Sent" in table and "&quot;INBOX.&quot;" in table
    assert SideBySide(contacts)._repr_html_() == table


def test_identical_servers_differ_nowhere() -> None:
    one = FirstContact("* OK ready", "IMAP4rev1", "IMAP4rev1", "NIL", (), ())
    assert differences({"a": one, "b": one}) == []
    assert "≠" not in side_by_side({"a": one, "b": one}).split("<p>")[0]
    assert "(none)" in side_by_side({"a": one})
