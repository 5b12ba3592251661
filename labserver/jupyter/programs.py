"""``run()``: a real program in a notebook cell, bounded by a timeout.

Demonstrations talk to the lab with the programs an administrator uses
(``openssl s_client``, ``curl``, ``ss``). A program that waits for input or for a
server that never answers must not freeze the notebook, so ``run`` gives each one a
time limit, then stops it and everything it started (its own process group), and
says so. stdin is empty unless ``input`` is given; ``openssl s_client`` then quits at
the end of its input, or waits for the server with ``-ign_eof``, up to the limit.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RunResult:
    """What the program printed (stdout and stderr together), its exit code, the timeout."""

    command: str
    output: str
    returncode: int | None
    timed_out: bool
    timeout: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def __str__(self) -> str:
        text = self.output.rstrip("\n")
        if self.timed_out:
            note = f"[stopped after {self.timeout:g} s: the time limit ran out]"
        elif self.returncode:
            note = f"[exit code {self.returncode}]"
        else:
            return text
        return f"{text}\n{note}" if text else note

    def _ipython_display_(self) -> None:
        # run() has printed the output already; showing the result again would repeat it.
        return None


def run(cmd: str | Sequence[str], input: str | bytes | None = None,
        timeout: float = 10) -> RunResult:
    """Run a command (a shell line, or an argument list), print what it printed, return it."""
    shell = isinstance(cmd, str)
    data = input.encode() if isinstance(input, str) else input
    command = cmd if shell else " ".join(cmd)
    try:
        proc = subprocess.Popen(cmd, shell=shell, start_new_session=True,
                                stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:  # an argument list naming a program that is not there
        result = RunResult(command, f"{command}: {exc.strerror}\n", 127, False, timeout)
        print(result, flush=True)
        return result
    timed_out = False
    try:
        raw, _ = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        try:
            raw, _ = proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:  # a descendant left the group and holds the pipe
            raw = b""
            proc.kill()
            proc.wait(timeout=2)
    result = RunResult(command, raw.decode("utf-8", "replace"),
                       None if timed_out else proc.returncode, timed_out, timeout)
    print(result, flush=True)
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
