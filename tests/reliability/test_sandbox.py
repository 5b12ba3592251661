"""Sandbox: a corpus of hostile user and mailbox names, and not one escapes the lab root.

``hostile_names.json`` holds the corpus (each name with why it is there). Every mailbox
name goes through CREATE, SELECT, APPEND, STATUS, LIST, RENAME (both ways) and DELETE
as alice, with symbolic links planted in her Maildir and a home directory that point
outside the root; every user name goes through ``Lab.add_user``, ``Lab.deliver``, IMAP
LOGIN and POP3 USER/PASS, and whatever logs in lists and reads its mail. Afterwards:
nothing outside the root changed, nothing in bob's home changed, no reply carried bob's
mail or the outside files, and the server answered every command. For the mailbox
names the reply classes (OK/NO/BAD) are compared with real Dovecot's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab, LabError
from labserver.storage.model import StorageError
from labserver.storage.names import mutf7_decode
from tests.dovecot_harness import real_dovecot
from tests.tools import require_program

from .wire import RawImap, RawPop3

CORPUS = json.loads(Path(__file__).with_name("hostile_names.json").read_text())
MAILBOXES = [e["name"] for e in CORPUS["mailboxes"]]
USERS = [e["name"] for e in CORPUS["users"]]
SECRETS = (b"BOB-SECRET", b"OUTSIDE-SECRET")
CANARY = "/tmp/lab-hostile-escape-canary"
MESSAGE = b"Subject: hostile\r\n\r\nhello\r\n"
# Where the lab answers differently from Dovecot 2.3 on purpose (labserver/storage/
# names.py, docs/differences.md): it refuses control characters and the LIST wildcards
# in every name, and modified UTF-7 that does not encode back to itself, so a command
# that Dovecot would run with such a name is NO in the lab.
STRICTER = ("\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\x08", "%", "*")


def stricter(name: str) -> bool:
    if any(ch in name for ch in STRICTER):
        return True
    try:
        mutf7_decode(name)
    except ValueError as exc:
        return "non-canonical" in str(exc)
    return False


def test_the_corpus_is_large_and_varied() -> None:
    assert len(MAILBOXES) + len(USERS) >= 100
    assert len(set(MAILBOXES)) == len(MAILBOXES) and len(set(USERS)) == len(USERS)
    for needle in ("..", "/", "\x00", "~", "%", "&", "tmp", "cur"):
        assert any(needle in n for n in MAILBOXES + USERS), needle


def snapshot(top: Path, skip: Path | None = None) -> dict[str, tuple[int, int, bool]]:
    """Every entry under ``top`` (not following links): size, mtime, is-link."""
    out = {}
    for current, dirs, files in os.walk(top):
        if skip is not None and Path(current) == skip:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = Path(current, name)
            if skip is not None and p == skip:
                continue
            st = p.lstat()
            out[str(p)] = (st.st_size, st.st_mtime_ns, p.is_symlink())
    return out


def escapes(root: Path, planted: set[Path]) -> list[str]:
    """Entries in the root that lead outside it, other than the links planted on purpose."""
    bad = []
    real_root = os.path.realpath(root)
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(current, name)
            if p in planted:
                continue
            real = os.path.realpath(p)
            if not (real == real_root or real.startswith(real_root + os.sep)):
                bad.append(f"{p} -> {real}")
    return bad


class World:
    """A lab with alice and bob, and an outside world next to its root."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.root = parent / "lab"
        self.outside = parent / "outside"
        for sub in ("cur", "new", "tmp"):
            (self.outside / sub).mkdir(parents=True)
        (self.outside / "new" / "1.M1P1.outside").write_bytes(
            b"Subject: OUTSIDE-SECRET\n\nnot the lab's\n")
        (self.outside / "secret.txt").write_text("OUTSIDE-SECRET\n")
        self.lab = Lab(DEFAULT_CONFIG + "auth_failure_delay = 0\n"
                       "mail_max_userip_connections = 1000\n", root=self.root,
                       ports="ephemeral")
        self.lab.add_user("alice", "secret", scheme="PLAIN")
        self.lab.add_user("bob", "secret", scheme="PLAIN")
        self.lab.add_user("mallory", "secret", scheme="PLAIN")
        self.lab.deliver("alice", b"Subject: alice's own\r\n\r\nmine\r\n")
        self.lab.deliver("bob", b"Subject: BOB-SECRET\r\n\r\nbob's mail\r\n")
        self.lab.storage("alice").create("Archive")
        maildir = self.root / "home" / "alice" / "Maildir"
        mallory = self.root / "home" / "mallory"
        os.rmdir(mallory)
        self.planted = {maildir / ".Evil", maildir / ".Rel", mallory}
        os.symlink(self.outside, maildir / ".Evil")
        os.symlink("../../../../outside", maildir / ".Rel")
        os.symlink(self.outside, mallory)
        self.outside_before = snapshot(parent, skip=self.root)
        self.bob = self.root / "home" / "bob"
        self.bob_before = snapshot(self.bob)
        self.lab.start()
        self.heard = b""
        self.mailbox_results: dict[str, list[str]] | None = None

    def check(self) -> None:
        assert not os.path.lexists(CANARY), "a name created a file in the real /tmp"
        assert snapshot(self.parent, skip=self.root) == self.outside_before
        assert snapshot(self.bob) == self.bob_before
        assert escapes(self.root, self.planted) == []
        for secret in SECRETS:
            assert secret not in self.heard, f"a reply carried {secret.decode()}"
        crashed = self.lab.logs("Panic") + self.lab.logs("Internal error")
        assert crashed == []


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    parent = Path(tempfile.mkdtemp(prefix="lab-sandbox-"))
    w = World(parent)
    yield w
    w.lab.cleanup()
    shutil.rmtree(parent, ignore_errors=True)


