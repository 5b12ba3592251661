"""Crash, bounded form: 15 SIGKILLs of a Maildir lab and 15 of an mbox lab.

The long form is ``make crash`` (200 kills of each); both run ``bench/crash.py``, whose
docstring says what is checked after every restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import crash
from labserver.storage.locking import DotLock, my_hostname
from labserver.storage.model import StorageError
from tests.tools import require_program


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_sigkill_loses_no_acknowledged_message(kind: str, open_root: Path) -> None:
    if kind == "maildir":
        require_program("doveadm", "dovecot-core")
    report = crash.run(15, kind, open_root)
    print(report.text())
    assert report.problems == []
    assert report.kills == 15 and report.planted_locks == 7
    assert report.ops["APPEND"] > 0 and report.ops["UID EXPUNGE"] > 0
    assert report.ops["POP3 QUIT"] > 0
    # The kills cut operations short, or the run proved nothing.
    assert sum(report.in_flight.values()) >= 15


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(("owner", "age", "taken_over"), [
    ("dead process of this host", 0, True),
    ("this process, left over", 0, True),
    ("another host, fresh", 0, False),
    ("another host, older than the stale timeout", 200, True),
])
def test_left_over_lock_rules(tmp_path: Path, owner: str, age: int, taken_over: bool) -> None:
    """The rules a restarted server applies to a lock it finds (storage/locking.py):
    a dead local pid, or its own pid, is taken over at once; another host's lock only
    once it is older than ``stale_timeout``, as Dovecot's file-dotlock.c does."""
    target = tmp_path / "dovecot-uidlist"
    lock = tmp_path / "dovecot-uidlist.lock"
    pid = {"dead process of this host": _dead_pid(),
           "this process, left over": os.getpid()}.get(owner, 4242)
    host = "elsewhere" if owner.startswith("another host") else my_hostname()
    lock.write_text(f"{pid}:{host}")
    os.utime(lock, (time.time() - age, time.time() - age))
    dotlock = DotLock(str(target), timeout=0.5, stale_timeout=120)
    if taken_over:
        dotlock.acquire()
        assert lock.read_text() == f"{os.getpid()}:{my_hostname()}"
        dotlock.release()
        assert not lock.exists()
    else:
        with pytest.raises(StorageError, match="Timeout while waiting for lock"):
            dotlock.acquire()
        assert lock.read_text() == f"{pid}:{host}"
