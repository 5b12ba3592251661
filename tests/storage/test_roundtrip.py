"""Both formats: append, read, flags, expunge, sync, folders, subscriptions."""

from __future__ import annotations

import datetime as dt

import pytest

from labserver.storage import StorageError, deliver
from labserver.storage.sizes import to_crlf, virtual_size

MSG = b"From: a@example.org\nSubject: hello\n\nline one\nline two\n"


def test_append_read_and_sizes(storage):
    box = storage.open("INBOX")
    when = dt.datetime(2024, 5, 17, 10, 30, tzinfo=dt.UTC)
    uid = box.append(MSG, ["\\Seen", "$Label1"], when)
    assert box.messages == ()  # not visible until sync()
    result = box.sync()
    assert [m.uid for m in result.new] == [uid] == [1]
    info = box.messages[0]
    assert info.flags == frozenset({"\\Seen", "$Label1"})
    assert info.internaldate == when
    assert box.read(uid) == to_crlf(MSG)
    assert info.virtual_size == len(to_crlf(MSG)) == virtual_size(MSG)
    assert info.physical_size == len(MSG)
    assert box.uidnext == 2


def test_crlf_input_is_stored_with_lf(storage):
    box = storage.open("INBOX")
    box.append(to_crlf(MSG))
    box.sync()
    assert box.messages[0].physical_size == len(MSG)
    assert box.messages[0].virtual_size == len(to_crlf(MSG))


def test_flags_modes_and_other_sessions_see_them(storage):
    a = storage.open("INBOX")
    b = storage.open("INBOX")
    for _ in range(3):
        a.append(MSG)
    a.sync()
    b.sync()
    changed = a.set_flags([1, 3], ["\\Flagged", "work"], "add")
    assert [m.uid for m in changed] == [1, 3]
    a.set_flags([3], ["\\Flagged"], "remove")
    a.set_flags([2], ["\\Answered"], "replace")
    got = {m.uid: m.flags for m in b.sync().flag_changes}
    assert got == {1: {"\\Flagged", "work"}, 2: {"\\Answered"}, 3: {"work"}}
    assert {m.uid: m.flags for m in b.messages} == got


def test_expunge_is_reported_to_other_sessions_and_uids_not_reused(storage):
    a = storage.open("INBOX")
    b = storage.open("INBOX")
    for _ in range(3):
        a.append(MSG)
    a.sync()
    b.sync()
    a.set_flags([2], ["\\Deleted"], "add")
    assert a.expunge([1]) == []  # 1 is not \Deleted
    assert a.expunge() == [2]
    assert [m.uid for m in a.messages] == [1, 3]
    assert b.sync().expunged_uids == [2]
    a.set_flags([3], ["\\Deleted"], "add")
    a.expunge()
    assert a.append(MSG) == 4
    c = storage.open("INBOX")
    assert [m.uid for m in c.messages] == [1, 4]
    assert c.uidvalidity == a.uidvalidity


def test_uids_survive_reopening(storage):
    box = storage.open("INBOX")
    uids = [box.append(MSG + bytes([65 + i])) for i in range(5)]
    assert uids == [1, 2, 3, 4, 5]
    again = storage.open("INBOX")
    assert [m.uid for m in again.messages] == uids
    assert again.read(4).endswith(b"D\r\n") or again.read(4).endswith(b"D")


def test_folders_copy_and_trycreate(storage):
    storage.create("Archive/2024")
    storage.create("Sent")
    names = {m.name: m.flags for m in storage.list()}
    assert names["Archive/2024"] >= {"\\HasNoChildren"}
    assert "\\HasChildren" in names["Archive"]
    assert "INBOX" in names and "Sent" in names
    inbox = storage.open("INBOX")
    inbox.append(MSG, ["\\Seen", "kw"])
    inbox.sync()
    pairs = inbox.copy([1], "Archive/2024")
    assert pairs == [(1, 1)]
    arch = storage.open("Archive/2024")
    assert arch.messages[0].flags == frozenset({"\\Seen", "kw"})
    with pytest.raises(StorageError) as exc:
        inbox.copy([1], "Nope")
    assert exc.value.code == "TRYCREATE"
    with pytest.raises(StorageError) as exc:
        storage.create("Sent")
    assert (exc.value.message, exc.value.code) == ("Mailbox already exists", "ALREADYEXISTS")
    with pytest.raises(StorageError) as exc:
        storage.open("Nope")
    assert (exc.value.message, exc.value.code) == ("Mailbox doesn't exist: Nope", "NONEXISTENT")


def test_rename_and_delete(storage):
    storage.create("Old")
    deliver(storage, MSG, "Old")
    storage.subscribe("Old")
    storage.rename("Old", "New")
    assert "New" in {m.name for m in storage.list()}
    assert "Old" not in {m.name for m in storage.list()}
    assert storage.subscriptions() == ["New"]
    assert len(storage.open("New").messages) == 1
    storage.delete("New")
    with pytest.raises(StorageError, match="Mailbox doesn't exist: New"):
        storage.delete("New")
    with pytest.raises(StorageError, match="INBOX can't be deleted."):
        storage.delete("INBOX")


def test_subscriptions(storage):
    storage.create("Archive/2024")
    storage.subscribe("Archive/2024")
    storage.subscribe("INBOX")
    storage.subscribe("INBOX")
    assert storage.subscriptions() == ["Archive/2024", "INBOX"]
    storage.unsubscribe("Archive/2024")
    assert storage.subscriptions() == ["INBOX"]


def test_status(storage):
    deliver(storage, MSG)
    deliver(storage, MSG, flags=["\\Seen"])
    st = storage.status("INBOX")
    assert st["MESSAGES"] == 2 and st["UNSEEN"] == 1 and st["UIDNEXT"] == 3
    assert st["UIDVALIDITY"] > 0


def test_readonly_view_ignores_store(storage):
    deliver(storage, MSG)
    box = storage.open("INBOX", readonly=True)
    assert box.set_flags([1], ["\\Seen"], "add") == []
    assert storage.open("INBOX").messages[0].flags == frozenset()
    with pytest.raises(StorageError):
        box.append(MSG)


def test_unicode_folder_names_are_stored_in_modified_utf7(storage, tmp_path):
    storage.create("Entwürfe")
    assert "Entwürfe" in {m.name for m in storage.list()}
    found = [p.name for p in tmp_path.rglob("*") if "Entw" in p.name]
    assert any("Entw&APw-rfe" in n for n in found), found