def mailbox_session(port: int, user: str, password: str, name: str, index: int
                    ) -> tuple[list[str], bytes]:
    """The reply class of each command with ``name``, and everything the server said."""
    raw = name.encode("utf-8")
    c = RawImap(port)
    try:
        c.command("LOGIN", user.encode(), password.encode())
        c.command("CREATE", b"Archive")
        classes = [c.command("CREATE", raw)[0], c.command("SELECT", raw)[0],
                   # Not selected any more: Dovecot ends a session whose selected
                   # mailbox is deleted or renamed (with BYE), which is not the point here.
                   c.command("UNSELECT")[0] and c.command("APPEND", raw, MESSAGE)[0],
                   c.command("STATUS", raw, "(MESSAGES UIDNEXT)")[0],
                   c.command("LIST", b"", raw)[0],
                   c.command("RENAME", raw, f"Renamed{index}".encode())[0],
                   c.command("RENAME", f"Renamed{index}".encode(), raw)[0],
                   c.command("DELETE", raw)[0],
                   c.command("RENAME", b"Archive", raw)[0],
                   c.command("RENAME", raw, b"Archive")[0]]
        c.command("DELETE", f"Renamed{index}".encode())
        c.command("LOGOUT")
    finally:
        c.close()
    return classes, c.transcript


COMMANDS = ("CREATE", "SELECT", "APPEND", "STATUS", "LIST", "RENAME from", "RENAME to",
            "DELETE", "RENAME Archive to", "RENAME back")


def lab_results(world: World) -> dict[str, list[str]]:
    """Every mailbox name's session as alice, once per module."""
    if world.mailbox_results is None:
        port = world.lab.port("imap")
        world.mailbox_results = {}
        for i, name in enumerate(MAILBOXES):
            classes, said = mailbox_session(port, "alice", "secret", name, i)
            world.heard += said
            world.mailbox_results[name] = classes
    return world.mailbox_results


