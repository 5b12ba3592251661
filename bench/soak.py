"""Soak: many IMAP and POP3 clients on shared mailboxes, then a full account of every message.

Usage: ``python bench/soak.py [--clients 50] [--seconds 300] [--root DIR]`` (``make soak``);
``tests/reliability/test_soak.py`` runs the same with 20 clients for 20 seconds.

The lab runs as its own process (``labserver serve``). Two users each share their
INBOX among many clients: IMAP clients (imaplib) APPEND, SELECT, FETCH, STORE flags,
EXPUNGE (``UID EXPUNGE`` of one message) and COPY to ``Archive``; POP3 clients (poplib)
STAT, LIST, UIDL, RETR and DELE, then QUIT; an MDA thread delivers with ``Lab.deliver``.
A ledger records what the server acknowledged: an ``APPENDUID``, a delivery's UID, a
``COPYUID``, a ``UID EXPUNGE`` answered OK, a POP3 ``QUIT`` answered ``+OK`` after
``DELE``. An operation whose answer never came (a broken connection) makes its
message *uncertain*: present or absent are both right.

Afterwards: every acknowledged message is there once, with the UID it was given and
its bytes intact; nothing deleted came back; no UID was handed out twice in a folder;
``dovecot-uidlist`` is consistent (``bench/mailcheck.py``); and real Dovecot's
``doveadm fetch`` sees the same UIDs and subjects without complaint.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import poplib
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import mailcheck  # noqa: E402
from bench.labproc import LabProcess, prepare  # noqa: E402

USERS = {"alice": "secret", "bob": "secret"}
FOLDERS = ("INBOX", "Archive")
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
COPYUID = re.compile(rb"\[COPYUID \d+ \d+ (\d+)\]")
SUBJECT = re.compile(rb"^Subject: (\S+)\r?$", re.M)


def message(marker: str) -> bytes:
    """The one message a marker stands for: its size varies, its bytes are known."""
    lines = 1 + zlib.crc32(marker.encode()) % 60
    head = (f"From: soak@example.com\r\nTo: shared@example.com\r\nSubject: {marker}\r\n"
            f"Message-ID: <{marker}@soak.example>\r\n\r\n")
    return (head + f"line of {marker}\r\n" * lines).encode()


def marker_of(raw: bytes) -> str | None:
    m = SUBJECT.search(raw)
    return m.group(1).decode() if m else None


@dataclass
class Ledger:
    """What the server acknowledged, per (user, folder); shared by all client threads."""

    present: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    uid_of: dict[tuple[str, str, str], int] = field(default_factory=dict)
    given: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    uncertain: set[tuple[str, str, str]] = field(default_factory=set)
    removed: set[tuple[str, str, str]] = field(default_factory=set)
    ops: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def new_marker(self, who: str) -> str:
        with self.lock:
            self._next += 1
            return f"{who}-{self._next}"

    def added(self, user: str, folder: str, marker: str, uid: int) -> None:
        with self.lock:
            self.present.setdefault((user, folder), Counter())[marker] += 1
            self.uid_of[(user, folder, marker)] = uid
            self.given.setdefault((user, folder), []).append(uid)

    def gone(self, user: str, folder: str, marker: str) -> None:
        with self.lock:
            self.present.get((user, folder), Counter()).pop(marker, None)
            self.removed.add((user, folder, marker))

    def unsure(self, user: str, folder: str, marker: str) -> None:
        with self.lock:
            self.uncertain.add((user, folder, marker))

    def pick(self, rnd: random.Random, user: str) -> tuple[str, int] | None:
        with self.lock:
            box = self.present.get((user, "INBOX"))
            if not box:
                return None
            marker = rnd.choice(list(box))
            return marker, self.uid_of[(user, "INBOX", marker)]

    def count(self, op: str) -> None:
        with self.lock:
            self.ops[op] += 1


def _answered(typ: str, data: list, ledger: Ledger, op: str) -> bool:
    """True for OK; False for ``NO [EXPUNGEISSUED]``, Dovecot's answer when another
    session expunged the message first (a race, counted); anything else fails."""
    if typ == "OK":
        ledger.count(op)
        return True
    if typ == "NO" and b"[EXPUNGEISSUED]" in (data[-1] or b""):
        ledger.count(f"{op}: NO [EXPUNGEISSUED] (expunged meanwhile)")
        return False
    raise AssertionError(f"{op} answered {typ} {data}")


def _imap_session(port: int, user: str, rnd: random.Random, ledger: Ledger,
                  stop_at: float) -> None:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=120)
    imap.login(user, USERS[user])
    typ, _ = imap.select("INBOX")
    assert typ == "OK"
    for _ in range(rnd.randint(5, 30)):
        if time.monotonic() > stop_at:
            break
        action = rnd.random()
        picked = ledger.pick(rnd, user)
        if action < 0.3 or picked is None:
            marker = ledger.new_marker(f"{user}-imap")
            ledger.unsure(user, "INBOX", marker)
            typ, data = imap.append("INBOX", None, None, message(marker))
            m = APPENDUID.search(data[0] or b"")
            if typ != "OK" or m is None:
                raise AssertionError(f"APPEND answered {typ} {data}")
            ledger.added(user, "INBOX", marker, int(m.group(1)))
            ledger.count("imap APPEND")
            continue
        marker, uid = picked
        if action < 0.5:
            typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
            if _answered(typ, data, ledger, "imap FETCH"):
                for item in data:
                    if isinstance(item, tuple) and item[1] != message(marker):
                        ledger.corrupt.append(f"{user} INBOX uid {uid}: not {marker}'s bytes")
        elif action < 0.7:
            flag = rnd.choice([r"\Seen", r"\Flagged", r"\Answered", "$Label1"])
            typ, data = imap.uid("STORE", str(uid), rnd.choice(["+FLAGS", "-FLAGS"]),
                                 f"({flag})")
            _answered(typ, data, ledger, "imap STORE")
        elif action < 0.85:
            ledger.unsure(user, "INBOX", marker)
            typ, data = imap.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
            if not _answered(typ, data, ledger, "imap STORE \\Deleted"):
                continue
            typ, data = imap.uid("EXPUNGE", str(uid))
            assert typ == "OK", data
            ledger.gone(user, "INBOX", marker)
            ledger.count("imap UID EXPUNGE")
        elif action < 0.97:
            ledger.unsure(user, "Archive", marker)
            typ, data = imap.uid("COPY", str(uid), "Archive")
            m = COPYUID.search(data[-1] or b"")
            if _answered(typ, data, ledger, "imap COPY") and m is not None:
                ledger.added(user, "Archive", marker, int(m.group(1)))
        else:
            typ, _ = imap.select(rnd.choice(FOLDERS))
            assert typ == "OK"
            typ, _ = imap.select("INBOX")
            assert typ == "OK"
            ledger.count("imap SELECT")
    imap.logout()


def _pop3_session(port: int, user: str, rnd: random.Random, ledger: Ledger) -> None:
    pop = poplib.POP3("127.0.0.1", port, timeout=120)
    pop.user(user)
    pop.pass_(USERS[user])
    count, _ = pop.stat()
    pop.list()
    pop.uidl()
    ledger.count("pop3 STAT+LIST+UIDL")
    doomed: list[str] = []
    for num in rnd.sample(range(1, count + 1), min(count, rnd.randint(1, 4))):
        try:
            _, lines, _ = pop.retr(num)
        except poplib.error_proto:
            ledger.count("pop3 RETR of a message expunged meanwhile")
            continue
        raw = b"\r\n".join(lines) + b"\r\n"
        marker = marker_of(raw)
        ledger.count("pop3 RETR")
        if marker is None or raw != message(marker):
            ledger.corrupt.append(f"{user} POP3 message {num}: bytes do not match {marker}")
            continue
        if rnd.random() < 0.5:
            pop.dele(num)
            ledger.count("pop3 DELE")
            ledger.unsure(user, "INBOX", marker)
            doomed.append(marker)
    reply = pop.quit()
    assert reply.startswith(b"+OK"), reply
    for marker in doomed:
        ledger.gone(user, "INBOX", marker)


def _client(index: int, ports: dict[str, int], ledger: Ledger, stop_at: float) -> None:
    rnd = random.Random(index)
    user = list(USERS)[index % len(USERS)]
    pop3 = index % 3 == 2
    while time.monotonic() < stop_at:
        try:
            if pop3:
                _pop3_session(ports["pop3"], user, rnd, ledger)
            else:
                _imap_session(ports["imap"], user, rnd, ledger, stop_at)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            with ledger.lock:
                ledger.errors.append(f"client {index} ({user}): {exc!r}")
            time.sleep(0.5)
        with ledger.lock:
            ledger.sessions += 1


def _mda(lab, ledger: Ledger, stop_at: float) -> None:  # noqa: ANN001 - an unstarted Lab
    rnd = random.Random(0)
    while time.monotonic() < stop_at:
        user = rnd.choice(list(USERS))
        marker = ledger.new_marker(f"{user}-mda")
        ledger.unsure(user, "INBOX", marker)
        uid = lab.deliver(user, message(marker))
        ledger.added(user, "INBOX", marker, uid)
        ledger.count("deliver")
        time.sleep(0.05)


@dataclass
class SoakReport:
    clients: int
    seconds: float
    sessions: int
    ops: Counter[str]
    errors: list[str]
    corrupt: list[str]
    lost: list[str]
    duplicated: list[str]
    resurrected: list[str]
    uid_changed: list[str]
    uid_reused: list[str]
    uidlist: list[str]
    dovecot: list[str]
    messages_left: int
    max_rss_mb: float
    dovecot_checked: bool

    @property
    def problems(self) -> list[str]:
        return (self.errors + self.corrupt + self.lost + self.duplicated + self.resurrected
                + self.uid_changed + self.uid_reused + self.uidlist + self.dovecot)

    def text(self) -> str:
        acked = sum(n for op, n in self.ops.items() if "meanwhile" not in op)
        rows = [f"soak: {self.clients} clients for {self.seconds:.0f} s, {self.sessions} "
                f"sessions, {acked} acknowledged operations, server RSS max "
                f"{self.max_rss_mb:.0f} MB"]
        rows += [f"  {op:<52} {n:>8}" for op, n in sorted(self.ops.items())]
        rows.append(f"  messages left {self.messages_left}; lost {len(self.lost)}, duplicated "
                    f"{len(self.duplicated)}, deleted but back {len(self.resurrected)}, "
                    f"corrupt {len(self.corrupt)}, UID changed {len(self.uid_changed)}, "
                    f"UID reused {len(self.uid_reused)}, uidlist problems "
                    f"{len(self.uidlist)}, client errors {len(self.errors)}")
        rows.append("  real Dovecot (doveadm fetch): " + (
            ("same UIDs and subjects, no complaint" if not self.dovecot else
             f"{len(self.dovecot)} problems") if self.dovecot_checked else "not installed"))
        rows += [f"  ! {p}" for p in self.problems[:30]]
        return "\n".join(rows)


def _final_view(port: int, user: str, folder: str) -> list[tuple[int, str | None, bytes]]:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=300)
    imap.login(user, USERS[user])
    imap.select(folder, readonly=True)
    typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    imap.logout()
    out = []
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            out.append((uid, marker_of(item[1]), item[1]))
    return out


def account(root: Path, port: int, ledger: Ledger,
            body: Callable[[str], bytes] = message) -> dict[str, list]:
    """Compare what the server holds with the ledger; the problems found, by kind.

    ``body`` gives the bytes a marker's message must have."""
    found: dict[str, list] = {k: [] for k in ("lost", "duplicated", "resurrected",
                                              "uid_changed", "uid_reused", "corrupt",
                                              "views")}
    for user in USERS:
        for folder in FOLDERS:
            view = _final_view(port, user, folder)
            found["views"].append((user, folder, view))
            uids = [u for u, _, _ in view]
            if uids != sorted(set(uids)):
                found["uid_changed"].append(f"{user} {folder}: UIDs not ascending")
            seen = Counter(m for _, m, _ in view)
            expected = ledger.present.get((user, folder), Counter())
            for marker, n in expected.items():
                if seen[marker] < n and (user, folder, marker) not in ledger.uncertain:
                    found["lost"].append(f"{user} {folder}: {marker}")
            for marker, n in seen.items():
                if marker is None:
                    found["corrupt"].append(f"{user} {folder}: a message without subject")
                    continue
                allowed = expected.get(marker, 0)
                if (user, folder, marker) in ledger.uncertain:
                    allowed = max(allowed, 1 if folder == "INBOX" else n)
                if n > allowed:
                    kind = "resurrected" if (user, folder, marker) in ledger.removed \
                        else "duplicated"
                    found[kind].append(f"{user} {folder}: {marker} x{n}")
            for uid, marker, raw in view:
                if marker is not None and raw != body(marker):
                    found["corrupt"].append(f"{user} {folder} uid {uid}: bytes differ")
                want = ledger.uid_of.get((user, folder, marker or ""))
                if folder == "INBOX" and want is not None and want != uid:
                    found["uid_changed"].append(f"{user} INBOX {marker}: uid {want} -> {uid}")
            given = ledger.given.get((user, folder), [])
            dup = [u for u, n in Counter(given).items() if n > 1]
            if dup:
                found["uid_reused"].append(f"{user} {folder}: UIDs given twice {dup[:10]}")
    return found


