"""The make targets: the instructor's cover every assignment folder (dry run: nothing
runs); `make start` opens the student edition, which it makes first, in a copy of the
course, without ever overwriting a learner's work; `make instructor` opens the sources."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from ..browser.lab import copy_course, make_env, require_current_venv
from ..tools import require_program
from .course import ROOT, assignments

# The file `make start` keeps up to date before it starts JupyterLab.
EDITION_STAMP = "student-edition/.made"

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


def lab_line(plan: str) -> str:
    """The `jupyter lab` command of a dry run."""
    lines = [line for line in plan.replace("\\\n", " ").splitlines()
             if "bin/jupyter lab " in line]
    assert len(lines) == 1, plan
    return lines[0]


def test_start_opens_the_student_edition_without_the_instructor_tools() -> None:
    line = lab_line(dry_run("start"))
    assert f'JUPYTER_CONFIG_DIR="{ROOT}/.jupyter/learner"' in line
    assert "student-edition/00-start-here/00-start-here.ipynb" in line
    assert "notebooks/" not in line


def test_instructor_opens_the_sources_with_the_course_config() -> None:
    line = lab_line(dry_run("instructor"))
    assert "JUPYTER_CONFIG_DIR" not in line  # the Makefile's own: .jupyter/
    assert "notebooks/00-start-here/00-start-here.ipynb" in line


def make(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=course, env=make_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=240, check=False)


def made(course: Path, *args: str) -> str:
    result = make(course, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.timeout(600)
def test_start_makes_the_student_edition_and_keeps_a_learners_work(tmp_path: Path) -> None:
    require_program("make", "make")
    course = copy_course(tmp_path / "course")
    require_current_venv(course)
    plan = made(course, "-n", "start")
    assert "generate_assignment" in plan.partition("bin/jupyter lab ")[0], plan

    made(course, EDITION_STAMP)
    edition = course / "student-edition"
    assert sorted(p.parent.name for p in edition.glob("*/*.ipynb")) == assignments()
    for path in edition.glob("*/*.ipynb"):
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path
    assert make(course, "-q", EDITION_STAMP).returncode == 0
    assert "generate_assignment" not in made(course, "-n", "start")

    # The learner works in one notebook and deletes another for a fresh copy; then the
    # course is updated.
    first, second = assignments()[:2]
    work = edition / first / f"{first}.ipynb"
    work.write_text("the learner's own work")
    fresh = edition / second / f"{second}.ipynb"
    fresh.unlink()
    later = time.time() + 5
    os.utime(course / "notebooks" / first / f"{first}.ipynb", (later, later))
    assert make(course, "-q", EDITION_STAMP).returncode != 0
    output = made(course, EDITION_STAMP)
    assert work.read_text() == "the learner's own work"
    assert fresh.exists()
    assert f"added student-edition/{second}/{second}.ipynb" in output, output
    assert "1 missing files added, none of yours overwritten" in output, output
