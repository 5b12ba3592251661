"""Graders for Mailbox Access Lab: behaviour-based checks with feedback.

``check(task, submission, **params)`` returns a ``Verdict``; ``TASKS`` lists the
task ids with a one-line description. In an nbgrader test cell::

    graders.check("config-valid", my_config).assert_passed()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import config_tasks
from .verdict import Verdict

_CHECKS: dict[str, Callable[..., Verdict]] = {
    "config-valid": config_tasks.config_valid,
    "config-modern": config_tasks.no_obsolete,
    "setting-value": config_tasks.setting_value,
}

TASKS: dict[str, str] = {
    task: (fn.__doc__ or "").strip().splitlines()[0] for task, fn in _CHECKS.items()
}


def check(task: str, submission: Any, **params: Any) -> Verdict:
    """Run one check; never raises for a bad submission, only for an unknown task."""
    if task not in _CHECKS:
        raise KeyError(f"unknown task {task!r}; known: {', '.join(sorted(TASKS))}")
    try:
        return _CHECKS[task](submission, **params)
    except Exception as exc:  # a grader must always give a verdict
        return Verdict(task, False, 0.0,
                       f"The check could not judge this submission ({type(exc).__name__}: "
                       f"{exc}). Check that it is the kind of answer the exercise asks for.")


__all__ = ["TASKS", "Verdict", "check"]