def run(clients: int, seconds: float, root: Path) -> SoakReport:
    lab = prepare(root, USERS, folders=("Archive",))
    server = LabProcess(root)
    ports = server.start()
    ledger = Ledger()
    stop_at = time.monotonic() + seconds
    threads = [threading.Thread(target=_client, args=(i, ports, ledger, stop_at), daemon=True)
               for i in range(clients)]
    threads.append(threading.Thread(target=_mda, args=(lab, ledger, stop_at), daemon=True))
    for t in threads:
        t.start()
    max_rss = 0
    while any(t.is_alive() for t in threads):
        max_rss = max(max_rss, server.rss_kb())
        time.sleep(0.5)
        if time.monotonic() > stop_at + 300:
            ledger.errors.append("clients still busy 300 s after the end")
            break
    try:
        found = account(root, ports["imap"], ledger)
    finally:
        server.stop()
    uidlist: list[str] = []
    dovecot: list[str] = []
    checked = mailcheck.doveadm_binary() is not None
    for user, folder, view in found["views"]:
        home = root / "home" / user
        uidlist += mailcheck.uidlist_problems(mailcheck.folder_path(home / "Maildir", folder))
        if checked:
            seen, complaints = mailcheck.dovecot_view(home, folder)
            dovecot += [f"{user} {folder}: doveadm: {c}" for c in complaints]
            if seen != [(u, m) for u, m, _ in view]:
                dovecot.append(f"{user} {folder}: doveadm sees other UIDs or subjects")
    left = sum(len(v) for _, _, v in found["views"])
    return SoakReport(clients, seconds, ledger.sessions, ledger.ops, ledger.errors,
                      ledger.corrupt + found["corrupt"], found["lost"], found["duplicated"],
                      found["resurrected"], found["uid_changed"], found["uid_reused"],
                      uidlist, dovecot, left, max_rss / 1024, checked)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--root", type=Path, help="lab directory (default: temporary, removed)")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="labsoak-")) / "lab"
    os.chmod(root.parent, 0o755)
    try:
        report = run(args.clients, args.seconds, root)
    finally:
        if args.root is None:
            shutil.rmtree(root.parent, ignore_errors=True)
    print(report.text())
    return 1 if report.problems else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
