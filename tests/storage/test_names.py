"""Hostile and invalid mailbox names never reach the file system."""

from __future__ import annotations

import os

import pytest

from labserver.storage import StorageError

from .conftest import make_storage

HOSTILE = [
    ("../bob", "Invalid mailbox name: Contains '..' part"),
    ("a/../../bob", "Invalid mailbox name: Contains '..' part"),
    ("/etc/passwd", "Invalid mailbox name: Begins with hierarchy separator"),
    ("a//b", "Invalid mailbox name: Has adjacent hierarchy separators"),
    ("a/", "Invalid mailbox name: Ends with hierarchy separator"),
    ("~root", "Invalid mailbox name: Begins with '~'"),
    ("a\x00b", "Invalid mailbox name"),
    ("100%", "Character not allowed in mailbox name: '%'"),
    ("star*", "Character not allowed in mailbox name: '*'"),
    ("..", "Invalid mailbox name: Contains '..' part"),
    (".", "Invalid mailbox name: Contains '.' part"),
]


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, dirs, files in os.walk(root) for f in dirs + files)


@pytest.mark.parametrize("name,message", HOSTILE)
@pytest.mark.parametrize("op", ["create", "open", "delete", "subscribe", "rename"])
def test_hostile_names_are_refused(tmp_path, name, message, op):
    if op == "create" and name == "a/":
        return  # "CREATE a/" declares a hierarchy: allowed (RFC 3501 §6.3.3)
    for kind in ("maildir", "maildir-fs", "mbox"):
        root = tmp_path / kind
        storage = make_storage(root, kind)
        before = _tree(root)
        with pytest.raises(StorageError) as exc:
            if op == "rename":
                storage.create("Real")
                before = _tree(root)
                storage.rename("Real", name)
            else:
                getattr(storage, op)(name)
        expected = message
        if kind == "maildir" and "." in name and "\x00" not in name:
            # Maildir++ keeps '.' as its own separator: Dovecot refuses it first.
            expected = "Character not allowed in mailbox name: '.'"
        assert exc.value.message == expected
        assert _tree(root) == before
        assert not (tmp_path / "bob").exists()


def test_maildirpp_refuses_its_own_separator_when_the_namespace_uses_another(tmp_path):
    storage = make_storage(tmp_path, "maildir", separator="/")
    with pytest.raises(StorageError, match=r"^Character not allowed in mailbox name: '\.'$"):
        storage.create("a.b")


def test_maildirpp_with_dot_separator(tmp_path):
    storage = make_storage(tmp_path, "maildir", separator="")
    assert storage.separator == "."
    storage.create("Archive.2024")
    assert (tmp_path / "home/alice/Maildir/.Archive.2024/cur").is_dir()
    assert {m.name for m in storage.list()} == {"INBOX", "Archive", "Archive.2024"}
    with pytest.raises(StorageError, match="Name must not have '/' characters"):
        storage.create("a/b")


def test_symlink_out_of_the_mail_root_is_refused(tmp_path):
    storage = make_storage(tmp_path, "maildir")
    outside = tmp_path / "home" / "bob" / "Maildir"
    os.makedirs(outside / "cur")
    os.symlink("../../bob/Maildir", tmp_path / "home/alice/Maildir/.Evil")
    with pytest.raises(StorageError, match="^Invalid mailbox name$"):
        storage.open("Evil")


def test_user_names_cannot_step_outside(tmp_path):
    from labserver.config import parse_text
    from labserver.storage import open_storage

    cfg = parse_text("mail_location = maildir:/var/vmail/%u\n")
    for user in ("../bob", "a/b", ".."):
        with pytest.raises(StorageError):
            open_storage(cfg, user, "/home/x", None)


def test_inbox_is_case_insensitive(tmp_path):
    storage = make_storage(tmp_path, "maildir")
    box = storage.open("inbox")
    assert box.name == "INBOX"
