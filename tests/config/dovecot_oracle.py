"""Running real Dovecot's doveconf beside the lab's, for differential tests.

Debian's ``dovecot-core`` provides ``doveconf``; ``.ci/run`` installs it. Outside CI
the differential tests skip with a reason when it is missing; in CI (``CI`` set)
a missing doveconf is a failure, so the comparison can never silently vanish.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from dataclasses import dataclass

from labserver.cli import main as labserver_main
from tests.tools import require_program


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str
    code: int

    @property
    def settings(self) -> list[str]:
        """Output lines without doveconf's '#' header lines."""
        return [line for line in self.stdout.splitlines() if not line.startswith("# ")]

    @property
    def messages(self) -> list[str]:
        return self.stderr.splitlines()


def doveconf_path() -> str:
    return require_program("doveconf", "dovecot-core")


def real_doveconf(args: list[str], cwd: str | None = None) -> Run:
    proc = subprocess.run([doveconf_path(), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60, errors="surrogateescape")
    return Run(proc.stdout, proc.stderr, proc.returncode)


def lab_doveconf(args: list[str], cwd: str | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = labserver_main(["doveconf", *args])
    finally:
        os.chdir(old)
    return Run(out.getvalue(), err.getvalue(), code)
