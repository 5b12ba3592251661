"""``pop3_lock_session = yes``: one POP3 session per mailbox at a time, as Dovecot locks it.

Dovecot 2.3 (src/pop3/pop3-client.c ``pop3_lock_session``) takes the dotlock
``dovecot-pop3-session.lock`` in the INBOX namespace's index root (the mail root when
there is no index directory) before it answers ``+OK Logged in.``, and keeps it until the
session ends. A second login waits with the dotlock settings written into that file
(``session_dotlock_set``: a fixed 10-second timeout, no setting changes it) and is then
refused with ``-ERR [IN-USE]``. file-dotlock.c checks again after a pause of 0.1-0.2 s
that grows by half once a second, up to 3 s, until a whole-second clock has passed the
deadline, so the refusal comes 10-13 seconds after PASS (12.4 s measured with 2.3.19.1);
a lock that goes away wakes the waiter at once (inotify). This module does the same
without blocking the event loop: it looks at the lock file every ``NOTICE`` seconds as
its stand-in for inotify.

Written by hand to match Dovecot's timing; the file itself is a ``locking.DotLock``, so a
lock held by real Dovecot on the same Maildir is respected and vice versa. Sessions of
one lab share a process, and a dotlock naming our own pid would be taken as left over,
so the locks this process holds are also kept in a set.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from typing import Any

from ..storage.locking import DotLock
from ..storage.model import StorageError

LOCK_NAME = "dovecot-pop3-session"  # DotLock adds ".lock"
TIMEOUT_SECS = 10  # session_dotlock_set.timeout
STALE_TIMEOUT_SECS = 5 * 60  # POP3_SESSION_DOTLOCK_STALE_TIMEOUT_SECS
MAX_WAIT_SECS = 3.0  # file-dotlock.c LOCK_MAX_WAIT_USECS
NOTICE = 0.05

_guard = threading.Lock()
_held: set[str] = set()


class LockCreateError(Exception):
    """The lock's directory cannot be made (``Failed to create POP3 session lock``)."""


def lock_path(storage: Any) -> str:
    """The real path of the session lock of this storage's INBOX namespace."""
    location = storage.location
    index = location.index_dir
    root = index if index and index.upper() != "MEMORY" else location.root_dir
    return os.path.join(storage.real(root), LOCK_NAME)


class SessionLock:
    """A held session lock; ``release()`` when the session ends."""

    def __init__(self, path: str, dotlock: DotLock) -> None:
        self.path, self._dotlock = path, dotlock

    def release(self) -> None:
        with _guard:
            if self.path in _held:
                self._dotlock.release()
                _held.discard(self.path)


def _try(path: str) -> SessionLock | None:
    with _guard:
        if path in _held:
            return None
        dotlock = DotLock(path, timeout=0, stale_timeout=STALE_TIMEOUT_SECS)
        try:
            dotlock.acquire()
        except StorageError:
            return None
        _held.add(path)
        return SessionLock(path, dotlock)


async def acquire(storage: Any) -> SessionLock | None:
    """The session lock, or None after Dovecot's wait when another session holds it.

    Raises ``LockCreateError`` when the directory for the lock cannot be made."""
    path = lock_path(storage)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise LockCreateError(f"pop3_lock_session: Couldn't create root directory "
                              f"{os.path.dirname(path)}: {exc.strerror}") from None
    start = int(time.time())
    deadline, updated = start + TIMEOUT_SECS, start
    wait = random.uniform(0.1, 0.2)
    while True:
        lock = _try(path)
        if lock is not None:
            return lock
        now = int(time.time())
        if now >= deadline:
            return None
        if now != updated and wait < MAX_WAIT_SECS:
            updated, wait = now, min(wait * 1.5, MAX_WAIT_SECS)
        await _wait_for_change(path + ".lock", wait)


async def _wait_for_change(lock_file: str, seconds: float) -> None:
    """Sleep ``seconds``, or less if the lock file goes away meanwhile."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(NOTICE, left))
        if not os.path.exists(lock_file):
            return
