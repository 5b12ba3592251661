"""Graders for Mailbox Access Lab: behaviour-based checks with feedback.

``check(task, submission, **params)`` returns a ``Verdict``; ``TASKS`` lists the
task ids with a one-line description. In an nbgrader test cell::

    graders.check("config-valid", my_config).assert_passed()

Every module named ``*_tasks.py`` in this package contributes its ``CHECKS`` (task id
to function; the function's first docstring line is the task's description). A check
runs under a time limit in a worker thread, so a submission that hangs a probe yields
a verdict and the caller moves on; the labs of a check that ran out of time are stopped
at once (see ``probe.Watch``). Learner code a check calls (a function handed in) may
raise anything, ``SystemExit`` and ``KeyboardInterrupt`` included: that is a verdict
too. What no thread can survive is ``os._exit``: it ends the whole process, as it
would if a notebook cell called it; nbgrader then grades the rest of the notebook as
not run (``graders.autograde``).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .probe import WATCH, Rejected, Watch
from .verdict import Verdict

DEFAULT_TIMEOUT = 60.0
EXPIRE_WAIT = 2.0  # how long a check that ran out of time waits for its labs to stop


def _discover() -> dict[str, Callable[..., Verdict]]:
    found: dict[str, Callable[..., Verdict]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.endswith("_tasks"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for task, fn in module.CHECKS.items():
                if task in found:
                    raise RuntimeError(f"task {task!r} is defined twice")
                found[task] = fn
    return found


_CHECKS = _discover()

TASKS: dict[str, str] = {
    task: (fn.__doc__ or "").strip().splitlines()[0] for task, fn in sorted(_CHECKS.items())
}


def _run(task: str, submission: Any, params: dict[str, Any]) -> Verdict:
    try:
        return _CHECKS[task](submission, **params)
    except Rejected as stop:
        return stop.verdict
    except Exception as exc:  # a grader must always give a verdict
        return Verdict(task, False, 0.0,
                       f"The check could not judge this submission ({type(exc).__name__}: "
                       f"{_short(exc)}). Check that it is the kind of answer the exercise "
                       "asks for.")
    except BaseException as exc:  # noqa: BLE001 - learner code in this thread raised it
        said = _short(exc)
        return Verdict(task, False, 0.0,
                       f"The check was stopped by {type(exc).__name__}"
                       f"{': ' + said if said else ''}, raised by the code it "
                       "ran: a function handed in must return its answer, not exit or "
                       "interrupt (no sys.exit(), no raise KeyboardInterrupt).")


def _short(exc: BaseException, limit: int = 300) -> str:
    """An exception's text, cut: a hostile one may carry megabytes."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - its __str__ is learner code too
        return "(its message cannot be shown)"
    return text if len(text) <= limit else text[:limit] + "..."


FEEDBACK_LIMIT = 6000
EVIDENCE_LINES, EVIDENCE_LIMIT = 40, 500


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]} [... {len(text) - limit} more]"


def _bounded(verdict: Verdict) -> Verdict:
    """The verdict with its feedback and evidence cut to a readable size: a check may
    quote the submission, and a submission may be megabytes."""
    return replace(verdict, feedback=_clip(verdict.feedback, FEEDBACK_LIMIT),
                   evidence=tuple(_clip(str(line), EVIDENCE_LIMIT)
                                  for line in verdict.evidence[-EVIDENCE_LINES:]))


def check(task: str, submission: Any, *, timeout: float = DEFAULT_TIMEOUT,
          **params: Any) -> Verdict:
    """Run one check; never raises for a bad submission, only for an unknown task."""
    if task not in _CHECKS:
        raise KeyError(f"unknown task {task!r}; known: {', '.join(sorted(TASKS))}")
    box: list[Verdict] = []
    watch = Watch()

    def work() -> None:
        WATCH.set(watch)
        box.append(_run(task, submission, params))

    worker = threading.Thread(target=work, name=f"grader-{task}", daemon=True)
    worker.start()
    worker.join(timeout)
    if box:
        return _bounded(box[0])
    # Stopping a lab whose server is busy can take seconds: not on the learner's time.
    stopper = threading.Thread(target=watch.expire, name=f"grader-expire-{task}",
                               daemon=True)
    stopper.start()
    stopper.join(EXPIRE_WAIT)
    return Verdict(task, False, 0.0,
                   f"The check ran out of time after {timeout:g} s: the server did not "
                   "answer, or code of yours that the check ran never returned. Look for a "
                   "setting that makes clients wait, or a loop that does not end.")


__all__ = ["TASKS", "Verdict", "check"]
