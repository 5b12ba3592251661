"""Graders under hostile submissions: a verdict every time, in bounded time, and no leaks.

Every task of ``graders.TASKS`` is handed the wrong types (None, bytes, an int, a dict),
a 10 MB text, binary garbage with NUL bytes, a path that was deleted, and objects whose
``__str__``/``__iter__``/``__fspath__`` raise or never return; the tasks that call a
learner's function get functions that loop, call ``sys.exit()``, raise
``KeyboardInterrupt``, ``SystemExit`` or ``GeneratorExit``, print 8 MB a call or raise with a
1 MB message. Each must come back as a failing ``Verdict`` whose feedback says what to
fix, within the check's time limit (plus the time a lab needs to stop), and afterwards
the process holds no more grader threads, listening sockets or temporary directories
than before. A check that runs out of time stops its labs at once, so timed-out checks
do not pile up open ports.

The file-system side (``!include /etc/shadow``, ``<file`` values, passdb args, links
out of a folder) runs in a subprocess under an audit hook that refuses every opening of
``/etc/shadow``, ``/etc/passwd`` and ``/proc/*/environ`` (hostile_submissions.py).

``os._exit`` is not among the learner functions here: no thread survives it, in the
grader as in a notebook cell, so it is met where it can be: nbgrader grades such a
notebook and goes on (test_hostile_autograde.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import graders
from graders import probe
from labserver.service.lab import DEFAULT_CONFIG

from .hostile_submissions import (
    FUNCTION_TASKS,
    PARAMS,
    Looping,
    Raising,
    hostile_functions,
)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0  # per check; a lab that has to stop may add a few seconds
SLACK = 12.0
LOOP_TIMEOUT = 2.0
TAIL = "Check that it is the kind of answer the exercise asks for."


def listening_sockets() -> int:
    """How many TCP sockets of this process are listening (from /proc)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in mine:
                    count += 1
    return count


def grader_threads() -> list[threading.Thread]:
    """Check workers, and executor threads of stopped labs finishing their last job."""
    return [t for t in threading.enumerate() if t.name.startswith(("grader-", "asyncio_"))]


def settle(seconds: float = 60.0) -> None:
    """Wait for every grader worker (released loops finish their check) to end."""
    deadline = time.monotonic() + seconds
    for thread in grader_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not grader_threads(), f"grader workers still running: {grader_threads()}"


@pytest.fixture(autouse=True)
def no_leaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Temporary directories go to a folder of the test's own; afterwards the process
    has as many listening sockets and threads as before, and that folder is empty."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    settle()
    sockets, threads = listening_sockets(), threading.active_count()
    yield temp
    settle()
    assert listening_sockets() <= sockets
    assert threading.active_count() <= threads, threading.enumerate()
    assert sorted(p.name for p in temp.iterdir()) == []


def run(task: str, submission: Any, timeout: float = TIMEOUT) -> tuple[graders.Verdict, float]:
    start = time.monotonic()
    verdict = graders.check(task, submission, timeout=timeout, **PARAMS.get(task, {}))
    return verdict, time.monotonic() - start


def assert_actionable(verdict: Any, task: str) -> None:
    assert isinstance(verdict, graders.Verdict), verdict
    assert verdict.task == task and not verdict.passed and verdict.score < 1
    assert verdict.feedback.strip() and "Traceback" not in verdict.feedback
    assert len(verdict.feedback) <= graders.FEEDBACK_LIMIT + 50
    assert all(len(line) <= graders.EVIDENCE_LIMIT + 50 for line in verdict.evidence)
    str(verdict)  # prints in a notebook without raising


def test_every_task_is_known_to_the_corpus() -> None:
    assert set(PARAMS) <= set(graders.TASKS)
    assert set(FUNCTION_TASKS) <= set(graders.TASKS)


def wrong_values(where: Path) -> dict[str, Any]:
    gone = where / "deleted.conf"
    gone.write_text(DEFAULT_CONFIG)
    gone.unlink()
    garbage = bytes(range(256)) * 64 + b"\x00" * 1024
    return {"None": None, "bytes": b"protocols = imap\n", "int": 42,
            "dict": {"dovecot.conf": {"nested": [1, 2]}},
            "10 MB text": "a" * (10 * 1024 * 1024),
            "binary garbage (str with NUL)": garbage.decode("latin-1"),
            "binary garbage (bytes)": garbage, "deleted file": gone,
            "deleted folder": where / "no-such-folder", "raising object": Raising()}


@pytest.mark.parametrize("task", sorted(graders.TASKS))
def test_wrong_types_get_a_verdict(task: str, tmp_path: Path) -> None:
    values = wrong_values(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(values, pool.map(lambda v: run(task, v), values.values()),
                           strict=True))
    for name, (verdict, seconds) in results.items():
        assert_actionable(verdict, task)
        assert seconds < TIMEOUT + SLACK, (name, seconds)


def test_raising_objects_are_named_in_the_feedback() -> None:
    verdict, _ = run("cipher-choice", Raising())  # it reads str(submission)
    assert "RuntimeError: __str__ refuses" in verdict.feedback and TAIL in verdict.feedback


