"""The lab server as a separate process (``python -m labserver serve``), for soak and crash runs.

A separate process is what a learner runs, it can be killed with SIGKILL like a real
daemon, and it leaves the harness's own threads (the clients) a core of their own.
``LabProcess.start()`` returns once the listener table is printed, that is, once every
listener is bound; the ports are ephemeral and read from that table.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import labserver
from labserver.service.lab import DEFAULT_CONFIG, Lab

SOAK_CONFIG = DEFAULT_CONFIG + """\
auth_failure_delay = 0
mail_max_userip_connections = 1000
"""


def prepare(root: Path, users: dict[str, str], config: str = SOAK_CONFIG,
            folders: tuple[str, ...] = ()) -> Lab:
    """Write a lab directory with a configuration, users and folders; returns an unstarted
    ``Lab`` on it (for ``deliver`` and ``storage`` from the harness's side)."""
    root.mkdir(parents=True, exist_ok=True)
    # Real Dovecot's mail user (nobody) reads it afterwards.
    os.chmod(root, 0o755)
    lab = Lab(config, root=root, ports="ephemeral")
    for user, password in users.items():
        lab.add_user(user, password, scheme="PLAIN")
        storage = lab.storage(user)
        for folder in folders:
            if not storage.exists(folder):
                storage.create(folder)
    return lab


class LabProcess:
    """``labserver serve --root ROOT --ports ephemeral`` in a child process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}
        self.starts = 0

    def start(self, timeout: float = 60.0) -> dict[str, int]:
        env = dict(os.environ, PYTHONPATH=str(Path(labserver.__file__).parents[1]))
        # stderr goes to a file beside the lab directory: a pipe nobody reads could
        # fill up and stall the server.
        self.stderr_path = self.root.with_name(self.root.name + ".serve.err")
        with open(self.stderr_path, "a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "labserver", "serve", "--root", str(self.root),
                 "--ports", "ephemeral"], stdout=subprocess.PIPE, stderr=err, text=True,
                env=env)
        self.ports = {}
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        header_seen = False
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(10)
                raise RuntimeError("labserver serve ended: "
                                   + self.stderr_path.read_text().strip()[-2000:])
            cols = line.split()
            if cols[:1] == ["Proto"]:
                header_seen = True
            elif header_seen and len(cols) >= 6:
                self.ports[cols[2]] = int(cols[5])
                if {"imap", "pop3"} <= self.ports.keys():
                    break
        if not {"imap", "pop3"} <= self.ports.keys():
            self.kill()
            raise RuntimeError("labserver serve did not print its listeners in time")
        self.starts += 1
        return self.ports

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kb(self) -> int:
        """The server's resident memory (``VmRSS``) in KiB; 0 when it is not running."""
        if self.proc is None:
            return 0
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would; waits for the process."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._close_pipes()
        self.proc = None

    def stop(self) -> None:
        """SIGTERM, the orderly way; SIGKILL if it does not end in 20 seconds."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._close_pipes()
        self.proc = None

    def _close_pipes(self) -> None:
        assert self.proc is not None
        if self.proc.stdout is not None:
            self.proc.stdout.close()
