"""Twenty IMAP clients on one mailbox: nothing lost, nothing duplicated, UIDs ascending.

The clients append, flag, expunge and copy for a bounded time over real loopback
sockets; afterwards the mailbox must hold exactly what was acknowledged, and real
Dovecot's doveadm must read it with the same UIDs.
"""

from __future__ import annotations

import imaplib
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab

CLIENTS = 20
SECONDS = 4.0
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


def _client(port: int, index: int, result: dict, errors: list, stop_at: float) -> None:
    rnd = random.Random(index)
    appended: dict[str, int] = {}
    expunged: set[str] = set()
    copied: set[str] = set()
    try:
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        imap.login("alice", "secret")
        imap.select("INBOX")
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            marker = f"c{index}-{n}"
            msg = (f"From: client{index}@example.com\r\nSubject: {marker}\r\n"
                   f"Message-ID: <{marker}@lab>\r\n\r\nbody {marker}\r\n").encode()
            typ, data = imap.append("INBOX", None, None, msg)
            assert typ == "OK", data
            uid = int(APPENDUID.search(data[0]).group(1))
            appended[marker] = uid
            imap.noop()
            mine = [m for m in appended if m not in expunged]
            action = rnd.random()
            if action < 0.3 and mine:
                victim = rnd.choice(mine)
                typ, _ = imap.uid("STORE", str(appended[victim]), "+FLAGS", r"(\Flagged)")
                assert typ == "OK"
            elif action < 0.55 and mine:
                victim = rnd.choice(mine)
                typ, _ = imap.uid("STORE", str(appended[victim]), "+FLAGS", r"(\Deleted)")
                assert typ == "OK"
                typ, _ = imap.uid("EXPUNGE", str(appended[victim]))
                assert typ == "OK"
                expunged.add(victim)
            elif action < 0.75 and mine:
                victim = rnd.choice(mine)
                typ, _ = imap.uid("COPY", str(appended[victim]), "Archive")
                assert typ == "OK"
                copied.add(victim)
        imap.logout()
    except Exception as exc:  # collected and reported by the test
        errors.append(f"client {index}: {exc!r}")
    result[index] = (appended, expunged, copied)


def _message_ids(port: int, folder: str) -> list[tuple[int, str]]:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    imap.login("alice", "secret")
    imap.select(folder, readonly=True)
    typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    imap.logout()
    out = []
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            subject = item[1].decode().split(":", 1)[1].strip()
            out.append((uid, subject))
    return out


@pytest.fixture
def shared_root():
    """A lab root the unprivileged mail user of real Dovecot can read (0755)."""
    path = tempfile.mkdtemp(prefix="lab-concurrency-")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(300)
def test_twenty_clients_lose_and_duplicate_nothing(shared_root: Path) -> None:
    lab = Lab(DEFAULT_CONFIG + "auth_failure_delay = 0\nmail_max_userip_connections = 100\n",
              root=shared_root, ports="ephemeral")
    lab.add_user("alice", "secret")
    lab.storage("alice").create("Archive")
    lab.start()
    try:
        port = lab.port("imap")
        result: dict = {}
        errors: list[str] = []
        stop_at = time.monotonic() + SECONDS
        threads = [threading.Thread(target=_client, args=(port, i, result, errors, stop_at))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        expected_inbox = {m for a, e, _ in result.values() for m in a if m not in e}
        expected_archive = {m for _, _, c in result.values() for m in c}
        all_uids = [uid for a, _, _ in result.values() for uid in a.values()]
        assert len(all_uids) == len(set(all_uids)), "a UID was given out twice"
        for appended, _, _ in result.values():
            uids = list(appended.values())
            assert uids == sorted(uids), "one client's UIDs went backwards"
        inbox = _message_ids(port, "INBOX")
        assert [uid for uid, _ in inbox] == sorted(uid for uid, _ in inbox)
        subjects = [s for _, s in inbox]
        assert len(subjects) == len(set(subjects)), "a message is there twice"
        assert set(subjects) == expected_inbox
        archive = {s for _, s in _message_ids(port, "Archive")}
        assert archive == expected_archive
        assert len(all_uids) > CLIENTS  # the clients really worked
        expunged = sum(len(e) for _, e, _ in result.values())
        print(f"{len(all_uids)} appends, {expunged} expunges, {len(archive)} copies, "
              f"{len(inbox)} messages left")
    finally:
        lab.stop()
    _check_with_doveadm(shared_root / "home" / "alice", inbox)


def _check_with_doveadm(home: Path, inbox: list[tuple[int, str]]) -> None:
    doveadm = shutil.which("doveadm")
    if doveadm is None:
        if os.environ.get("CI"):
            pytest.fail("doveadm is not installed; .ci/run must install dovecot-core")
        pytest.skip("real doveadm is not installed")
    work = Path(tempfile.mkdtemp(prefix="doveadm-"))
    try:
        uid = gid = 65534 if os.geteuid() == 0 else None
        conf = work / "dovecot.conf"
        conf.write_text(
            f"base_dir = {work}/run\nstate_dir = {work}/state\nlog_path = {work}/log\n"
            "ssl = no\nmail_location = maildir:~/Maildir\nfirst_valid_uid = 1\n"
            "first_valid_gid = 1\n"
            + (f"mail_uid = {uid}\nmail_gid = {gid}\n" if uid is not None else ""))
        if uid is not None:
            for d, dirs, files in os.walk(home):
                for name in [d, *(os.path.join(d, f) for f in dirs + files)]:
                    os.lchown(name, uid, gid)
        env = dict(os.environ, USER="alice", HOME=str(home))
        proc = subprocess.run([doveadm, "-c", str(conf), "-f", "tab", "fetch", "uid hdr.subject",
                               "mailbox", "INBOX", "all"], capture_output=True, text=True,
                              env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        rows = [line.split("\t") for line in proc.stdout.splitlines()[1:]]
        seen = [(int(u), s.strip()) for u, s in rows]
        assert seen == inbox
    finally:
        shutil.rmtree(work, ignore_errors=True)
