"""``labserver serve`` removes the temporary lab directory it made, however it is stopped.

Each case runs the command line in a child process with ``TMPDIR`` pointing at a fresh
directory, so whatever the command leaves behind is visible there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def _serve(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "labserver", "serve", "--ports",
                             "ephemeral", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _reap(proc: subprocess.Popen[str]) -> str:
    """Kill the child if a failed assertion left it running (only this PID); its stderr."""
    if proc.poll() is None:
        proc.kill()
    return proc.communicate(timeout=5)[1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_temporary_root_is_removed_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _serve(tmp_path)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Lab root: "), (first, proc.stderr and proc.stderr.read())
        root = Path(first.removeprefix("Lab root: ").strip())
        assert root.parent == tmp_path / "tmp" and (root / "etc/dovecot").is_dir()
        proc.send_signal(sig)
        proc.wait(20)
    finally:
        err = _reap(proc)
    left = [str(p) for p in (tmp_path / "tmp").rglob("*")]
    assert (proc.returncode, left) == (0, []), err


def test_given_root_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    proc = _serve(tmp_path, "--root", str(root))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"Lab root: {root}\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        _reap(proc)
    assert (root / "etc/dovecot/dovecot.conf").is_file()


def test_temporary_root_is_removed_when_the_config_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("no_such_setting = 1\n")
    proc = _serve(tmp_path, "-c", str(conf))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 89
    assert "Unknown setting: no_such_setting" in err
    assert list((tmp_path / "tmp").iterdir()) == []
