"""Real Dovecot beside the lab's auth: ``doveadm pw`` and ``doveadm auth test``.

Outside CI the cross-checks skip with a reason when Debian's dovecot-core is missing;
with ``CI`` set a missing doveadm fails, so the comparison cannot silently vanish.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.tools import require_program


def doveadm_path() -> str:
    return require_program("doveadm", "dovecot-core")


def doveadm_pw_generate(scheme: str, password: str) -> str:
    proc = subprocess.run([doveadm_path(), "pw", "-s", scheme, "-p", password],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def doveadm_pw_test(hashed: str, password: str) -> bool:
    proc = subprocess.run([doveadm_path(), "pw", "-t", hashed, "-p", password],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode == 0 and "(verified)" in proc.stdout


class RealAuth:
    """A Dovecot started only for its auth process, on a temporary base_dir."""

    def __init__(self, body: str, files: dict[str, str]) -> None:
        """``body`` is config text where ``{dir}`` stands for the working directory."""
        doveadm_path()
        if shutil.which("dovecot") is None:
            pytest.skip("dovecot binary is not installed")
        # Dovecot's auth process runs as an unprivileged user: its files must be readable
        # to it, which pytest's private tmp_path is not.
        workdir = Path(tempfile.mkdtemp(prefix="lab-auth-oracle-"))
        workdir.chmod(0o755)
        self.dir = workdir
        for sub in ("run", "state"):
            (workdir / sub).mkdir()
        for name, text in files.items():
            (workdir / name).write_text(text)
            (workdir / name).chmod(0o644)
        body = body.replace("{dir}", str(workdir))
        self.log = workdir / "dovecot.log"
        self.conf = workdir / "dovecot.conf"
        self.conf.write_text(
            f"base_dir = {workdir}/run\nstate_dir = {workdir}/state\n"
            f"log_path = {self.log}\nprotocols = imap\nssl = no\n"
            "auth_failure_delay = 0\ndefault_internal_user = nobody\n"
            "default_login_user = nobody\n"
            "service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n"
            "  inet_listener imaps {\n    port = 0\n  }\n}\n" + body)

    def __enter__(self) -> RealAuth:
        # dovecot forks into the background; its children must not hold our pipes.
        errors = self.dir / "start.err"
        with open(errors, "w") as err:
            proc = subprocess.run(["dovecot", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=err, timeout=60)
        if proc.returncode != 0:
            pytest.fail(f"dovecot did not start: {errors.read_text()}")
        deadline = time.monotonic() + 20
        while not (self.dir / "run" / "auth-client").exists():
            if time.monotonic() > deadline:
                pytest.fail("dovecot's auth-client socket did not appear")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            subprocess.run(["doveadm", "-c", str(self.conf), "stop"], capture_output=True,
                           timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    def auth_test(self, user: str, password: str, *info: str) -> tuple[bool, list[str]]:
        """Run ``doveadm auth test``; return success and the new auth log lines."""
        before = self.log.read_text().count("\n") if self.log.exists() else 0
        args = [doveadm_path(), "-c", str(self.conf), "auth", "test"]
        for item in info:
            args += ["-x", item]
        proc = subprocess.run([*args, user, password], capture_output=True, text=True,
                              timeout=60)
        ok = "auth succeeded" in proc.stdout
        deadline = time.monotonic() + 10
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = self.log.read_text().splitlines()[before:]
            if any("Auth request finished" in line for line in lines):
                break
            time.sleep(0.05)
        # Drop the timestamp ("Nov 25 13:11:33 "), keep "auth: Info: ...".
        return ok, [line[16:] for line in lines]
