"""open_storage() from a dovecot.conf, and deliver() to a path."""

from __future__ import annotations

import pytest

from labserver.config import parse_text
from labserver.config.resolve import PathResolver
from labserver.storage import MaildirStorage, MboxStorage, StorageError, deliver, open_storage

CONF = """mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
  }
}
"""


def test_namespace_settings_and_autocreate(tmp_path):
    cfg = parse_text(CONF)
    storage = open_storage(cfg, "alice", "/home/alice", PathResolver(tmp_path))
    assert isinstance(storage, MaildirStorage)
    assert storage.separator == "/"
    assert (tmp_path / "home/alice/Maildir/.Sent/cur").is_dir()
    listing = {m.name: m.special_use for m in storage.list()}
    assert listing == {"INBOX": None, "Sent": "\\Sent"}
    assert storage.subscriptions() == ["Sent"]


@pytest.mark.parametrize("location,sep,cls", [
    ("maildir:~/Maildir", ".", MaildirStorage),
    ("maildir:~/Maildir:LAYOUT=fs", "/", MaildirStorage),
    ("mbox:~/mail:INBOX=/var/mail/%u", "/", MboxStorage),
])
def test_default_separator_per_format(tmp_path, location, sep, cls):
    cfg = parse_text(f"mail_location = {location}\n")
    storage = open_storage(cfg, "alice", "/home/alice", PathResolver(tmp_path))
    assert isinstance(storage, cls) and storage.separator == sep


def test_mail_home_and_autodetection(tmp_path):
    (tmp_path / "srv/alice/Maildir/cur").mkdir(parents=True)
    cfg = parse_text("mail_home = /srv/%u\n")
    storage = open_storage(cfg, "alice", None, PathResolver(tmp_path))
    assert isinstance(storage, MaildirStorage)
    assert storage.location.root_dir == "/srv/alice/Maildir"


def test_bad_location_is_a_storage_error_in_dovecots_words(tmp_path):
    cfg = parse_text("mail_location = maildir:~/Maildir:LAYUOT=fs\n")
    with pytest.raises(StorageError, match="^Unknown setting: LAYUOT$"):
        open_storage(cfg, "alice", "/home/alice", PathResolver(tmp_path))


def test_deliver_to_paths(tmp_path):
    assert deliver(str(tmp_path / "Maildir") + "/", b"Subject: a\n\nx\n") == 1
    assert deliver(tmp_path / "Maildir", b"Subject: b\n\nx\n") == 2
    assert (tmp_path / "Maildir/dovecot-uidlist").exists()
    assert deliver(str(tmp_path / "mbox-inbox"), "Subject: c\n\nx\n") == 1
    assert (tmp_path / "mbox-inbox").read_bytes().startswith(b"From ")
