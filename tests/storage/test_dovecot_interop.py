"""Real Dovecot and the lab share mailboxes: each reads what the other wrote.

Debian's Dovecot 2.3 ``doveadm`` is run on a temporary configuration without any
server: ``USER`` and ``HOME`` name the mail user (no userdb lookup), and
``mail_uid``/``mail_gid`` say whose files they are (65534 when the tests run as
root, since Dovecot refuses mail access as root). Skipped when doveadm is not
installed, a failure when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from labserver.config.resolve import PathResolver
from labserver.storage import Namespace, deliver, parse_location, storage_for_location
from tests.tools import require_program

LOCATIONS = {"maildir": "maildir:~/Maildir", "mbox": "mbox:~/mail:INBOX=~/spool/alice"}


def _doveadm() -> str:
    return require_program("doveadm", "dovecot-core")


class Dovecot:
    def __init__(self, tmp_path, kind: str) -> None:
        self.binary = _doveadm()
        self.home = tmp_path / "home" / "alice"
        self.home.mkdir(parents=True)
        for d in ("run", "state"):
            (tmp_path / d).mkdir()
        self.root = os.geteuid() == 0
        uid, gid = (65534, 65534) if self.root else (os.geteuid(), os.getegid())
        self.uid, self.gid = uid, gid
        self.conf = tmp_path / "dovecot.conf"
        self.conf.write_text(
            f"base_dir = {tmp_path}/run\nstate_dir = {tmp_path}/state\n"
            f"log_path = {tmp_path}/dovecot.log\nssl = no\n"
            f"mail_location = {LOCATIONS[kind]}\n"
            f"mail_uid = {uid}\nmail_gid = {gid}\nfirst_valid_uid = 1\nfirst_valid_gid = 1\n"
            "namespace inbox {\n  inbox = yes\n  separator = /\n}\n")
        loc = parse_location(LOCATIONS[kind], user="alice", home=str(self.home))
        self.storage = storage_for_location(loc, PathResolver(None), Namespace(separator="/"),
                                            user="alice")
        self.storage.ensure_inbox()

    def _own(self) -> None:
        if self.root:
            for d, dirs, files in os.walk(self.home):
                for name in [d, *(os.path.join(d, f) for f in dirs + files)]:
                    os.lchown(name, self.uid, self.gid)

    def run(self, *args: str, stdin: bytes | None = None) -> str:
        self._own()
        env = dict(os.environ, USER="alice", HOME=str(self.home))
        proc = subprocess.run([self.binary, "-c", str(self.conf), *args], input=stdin,
                              capture_output=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()
        return proc.stdout.decode()

    def table(self, *args: str) -> list[dict[str, str]]:
        lines = self.run("-f", "tab", *args).splitlines()
        head = lines[0].split("\t")
        return [dict(zip(head, line.split("\t"), strict=True)) for line in lines[1:]]

    def fetch(self, mailbox: str) -> list[tuple[int, frozenset[str], int]]:
        rows = self.table("fetch", "uid flags size.virtual", "mailbox", mailbox, "all")
        return [(int(r["uid"]), frozenset(r["flags"].split()) - {"\\Recent"},
                 int(r["size.virtual"])) for r in rows]


@pytest.fixture
def work_dir(tmp_path):
    """A directory the unprivileged mail user can reach (pytest's is 0700 for root)."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    path = tempfile.mkdtemp(prefix="lab-dovecot-")
    os.chmod(path, 0o755)
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _lab_view(storage, mailbox: str):
    box = storage.open(mailbox, readonly=True)
    return [(m.uid, m.flags, m.virtual_size) for m in box.messages], box


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_dovecot_reads_what_the_lab_wrote(work_dir, kind):
    dc = Dovecot(work_dir, kind)
    st = dc.storage
    deliver(st, b"From: a@example.org\nSubject: one\n\nfirst\n")
    deliver(st, b"Subject: two\n\nFrom here on\nsecond\n", flags=["\\Seen", "\\Flagged", "work"])
    deliver(st, b"Subject: three\n\nthird\n", flags=["\\Answered", "\\Draft"])
    st.create("Archive/2024")
    deliver(st, b"Subject: old\n\narchived\n", "Archive/2024", flags=["\\Seen"])
    box = st.open("INBOX")
    box.set_flags([1], ["\\Deleted", "later"], "add")
    lab_inbox, lab_box = _lab_view(st, "INBOX")
    lab_archive, _ = _lab_view(st, "Archive/2024")
    assert dc.fetch("INBOX") == lab_inbox
    assert dc.fetch("Archive/2024") == lab_archive
    status = dc.table("mailbox", "status", "uidvalidity uidnext messages", "INBOX")[0]
    assert (int(status["uidvalidity"]), int(status["uidnext"]), int(status["messages"])) == (
        lab_box.uidvalidity, lab_box.uidnext, 3)
    assert {"INBOX", "Archive/2024"} <= set(dc.run("mailbox", "list").split())
    text = dc.run("fetch", "text", "mailbox", "INBOX", "uid", "2")
    assert "Subject: two" in text


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_lab_reads_what_dovecot_wrote(work_dir, kind):
    dc = Dovecot(work_dir, kind)
    for i in range(3):
        dc.run("save", "-m", "INBOX", stdin=f"Subject: dc{i}\n\nbody {i}\nFrom me\n".encode())
    dc.run("flags", "add", "\\Answered kw2", "mailbox", "INBOX", "uid", "2")
    dc.run("flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "3")
    dc.run("expunge", "mailbox", "INBOX", "uid", "1")
    dc.run("mailbox", "create", "Sent")
    dc.run("save", "-m", "Sent", stdin=b"Subject: sent\n\nx\n")
    expected = dc.fetch("INBOX")
    assert [u for u, _, _ in expected] == [2, 3]
    lab, box = _lab_view(dc.storage, "INBOX")
    assert lab == expected
    assert box.read(2).startswith(b"Subject: dc1\r\n")
    assert b"From me\r\n" in box.read(2)
    assert _lab_view(dc.storage, "Sent")[0] == dc.fetch("Sent")
    # and the lab continues the UID sequence Dovecot started
    uid = deliver(dc.storage, b"Subject: lab\n\nnext\n")
    assert uid == 4
    assert [u for u, _, _ in dc.fetch("INBOX")] == [2, 3, 4]