def test_looping_submissions_are_cut_by_the_time_limit() -> None:
    release = threading.Event()
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda t: (t, run(t, Looping(release), LOOP_TIMEOUT)),
                                    sorted(graders.TASKS)))
    finally:
        release.set()
    for task, (verdict, seconds) in results:
        assert_actionable(verdict, task)
        assert seconds < LOOP_TIMEOUT + SLACK, (task, seconds)
    cut = [task for task, (verdict, _) in results if "ran out of time" in verdict.feedback]
    # Whatever looks at the submission first is cut: str(), iter() or a path.
    assert {"cipher-choice", "pop3-sizes", "maildir-size-fields"} <= set(cut), cut


@pytest.mark.parametrize("task", FUNCTION_TASKS)
def test_hostile_learner_functions(task: str) -> None:
    release = threading.Event()
    functions = hostile_functions(release)

    def one(item: tuple[str, Any]) -> tuple[str, graders.Verdict, float]:
        name, fn = item
        limit = LOOP_TIMEOUT if name == "loops" else TIMEOUT
        start = time.monotonic()
        if task == "courier-migration":
            verdict = graders.check(task, DEFAULT_CONFIG, convert=fn, timeout=limit)
        else:
            verdict = graders.check(task, fn, timeout=limit, **PARAMS.get(task, {}))
        return name, verdict, time.monotonic() - start

    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, functions.items()))
    finally:
        release.set()
    for name, verdict, seconds in results:
        assert_actionable(verdict, task)
        assert seconds < (LOOP_TIMEOUT if name == "loops" else TIMEOUT) + SLACK, (name, seconds)
        if name == "loops":
            assert "ran out of time" in verdict.feedback and "loop" in verdict.feedback
        elif name in ("KeyboardInterrupt", "SystemExit", "GeneratorExit", "sys.exit"):
            stopped = "SystemExit" if name == "sys.exit" else name
            assert stopped in verdict.feedback, (name, verdict.feedback)
            assert "ran out of time" not in verdict.feedback


@pytest.mark.parametrize("raised", [SystemExit(2), KeyboardInterrupt(), GeneratorExit()])
def test_base_exceptions_in_a_check_become_a_verdict(raised: BaseException,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def task(submission: object) -> graders.Verdict:
        raise raised

    monkeypatch.setitem(graders._CHECKS, "raises", task)
    verdict = graders.check("raises", "anything", timeout=5)
    assert not verdict.passed and type(raised).__name__ in verdict.feedback
    assert "must return its answer" in verdict.feedback


def test_timed_out_checks_stop_their_labs(monkeypatch: pytest.MonkeyPatch,
                                          no_leaks: Path) -> None:
    """A task that hangs in a probe: each check that runs out of time leaves no port
    open; once the hang ends, the worker ends quickly (its lab is gone) and removes
    the lab's directory."""
    release = threading.Event()
    after: list[str] = []

    def hangs(submission: object) -> graders.Verdict:
        user, password = probe.fresh_user()
        with probe.lab_for("hangs", submission, users=[(user, password)]) as lab:
            port = lab.port("imap")
            client = probe.imap_client(lab, source=None)
            release.wait()  # the probe waits for an answer that does not come in time
            probe.close(client)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                after.append("answered")
            except OSError:
                after.append("refused")
        return graders.Verdict("hangs", True, 1.0, "not reached in time")

    monkeypatch.setitem(graders._CHECKS, "hangs", hangs)
    sockets = listening_sockets()
    rounds = 12
    try:
        with ThreadPoolExecutor(rounds) as pool:  # time for every lab to start, at once
            verdicts = list(pool.map(lambda _: graders.check("hangs", DEFAULT_CONFIG,
                                                             timeout=5), range(rounds)))
        assert all("ran out of time" in v.feedback for v in verdicts)
        for stopper in [t for t in threading.enumerate() if t.name == "grader-expire-hangs"]:
            stopper.join(30)  # a busy machine may take more than check()'s short wait
        assert listening_sockets() <= sockets  # every expired check closed its ports
        assert len(list(no_leaks.iterdir())) == rounds  # the hung workers still hold them
    finally:
        release.set()
    settle()
    # Every lab was stopped when its check expired, whatever the worker did later.
    assert after == ["refused"] * rounds


def test_no_real_file_is_opened_through_a_submission(tmp_path: Path) -> None:
    """Configurations and folders that reach for /etc/shadow, /etc/passwd and
    /proc/self/environ, on every task, with an audit hook that refuses those files."""
    cases, temp = tmp_path / "cases", tmp_path / "subprocess-tmp"
    cases.mkdir()
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "tests.reliability.hostile_submissions",
                             str(cases)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["opened"] == []
    rows = report["rows"]
    assert {row["task"] for row in rows} == set(graders.TASKS)
    for row in rows:
        assert row["type"] == "Verdict", row
        assert row["feedback"].strip() and "Traceback" not in row["feedback"], row
        assert row["seconds"] < 20 + SLACK, row
    assert list(temp.iterdir()) == []  # every lab's directory was removed
