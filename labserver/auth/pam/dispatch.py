"""Running a stack: libpam's _pam_dispatch_aux() (pam_dispatch.c) in Python.

The state is an *impression* (undecided, positive, negative) and a *status* (the
code the stack will return). For each rule, the module's return code picks an action
from the rule's table (pam.conf(5)):

- ``ok``: if nothing failed so far, this code becomes the status (``PAM_IGNORE`` never does);
- ``done``: like ``ok``, then stop and return;
- ``bad``: the first failure becomes the status, and the stack goes on;
- ``die``: like ``bad``, then stop;
- ``ignore``: nothing changes;
- ``reset``: forget everything decided so far;
- N: like ``ok``, then skip the next N rules.

At the end, a ``PAM_SUCCESS`` status without a positive impression (say, a stack of
only ``optional`` modules that returned ``PAM_IGNORE``) is turned into
``PAM_PERM_DENIED``, libpam's "sanity check". A substack runs as one rule: its
``done``/``die`` end only the substack, and its result is judged by the parent's
``required``-like table. An empty stack returns ``PAM_PERM_DENIED``.
"""

from __future__ import annotations

from collections.abc import Callable

from .codes import MUST_FAIL, Pam
from .conf import Rule

UNDEF, POSITIVE, NEGATIVE = "undef", "positive", "negative"

# Runs one module rule; returns a code (the caller maps unknown modules etc.).
ModuleCall = Callable[[Rule], int]


def run_stack(rules: list[Rule], call: ModuleCall,
              trace: list[tuple[str, int, object]] | None = None) -> Pam:
    """The stack's verdict. ``trace`` receives (origin, code, action) per rule run."""
    if not rules:
        return MUST_FAIL
    impression = UNDEF
    status: int = MUST_FAIL
    skip = 0
    for rule in rules:
        if skip:
            skip -= 1
            continue
        if rule.sub is not None:
            retval = int(run_stack(rule.sub, call, trace))
        elif rule.must_fail is not None:
            retval = int(MUST_FAIL)
        else:
            retval = call(rule)
        if not 0 <= retval < len(rule.actions):
            retval = int(MUST_FAIL)
        action = rule.actions[retval]
        if trace is not None:
            trace.append((rule.origin, retval, action))
        if action == "reset":
            impression, status = UNDEF, MUST_FAIL
        elif action in ("ok", "done") or isinstance(action, int):
            if impression == UNDEF or (impression == POSITIVE and status == Pam.SUCCESS):
                if retval != Pam.IGNORE:
                    impression, status = POSITIVE, retval
            if action == "done":
                break
            if isinstance(action, int):
                skip = action
        elif action in ("bad", "die"):
            if impression != NEGATIVE:
                impression, status = NEGATIVE, retval
            if action == "die":
                break
    if status == Pam.SUCCESS and impression != POSITIVE:
        status = MUST_FAIL
    return Pam(status)
