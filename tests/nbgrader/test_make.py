"""The instructor's make targets cover every assignment folder (dry run: nothing runs)."""

from __future__ import annotations

import subprocess

import pytest

from ..tools import require_program
from .course import ROOT, assignments

TARGETS = ["assignments", "release", "collect", "autograde", "feedback", "student-edition"]


def dry_run(*args: str) -> str:
    make = require_program("make", "make")
    result = subprocess.run([make, "-n", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_target_loops_over_every_assignment(target: str) -> None:
    listed = " ".join(assignments())
    assert f"for a in {listed};" in dry_run(target)


def test_assignments_can_be_narrowed() -> None:
    assert "for a in 00-start-here;" in dry_run("autograde", "ASSIGNMENTS=00-start-here")
