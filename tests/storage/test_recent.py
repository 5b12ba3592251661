"""Maildir \\Recent as Dovecot's first_recent_uid gives it: once, to the first session."""

from __future__ import annotations

import os

from .conftest import make_storage


def test_each_new_uid_is_recent_for_one_read_write_session(tmp_path) -> None:
    storage = make_storage(tmp_path, "maildir")
    saver = storage.open_for_save("INBOX")
    plain = saver.append(b"Subject: a\n\na\n")
    flagged = saver.append(b"Subject: b\n\nb\n", ["\\Seen"])  # straight into cur/
    saver.close()
    assert storage.status("INBOX")["RECENT"] == 2
    examine = storage.open("INBOX", readonly=True)
    assert examine.recent_uids == frozenset()
    first = storage.open("INBOX")
    assert first.recent_uids == {plain, flagged}
    assert storage.status("INBOX")["RECENT"] == 0
    assert storage.open("INBOX").recent_uids == frozenset()
    # A delivery while the first session is open is recent for it when it syncs.
    later = storage.open_for_save("INBOX").append(b"Subject: c\n\nc\n")
    first.sync()
    assert first.recent_uids == {plain, flagged, later}
    assert storage.open("INBOX").recent_uids == frozenset()


def test_a_new_uidvalidity_makes_every_message_recent_again(tmp_path) -> None:
    storage = make_storage(tmp_path, "maildir")
    box = storage.open("INBOX")
    uid = box.append(b"Subject: a\n\na\n")
    box.close()
    assert storage.open("INBOX").recent_uids == {uid}
    os.unlink(os.path.join(box.path, "dovecot-uidlist"))
    again = storage.open("INBOX")
    assert [m.uid for m in again.messages] == [1]
    assert again.recent_uids == {1}


def test_a_deleted_fs_layout_folder_leaves_no_directory(tmp_path) -> None:
    storage = make_storage(tmp_path, "maildir-fs")
    storage.create("Work")
    box = storage.open("Work")
    box.append(b"Subject: a\n\na\n")
    box.close()
    assert storage.open("Work").recent_uids  # the claim wrote the recent mark
    path = box.path
    assert os.path.isfile(os.path.join(path, "labserver-recent"))
    storage.delete("Work")
    assert not os.path.exists(path)
