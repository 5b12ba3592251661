"""Crash: SIGKILL the lab server at random moments of APPEND, STORE, EXPUNGE and POP3
DELE/QUIT, restart it, and account for every message.

Usage: ``python bench/crash.py [--kills 200] [--format maildir|mbox|both] [--root DIR]``
(``make crash``); ``tests/reliability/test_crash.py`` runs a bounded form.

Each round starts ``labserver serve`` on the same lab directory, lets IMAP clients
append (some messages large, so that kills land inside the write), flag and expunge,
and POP3 clients DELE and QUIT, and kills the server with SIGKILL after a random
delay. Half of the rounds then plant a left-over lock of the dead server's pid
(``dovecot-uidlist.lock`` for Maildir, ``<mbox>.lock`` for mbox), as a kill while it
was held leaves one. After the restart:

- every acknowledged message is there, with its UID and its bytes (``bench/soak.py``'s
  ledger and account); a message whose APPEND was cut by the kill may be there or not,
  but never in part; nothing acknowledged as deleted is back;
- every ``\\Flagged`` acknowledged by a STORE is still set;
- ``dovecot-uidlist`` is consistent (Maildir), and LIST shows only the real folders;
- the restarted server answers a SELECT at once: a lock whose ``<pid>:<host>`` names a
  process of this host that is gone is taken over at once (Dovecot's file-dotlock.c
  does the same only once the lock is a few seconds old, and a restarted Dovecot was
  seen waiting about two minutes on a left-over ``dovecot-uidlist.lock``); a lock of
  another host waits for its ``stale_timeout``, two minutes, as Dovecot's does;
- at the end, real Dovecot's ``doveadm fetch`` reads the Maildir folders without complaint.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import poplib
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import mailcheck, soak  # noqa: E402
from bench.labproc import SOAK_CONFIG, LabProcess, prepare  # noqa: E402
from labserver.storage.locking import my_hostname  # noqa: E402

MBOX_CONFIG = SOAK_CONFIG.replace("mail_location = maildir:~/Maildir",
                                  "mail_location = mbox:~/mail:INBOX=/var/mail/%u")
CLIENTS = 4


def big_message(marker: str) -> bytes:
    """A message of about 400 KiB: writing it takes long enough to be cut by a kill."""
    return soak.message(marker) + (f"filler {marker} " * 8 + "\r\n").encode() * 2500


@dataclass
class CrashLedger(soak.Ledger):
    flagged: set[tuple[str, str]] = field(default_factory=set)
    bodies: dict[str, bytes] = field(default_factory=dict)
    in_flight: Counter[str] = field(default_factory=Counter)


def _imap_client(port: int, user: str, rnd: random.Random, ledger: CrashLedger,
                 dead: threading.Event) -> None:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    op = "LOGIN"
    try:
        imap.login(user, soak.USERS[user])
        imap.select("INBOX")
        while not dead.is_set():
            picked = ledger.pick(rnd, user)
            action = rnd.random()
            if action < 0.4 or picked is None:
                op = "APPEND"
                marker = ledger.new_marker(f"{user}-crash")
                raw = big_message(marker) if rnd.random() < 0.3 else soak.message(marker)
                with ledger.lock:
                    ledger.bodies[marker] = raw
                ledger.unsure(user, "INBOX", marker)
                typ, data = imap.append("INBOX", None, None, raw)
                m = soak.APPENDUID.search(data[0] or b"")
                assert typ == "OK" and m is not None, data
                ledger.added(user, "INBOX", marker, int(m.group(1)))
                ledger.count("APPEND")
                continue
            marker, uid = picked
            if action < 0.7:
                op = "STORE"
                with ledger.lock:
                    ledger.flagged.discard((user, marker))
                typ, data = imap.uid("STORE", str(uid), "+FLAGS", r"(\Flagged)")
                if soak._answered(typ, data, ledger, "STORE"):
                    with ledger.lock:
                        ledger.flagged.add((user, marker))
            else:
                op = "EXPUNGE"
                ledger.unsure(user, "INBOX", marker)
                typ, data = imap.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
                if soak._answered(typ, data, ledger, "STORE \\Deleted"):
                    typ, data = imap.uid("EXPUNGE", str(uid))
                    assert typ == "OK", data
                    ledger.gone(user, "INBOX", marker)
                    ledger.count("UID EXPUNGE")
    except (OSError, imaplib.IMAP4.abort, EOFError):
        if dead.is_set():
            with ledger.lock:
                ledger.in_flight[f"imap {op}"] += 1
            return
        raise


def _pop3_client(port: int, user: str, rnd: random.Random, ledger: CrashLedger,
                 dead: threading.Event) -> None:
    op = "LOGIN"
    try:
        while not dead.is_set():
            op = "LOGIN"
            pop = poplib.POP3("127.0.0.1", port, timeout=30)
            pop.user(user)
            pop.pass_(soak.USERS[user])
            count, _ = pop.stat()
            doomed = []
            op = "DELE"
            for num in rnd.sample(range(1, count + 1), min(count, 2)):
                try:
                    lines = pop.top(num, 0)[1]
                except poplib.error_proto:
                    continue
                marker = soak.marker_of(b"\r\n".join(lines) + b"\r\n")
                if marker is None:
                    raise AssertionError(f"POP3 message {num} has no subject")
                pop.dele(num)
                ledger.unsure(user, "INBOX", marker)
                doomed.append(marker)
                ledger.count("POP3 DELE")
            op = "QUIT"
            reply = pop.quit()
            assert reply.startswith(b"+OK"), reply
            for marker in doomed:
                ledger.gone(user, "INBOX", marker)
            ledger.count("POP3 QUIT")
    except (OSError, poplib.error_proto, EOFError) as exc:
        if dead.is_set() or isinstance(exc, poplib.error_proto) and not str(exc):
            with ledger.lock:
                ledger.in_flight[f"pop3 {op}"] += 1
            return
        raise


def _worker(index: int, ports: dict[str, int], ledger: CrashLedger,
            dead: threading.Event) -> None:
    rnd = random.Random(time.monotonic_ns() + index)
    user = list(soak.USERS)[index % 2]
    try:
        if index % 4 == 3:
            _pop3_client(ports["pop3"], user, rnd, ledger, dead)
        else:
            _imap_client(ports["imap"], user, rnd, ledger, dead)
    except Exception as exc:  # noqa: BLE001 - reported
        if not dead.is_set():
            with ledger.lock:
                ledger.errors.append(f"client {index}: {exc!r}")


def plant_lock(root: Path, kind: str, user: str, pid: int) -> Path:
    """The lock a server killed while holding it leaves: ``<pid>:<host>``."""
    if kind == "maildir":
        lock = root / "home" / user / "Maildir" / "dovecot-uidlist.lock"
    else:
        lock = root / "var" / "mail" / f"{user}.lock"
    lock.write_text(f"{pid}:{my_hostname()}")
    return lock


def _flags_lost(port: int, ledger: CrashLedger) -> list[str]:
    lost = []
    for user in soak.USERS:
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        imap.login(user, soak.USERS[user])
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        imap.logout()
        items = [item for item in data if isinstance(item, tuple)]
        seen = {soak.marker_of(item[1]) for item in items}
        flagged = {soak.marker_of(item[1]) for item in items if b"\\Flagged" in item[0]}
        # A message that is not there at all is the account's business (lost, or an
        # expunge cut by the kill that did happen).
        lost += [f"{user}: \\Flagged of {marker} lost" for who, marker in ledger.flagged
                 if who == user and marker in seen and marker not in flagged]
    return lost


def _listed(port: int, user: str) -> list[str]:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    imap.login(user, soak.USERS[user])
    typ, data = imap.list()
    imap.logout()
    return sorted(line.decode().rsplit(" ", 1)[-1].strip('"') for line in data if line)


@dataclass
class CrashReport:
    kind: str
    kills: int
    planted_locks: int
    in_flight: Counter[str]
    ops: Counter[str]
    acknowledged_present: int
    max_select_after_restart: float
    problems: list[str]
    dovecot_checked: bool

    def text(self) -> str:
        rows = [f"crash ({self.kind}): {self.kills} SIGKILLs, {self.planted_locks} left-over "
                f"locks planted, slowest first SELECT after a restart "
                f"{self.max_select_after_restart:.2f} s, {self.acknowledged_present} "
                "acknowledged messages accounted for"]
        rows.append("  operations cut by a kill: " + ", ".join(
            f"{op} {n}" for op, n in sorted(self.in_flight.items())))
        rows.append("  operations acknowledged: " + ", ".join(
            f"{op} {n}" for op, n in sorted(self.ops.items())))
        rows.append(f"  problems: {len(self.problems)}" + (
            "" if self.dovecot_checked or self.kind == "mbox"
            else " (real Dovecot not installed: not compared)"))
        rows += [f"  ! {p}" for p in self.problems[:30]]
        return "\n".join(rows)


def _first_select(port: int, user: str) -> float:
    start = time.monotonic()
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=300)
    imap.login(user, soak.USERS[user])
    typ, data = imap.select("INBOX")
    imap.logout()
    if typ != "OK":
        raise AssertionError(f"SELECT after restart: {typ} {data}")
    return time.monotonic() - start


def run(kills: int, kind: str, root: Path, seed: int = 1) -> CrashReport:
    prepare(root, soak.USERS, config=MBOX_CONFIG if kind == "mbox" else SOAK_CONFIG,
            folders=("Archive",))
    server = LabProcess(root)
    ledger = CrashLedger()
    rnd = random.Random(seed)
    problems: list[str] = []
    planted = 0
    slowest = 0.0
    try:
        # Round n restarts the server after kill n; every fifth restart, and the last,
        # is followed by a full account before any client comes back.
        for round_no in range(kills + 1):
            ports = server.start()
            slowest = max(slowest, _first_select(ports["imap"], rnd.choice(list(soak.USERS))))
            if round_no == kills or round_no % 5 == 0 and round_no:
                problems += _verify(ports, ledger, root, kind)
            if round_no == kills or problems:
                server.stop()
                break
            dead = threading.Event()
            threads = [threading.Thread(target=_worker, args=(i, ports, ledger, dead),
                                        daemon=True) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(0.1 + rnd.random() * 0.6)
            pid = server.pid
            dead.set()
            server.kill()
            for t in threads:
                t.join(60)
            if round_no % 2 == 1:
                plant_lock(root, kind, rnd.choice(list(soak.USERS)), pid)
                planted += 1
            problems += ledger.errors
            ledger.errors.clear()
    finally:
        server.kill()
    present = sum(len(c) for c in ledger.present.values())
    checked = kind == "maildir" and mailcheck.doveadm_binary() is not None
    if checked and not problems:
        for user in soak.USERS:
            problems += _dovecot(root, user)
    return CrashReport(kind, kills, planted, ledger.in_flight, ledger.ops, present, slowest,
                       problems, checked)


def _verify(ports: dict[str, int], ledger: CrashLedger, root: Path, kind: str) -> list[str]:
    """The account after a restart, while no client is connected."""
    found = soak.account(root, ports["imap"], ledger,
                         lambda marker: ledger.bodies.get(marker) or soak.message(marker))
    problems = [p for k, v in found.items() if k != "views" for p in v]
    problems += _flags_lost(ports["imap"], ledger)
    for user in soak.USERS:
        listed = _listed(ports["imap"], user)
        if listed != ["Archive", "INBOX"]:
            problems.append(f"{user}: LIST shows {listed}")
    if kind == "maildir":
        for user in soak.USERS:
            for folder in soak.FOLDERS:
                problems += mailcheck.uidlist_problems(
                    mailcheck.folder_path(root / "home" / user / "Maildir", folder))
    return problems


def _dovecot(root: Path, user: str) -> list[str]:
    problems = []
    for folder in soak.FOLDERS:
        seen, complaints = mailcheck.dovecot_view(root / "home" / user, folder)
        problems += [f"{user} {folder}: doveadm: {c}" for c in complaints]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--format", choices=("maildir", "mbox", "both"), default="both")
    parser.add_argument("--root", type=Path, help="parent of the lab directories "
                        "(default: temporary, removed)")
    args = parser.parse_args(argv)
    base = args.root or Path(tempfile.mkdtemp(prefix="labcrash-"))
    os.chmod(base, 0o755)
    kinds = ["maildir", "mbox"] if args.format == "both" else [args.format]
    failed = False
    try:
        for kind in kinds:
            report = run(args.kills, kind, base / kind)
            print(report.text(), flush=True)
            failed = failed or bool(report.problems)
    finally:
        if args.root is None:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
