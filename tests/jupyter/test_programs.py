"""run(): real programs in a cell, printed, and never longer than their time limit."""

from __future__ import annotations

import time
from pathlib import Path

from labserver.jupyter import run


def test_output_and_exit_code_are_printed(capsys) -> None:
    result = run("echo out; echo err >&2; exit 3")
    assert result.returncode == 3 and not result.ok and not result.timed_out
    assert capsys.readouterr().out == "out\nerr\n[exit code 3]\n"


def test_a_missing_program_is_reported_as_the_shell_would(capsys) -> None:
    result = run(["no-such-program-here", "-x"])
    assert result.returncode == 127
    assert capsys.readouterr().out == ("no-such-program-here -x: No such file or directory\n"
                                       "[exit code 127]\n")


def test_input_reaches_the_program(capsys) -> None:
    result = run(["cat"], input="a1 LOGOUT\n")
    assert result.ok and result.output == "a1 LOGOUT\n"
    assert capsys.readouterr().out == "a1 LOGOUT\n"


def test_a_program_that_waits_is_stopped_with_its_children(capsys, tmp_path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    result = run(f"echo waiting; sleep 30 & echo $! > {pidfile}; wait", timeout=0.5)
    assert time.monotonic() - started < 10
    assert result.timed_out and result.returncode is None
    assert capsys.readouterr().out == "waiting\n[stopped after 0.5 s: the time limit ran out]\n"
    child = int(pidfile.read_text())
    for _ in range(100):
        if not alive(child):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"sleep {child} survived the time limit")


def alive(pid: int) -> bool:
    """Whether a process runs (a killed one may linger as a zombie until it is reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
