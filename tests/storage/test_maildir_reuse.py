"""A warm Maildir refresh reuses its last listing only while new/ and cur/ are unchanged."""

from __future__ import annotations

import os
import time

from .conftest import make_storage


def _age(maildir: str, seconds: float) -> None:
    """Make new/ and cur/ look untouched for ``seconds``: their listing may be kept."""
    when = time.time() - seconds
    for sub in ("new", "cur"):
        os.utime(os.path.join(maildir, sub), (when, when))


def _flags(box) -> dict[int, frozenset[str]]:  # noqa: ANN001 - a MaildirMailbox
    return {m.uid: m.flags for m in box.messages}


def _file_of(folder: str, header: bytes) -> str:
    """The file holding a message (names do not sort in append order: the microsecond
    part of a Maildir name has no leading zeros)."""
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as f:
            if f.read().startswith(header):
                return name
    raise AssertionError(f"no message starts with {header!r}")


def test_changes_by_another_process_are_seen(tmp_path) -> None:
    storage = make_storage(tmp_path, "maildir")
    writer = storage.open("INBOX")
    uids = [writer.append(f"Subject: {n}\n\nbody {n}\n".encode()) for n in range(3)]
    maildir = writer.path
    _age(maildir, 10)
    # Two refreshes from the kept listing: the second is answered from the first.
    reader = storage.open("INBOX")
    assert reader.sync().expunged_uids == [] and set(_flags(reader)) == set(uids)
    # Another process sets \Seen by renaming a file in cur/, within the same second.
    cur = os.path.join(maildir, "cur")
    name = _file_of(cur, b"Subject: 0\n")
    os.rename(os.path.join(cur, name), os.path.join(cur, name.split(":")[0] + ":2,S"))
    reader.sync()
    assert "\\Seen" in _flags(reader)[uids[0]]
    # ...and removes one: the refresh notices, though the listing was kept before.
    _age(maildir, 10)
    reader.sync()
    reader.sync()
    os.unlink(os.path.join(cur, _file_of(cur, b"Subject: 2\n")))
    assert reader.sync().expunged_uids == [uids[2]]
    assert set(_flags(reader)) == set(uids[:2])


def test_a_new_delivery_is_seen_and_claimed(tmp_path) -> None:
    storage = make_storage(tmp_path, "maildir")
    box = storage.open("INBOX")
    first = box.append(b"Subject: one\n\none\n")
    _age(box.path, 10)
    box.sync()
    box.sync()
    with open(os.path.join(box.path, "new", "1700000000.M1P1.example"), "wb") as fh:
        fh.write(b"Subject: two\n\ntwo\n")
    box.sync()
    assert [m.uid for m in box.messages] == [first, first + 1]
    assert os.listdir(os.path.join(box.path, "new")) == []