def test_hostile_mailbox_names_stay_inside(world: World) -> None:
    for name, classes in lab_results(world).items():
        assert "CLOSED" not in classes and "BYE" not in classes, (name, classes)
    # The planted links: listed perhaps, but never opened.
    for name in ("Evil", "Rel"):
        classes, said = mailbox_session(world.lab.port("imap"), "alice", "secret", name, 999)
        world.heard += said
        assert classes[1] == "NO", (name, classes)
    world.check()


def _lab_user_actions(lab: Lab, name: str) -> list[str]:
    out = []
    try:
        lab.add_user(name, "pw", scheme="PLAIN")
        out.append("added")
    except LabError:
        out.append("refused")
    try:
        lab.deliver(name, MESSAGE)
        out.append("delivered")
    except (LabError, StorageError, OSError):  # OSError: a name too long for a directory
        out.append("refused")
    return out


def test_hostile_user_names_stay_inside(world: World) -> None:
    imap_port, pop3_port = world.lab.port("imap"), world.lab.port("pop3")
    logged_in = []
    for name in USERS:
        _lab_user_actions(world.lab, name)
        raw = name.encode("utf-8")
        c = RawImap(imap_port)
        try:
            status, said = c.command("LOGIN", raw, b"pw")
            # Dovecot's answer when a user's mail cannot be opened (a home outside the
            # root, a name the storage refuses): the login succeeds, then * BYE.
            first, more = c.command("SELECT", b"INBOX") if status == "OK" else ("", b"")
            said += more
            if status == "OK" and first not in ("BYE", "CLOSED"):
                logged_in.append(name)
                assert first in ("OK", "NO"), (name, more)
                for cmd in (("APPEND", b"INBOX", MESSAGE),
                            ("FETCH", "1:*", "BODY[]"), ("LIST", b"", b"*")):
                    result, more = c.command(*cmd)
                    said += more
                    assert result in ("OK", "NO"), (name, cmd, more)
            world.heard += said + c.transcript
        finally:
            c.close()
        p = RawPop3(pop3_port)
        try:
            if p.command(b"USER " + raw)[0] == "+OK" and p.command(b"PASS pw")[0] == "+OK":
                status, reply = p.command(b"STAT")
                if status in ("-ERR", "CLOSED"):
                    # As Dovecot: logged in, but the mail cannot be opened.
                    assert status == "CLOSED" or b"[SYS/TEMP]" in reply, (name, reply)
                    continue
                p.sock.sendall(b"RETR 1\r\nRETR 2\r\nQUIT\r\n")
                p.sock.settimeout(10)
                while b"+OK Logging out" not in p.buf:
                    chunk = p.sock.recv(65536)
                    if not chunk:
                        break
                    p.buf += chunk
                world.heard += p.buf
        finally:
            p.close()
    assert "alice" not in logged_in and "bob" not in logged_in
    # mallory's home is a link planted to a folder outside the root.
    c = RawImap(imap_port)
    try:
        for cmd in (("LOGIN", b"mallory", b"secret"), ("SELECT", b"INBOX"),
                    ("FETCH", "1:*", "BODY[]"), ("LIST", b"", b"*")):
            c.command(*cmd)
    finally:
        c.close()
    world.heard += c.transcript
    world.check()


def test_mailbox_names_answer_as_dovecot_does(world: World) -> None:
    """Reply classes of the same sessions against real Dovecot; the lab may only be
    stricter where it says so (STRICTER), never more permissive."""
    require_program("dovecot", "dovecot-core")
    ours = lab_results(world)
    differences = []
    with real_dovecot(extra_conf="mail_max_userip_connections = 1000\n") as dc:
        for i, name in enumerate(MAILBOXES):
            theirs, _ = mailbox_session(dc.imap_port, dc.user, dc.password, name, i)
            for cmd, a, b in zip(COMMANDS, ours[name], theirs, strict=True):
                if a != b:
                    differences.append((name, cmd, a, b))
    unexplained = [d for d in differences
                   if not (d[2] == "NO" and stricter(d[0]))]
    for d in unexplained:
        print(f"{d[0]!r:40} {d[1]:<18} lab {d[2]:<4} dovecot {d[3]}")
    assert unexplained == []
