"""Locks that real mail tools respect: dotlocks and fcntl locks, plus thread locks.

A *dotlock* is a file ``<path>.lock`` that exists while someone holds the lock.
Dovecot creates it the NFS-safe way (src/lib/file-dotlock.c): write ``<pid>:<host>``
into a unique temporary file in the same directory, then ``link()`` it to the lock
name, which fails if the lock exists. A lock whose process is gone is overridden;
Dovecot checks the pid only once the lock is a couple of seconds old and otherwise
waits for ``stale_timeout`` (two minutes for ``dovecot-uidlist.lock``), the lab checks
the pid at once, so a learner's killed server does not stall the next one.

fcntl locks belong to a process, not to a thread, and a process never blocks on
its own dotlock's pid either; so every lock here is also taken on a per-path
``threading.Lock`` first, which makes sessions in different threads of one lab
server exclude each other as sessions in different processes do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator

from .model import StorageError

_registry_guard = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}


def thread_lock(path: str) -> threading.RLock:
    """The process-wide lock for one real path (reentrant, so nested use is safe)."""
    key = os.path.abspath(path)
    with _registry_guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = threading.RLock()
        return lock


def my_hostname() -> str:
    """The host name as Dovecot puts it in file names: '/' and ':' escaped."""
    return socket.gethostname().replace("/", "\\057").replace(":", "\\072")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DotLock:
    """``<path>.lock``, held by this process; ``release()`` removes it."""

    def __init__(self, path: str, *, timeout: float = 120.0, stale_timeout: float = 120.0
                 ) -> None:
        self.path = path
        self.lock_path = path + ".lock"
        self.timeout = timeout
        self.stale_timeout = stale_timeout
        self._held = False
        self._ident: tuple[int, int] | None = None

    def _is_stale(self) -> bool:
        try:
            st = os.stat(self.lock_path)
            with open(self.lock_path, "rb") as f:
                content = f.read(256).decode("ascii", "replace")
        except FileNotFoundError:
            return False
        pid_text, _, host = content.partition(":")
        if pid_text.isdigit() and host == my_hostname():
            pid = int(pid_text)
            # Our own pid on a lock we are not holding (the caller holds the thread
            # lock for this path) can only be left over: Dovecot says the same.
            if pid == os.getpid() or not _pid_alive(pid):
                return True
            return False
        return time.time() - st.st_mtime > self.stale_timeout

    def acquire(self) -> None:
        directory = os.path.dirname(self.lock_path) or "."
        content = f"{os.getpid()}:{my_hostname()}".encode("ascii")
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            tmp = os.path.join(directory, f".temp.{my_hostname()}.{os.getpid()}."
                               f"{threading.get_ident()}.{time.monotonic_ns()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, content)
            finally:
                os.close(fd)
            try:
                os.link(tmp, self.lock_path)
                st = os.stat(self.lock_path)
                self._ident = (st.st_dev, st.st_ino)
                self._held = True
                return
            except FileExistsError:
                pass
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            if self._is_stale():
                # Override: rename the stale lock away first, so that two processes
                # seeing the same stale lock cannot both remove a fresh one.
                grave = f"{self.lock_path}.stale.{os.getpid()}.{threading.get_ident()}"
                with contextlib.suppress(FileNotFoundError):
                    os.rename(self.lock_path, grave)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(grave)
                continue
            if time.monotonic() > deadline:
                raise StorageError("Timeout while waiting for lock", "INUSE")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        try:
            st = os.stat(self.lock_path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == self._ident:
            os.unlink(self.lock_path)

    def __enter__(self) -> DotLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def dotlocked(path: str, *, timeout: float = 120.0, stale_timeout: float = 120.0
              ) -> Iterator[None]:
    """Hold the thread lock and the dotlock of ``path``."""
    with thread_lock(path):
        lock = DotLock(path, timeout=timeout, stale_timeout=stale_timeout)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()


def fcntl_lock(fd: int, exclusive: bool, timeout: float = 300.0) -> None:
    """A whole-file fcntl (POSIX record) lock, as Dovecot's mbox code takes it."""
    kind = fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            fcntl.lockf(fd, (fcntl.LOCK_EX if kind == fcntl.F_WRLCK else fcntl.LOCK_SH)
                        | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EAGAIN):
                raise
        if time.monotonic() > deadline:
            raise StorageError("Timeout while waiting for lock", "INUSE")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def fcntl_unlock(fd: int) -> None:
    fcntl.lockf(fd, fcntl.LOCK_UN)
