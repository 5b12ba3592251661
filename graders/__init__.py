"""Graders for Mailbox Access Lab: behaviour-based checks with feedback.

``check(task, submission, **params)`` returns a ``Verdict``; ``TASKS`` lists the
task ids with a one-line description. In an nbgrader test cell::

    graders.check("config-valid", my_config).assert_passed()

Every module named ``*_tasks.py`` in this package contributes its ``CHECKS`` (task id
to function; the function's first docstring line is the task's description). A check
runs under a time limit in a worker thread, so a submission that hangs a probe yields
a verdict and the caller moves on.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from typing import Any

from .probe import Rejected
from .verdict import Verdict

DEFAULT_TIMEOUT = 60.0


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
                       f"{exc}). Check that it is the kind of answer the exercise asks for.")


def check(task: str, submission: Any, *, timeout: float = DEFAULT_TIMEOUT,
          **params: Any) -> Verdict:
    """Run one check; never raises for a bad submission, only for an unknown task."""
    if task not in _CHECKS:
        raise KeyError(f"unknown task {task!r}; known: {', '.join(sorted(TASKS))}")
    box: list[Verdict] = []
    worker = threading.Thread(target=lambda: box.append(_run(task, submission, params)),
                              name=f"grader-{task}", daemon=True)
    worker.start()
    worker.join(timeout)
    if box:
        return box[0]
    return Verdict(task, False, 0.0,
                   f"The check ran out of time after {timeout:g} s: the server (or the "
                   "submission) did not answer. Look for a setting that makes clients wait.")


__all__ = ["TASKS", "Verdict", "check"]
