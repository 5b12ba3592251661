"""CONTROL= in mail_location: where Maildir keeps its UID lists, as Dovecot 2.3 does."""

from __future__ import annotations

import pytest

from labserver.config.resolve import PathResolver
from labserver.storage import deliver, parse_location, storage_for_location


@pytest.mark.parametrize(("layout", "inbox_dir"), [("", ".INBOX"), (":LAYOUT=fs", "INBOX")])
def test_inbox_uidlist_goes_under_the_control_dir_like_any_folder(tmp_path, layout: str,
                                                                  inbox_dir: str) -> None:
    # Observed with Dovecot 2.3.19: CONTROL/.INBOX/dovecot-uidlist (Maildir++) and
    # CONTROL/INBOX/dovecot-uidlist (LAYOUT=fs); the mail itself stays in ~/Maildir.
    location = parse_location(f"maildir:~/Maildir{layout}:CONTROL=/control/%u", user="amy",
                              home="/home/amy")
    storage = storage_for_location(location, PathResolver(tmp_path))
    storage.ensure_inbox()
    deliver(storage, b"Subject: x\n\nhello\n")
    assert (tmp_path / "control/amy" / inbox_dir / "dovecot-uidlist").is_file()
    assert not (tmp_path / "home/amy/Maildir/dovecot-uidlist").exists()
    assert len(list((tmp_path / "home/amy/Maildir/new").iterdir())) == 1


def test_an_existing_maildir_gets_its_control_dirs_on_first_use(tmp_path) -> None:
    for sub in ("cur", "new", "tmp", ".Work/cur", ".Work/new", ".Work/tmp"):
        (tmp_path / "home/amy/Maildir" / sub).mkdir(parents=True)
    (tmp_path / "home/amy/Maildir/new/1.M1P1.mda").write_bytes(b"Subject: old\n\nhi\n")
    location = parse_location("maildir:~/Maildir:CONTROL=/control/%u", user="amy",
                              home="/home/amy")
    storage = storage_for_location(location, PathResolver(tmp_path))
    storage.ensure_inbox()
    assert [m.uid for m in storage.open("INBOX").messages] == [1]
    assert storage.open("Work").messages == ()
    assert (tmp_path / "control/amy/.INBOX/dovecot-uidlist").is_file()
    assert (tmp_path / "control/amy/.Work/dovecot-uidlist").is_file()
