"""Crash, bounded form: 15 SIGKILLs of a Maildir lab and 15 of an mbox lab.

The long form is ``make crash`` (200 kills of each); both run ``bench/crash.py``, whose
docstring says what is checked after every restart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import crash
from tests.tools import require_program


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_sigkill_loses_no_acknowledged_message(kind: str, open_root: Path) -> None:
    if kind == "maildir":
        require_program("doveadm", "dovecot-core")
    report = crash.run(15, kind, open_root)
    print(report.text())
    assert report.problems == []
    assert report.kills == 15 and report.planted_locks == 7
    assert report.ops["APPEND"] > 0 and report.ops["UID EXPUNGE"] > 0
    assert report.ops["POP3 QUIT"] > 0
    # The kills cut operations short, or the run proved nothing.
    assert sum(report.in_flight.values()) >= 15
