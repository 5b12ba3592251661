"""What lands on disk: Dovecot's Maildir names and uidlist, Dovecot's mbox headers."""

from __future__ import annotations

import os
import re
import threading
import time

from labserver.storage import deliver
from labserver.storage.maildir import Uidlist, get_size, info_from_flags, split_info
from labserver.storage.sizes import virtual_size

from .conftest import make_storage

MSG = b"Subject: x\n\nbody\n"


def test_maildir_file_names_and_uidlist(tmp_path):
    storage = make_storage(tmp_path, "maildir")
    deliver(storage, MSG)
    deliver(storage, MSG, flags=["\\Seen", "\\Draft", "todo"])
    md = tmp_path / "home/alice/Maildir"
    (new,) = os.listdir(md / "new")
    (cur,) = os.listdir(md / "cur")
    assert re.fullmatch(r"\d+\.M\d+P\d+\.[^,:/]+,S=17,W=20", new)
    assert cur.endswith(",S=17,W=20:2,DSa")
    assert (md / "dovecot-keywords").read_text() == "0 todo\n"
    lines = (md / "dovecot-uidlist").read_text().splitlines()
    assert re.fullmatch(r"3 V\d+ N3 G[0-9a-f]{32}", lines[0])
    assert lines[1] == f"1 :{new}" and lines[2] == f"2 :{split_info(cur)[0]}"
    assert not os.path.exists(md / "dovecot-uidlist.lock")


def test_new_arrivals_move_to_cur_and_are_recent_once(tmp_path):
    storage = make_storage(tmp_path, "maildir")
    a = storage.open("INBOX")
    deliver(storage, MSG)
    assert storage.status("INBOX")["RECENT"] == 1
    a.sync()
    assert a.recent_uids == {1}
    b = storage.open("INBOX")
    assert b.recent_uids == frozenset()
    assert os.listdir(tmp_path / "home/alice/Maildir/new") == []
    assert os.listdir(tmp_path / "home/alice/Maildir/cur")[0].endswith(":2,")


def test_unknown_flag_letters_are_kept():
    assert info_from_flags(frozenset({"\\Seen"}), {}, "PT") == "PS"
    assert info_from_flags(frozenset(), {}, "P,xyz") == "P,xyz"


def test_pop3_sizes_trust_w_in_the_file_name(tmp_path):
    """As Dovecot: a wrong W= is reported as is (see dovecot-notes)."""
    storage = make_storage(tmp_path, "maildir")
    md = tmp_path / "home/alice/Maildir"
    (md / "cur" / "1700000000.M1P1.host,S=17,W=999:2,S").write_bytes(MSG)
    (md / "cur" / "1700000001.M1P1.host:2,").write_bytes(b"a\nb\r\nc\n")
    box = storage.open("INBOX")
    assert [(m.virtual_size, m.physical_size) for m in box.messages] == [(999, 17), (9, 7)]
    assert get_size("x,S=5,W=7:2,S", "W") == 7 and get_size("x,S=5:2,", "W") is None


def test_bare_lf_vs_crlf_sizes():
    assert virtual_size(b"a\nb\n") == 6
    assert virtual_size(b"a\r\nb\r\n") == 6
    assert virtual_size(b"a\r\nb\n") == 6
    assert virtual_size(b"no newline") == 10


def test_uidlist_reads_dovecot_extension_fields():
    text = ("3 V1700000000 N5 G0123456789abcdef0123456789abcdef\n"
            "1 GABC W120 :1700.M1P1.host,S=100\n"
            "4 :1700.M2P1.host\n")
    ul = Uidlist.parse(text)
    assert [(r.uid, r.base, r.ext_value("W")) for r in ul.records] == [
        (1, "1700.M1P1.host,S=100", "120"), (4, "1700.M2P1.host", None)]
    assert ul.next_uid == 5
    assert Uidlist.parse(ul.format()).records == ul.records


def test_mbox_layout(tmp_path):
    storage = make_storage(tmp_path, "mbox")
    deliver(storage, b"Subject: a\n\nFrom the start\nbody\n", flags=["\\Answered", "kw"])
    deliver(storage, b"Subject: b\nX-UID: 999\nStatus: RO\n\nsecond\n")
    text = (tmp_path / "var/mail/alice").read_bytes()
    assert re.match(rb"From alice@\S+  \w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4}\n", text)
    assert re.search(rb"\nX-IMAPbase: \d+ 0000000001 kw\nX-UID: 1\n", text)
    assert b"\nX-Status: A\nX-Keywords: kw\n" in text
    assert b"\n>From the start\n" in text
    assert text.count(b"X-UID: 999") == 0  # untrusted headers of a delivered mail dropped
    box = storage.open("INBOX")
    assert [m.uid for m in box.messages] == [1, 2]
    assert b"X-UID" not in box.read(2) and b"Status" not in box.read(1)


def test_mbox_external_delivery_gets_a_uid(tmp_path):
    storage = make_storage(tmp_path, "mbox")
    deliver(storage, MSG)
    with open(tmp_path / "var/mail/alice", "ab") as f:  # as a local delivery agent would
        f.write(b"From someone@example.org  Mon Jan  1 10:00:00 2024\nSubject: ext\n"
                b"X-UID: 77\n\nhello\n\n")
    box = storage.open("INBOX")
    assert [m.uid for m in box.messages] == [1, 2]
    assert box.messages[1].internaldate.year == 2024
    assert box.uidnext == 3


def test_mbox_torn_tail_is_hidden_and_cut(tmp_path):
    storage = make_storage(tmp_path, "mbox")
    deliver(storage, MSG)
    path = tmp_path / "var/mail/alice"
    good = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b"From alice@x  Mon Jan  1 10:00:00 2024\nSubject: cut\nContent-Length: 500\n"
                b"\nonly a few bytes")
    box = storage.open("INBOX", readonly=True)
    assert [m.uid for m in box.messages] == [1]
    deliver(storage, MSG)
    assert path.read_bytes().startswith(good)
    assert b"only a few bytes" not in path.read_bytes()
    assert [m.uid for m in storage.open("INBOX").messages] == [1, 2]


def test_mbox_emptied_folder_keeps_its_next_uid(tmp_path):
    storage = make_storage(tmp_path, "mbox")
    deliver(storage, MSG, flags=["\\Deleted"])
    box = storage.open("INBOX")
    assert box.expunge() == [1]
    text = (tmp_path / "var/mail/alice").read_bytes()
    assert b"X-IMAP: " in text and b"FOLDER INTERNAL DATA" in text
    assert storage.open("INBOX").messages == ()
    assert deliver(storage, MSG) == 2
    assert b"FOLDER INTERNAL DATA" not in (tmp_path / "var/mail/alice").read_bytes()


def test_mbox_writer_waits_for_a_foreign_dotlock(tmp_path):
    storage = make_storage(tmp_path, "mbox")
    deliver(storage, MSG)
    lock = tmp_path / "var/mail/alice.lock"
    # A live foreign holder: our parent process's pid (alive, not us).
    lock.write_text(f"{os.getppid()}:{os.uname().nodename}")
    done = threading.Event()

    def writer():
        deliver(storage, MSG)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.3)
    assert not done.is_set()
    lock.unlink()
    t.join(10)
    assert done.is_set()


def test_uidlist_lock_of_a_dead_process_is_overridden(tmp_path):
    storage = make_storage(tmp_path, "maildir")
    lock = tmp_path / "home/alice/Maildir/dovecot-uidlist.lock"
    lock.write_text(f"999999:{os.uname().nodename}")
    start = time.monotonic()
    deliver(storage, MSG)
    assert time.monotonic() - start < 5
