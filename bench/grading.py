"""Grading benchmark: nbgrader's autograde time per submission and for a class.

Usage: ``python bench/grading.py [--class-size N] [--runs N] [--quick]`` (also the
``grading`` scenario of bench/run.py). In a throwaway course (tests/nbgrader/course.py)
the start page assignment is generated once and a class of submissions is put in
submitted/, half all correct and half with the typical mistake of the workflow test, as
`nbgrader collect` leaves them. Prints the median of several runs of: one
``graders.check`` in process; ``nbgrader autograde`` of one submission (the command as an
instructor runs it, start-up included); the whole class in one command, and that time per
submission. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graders  # noqa: E402
from tests.nbgrader.course import Course, write_answers  # noqa: E402
from tests.nbgrader.submissions import (  # noqa: E402
    ANSWER_CELL,
    ASSIGNMENT,
    CORRECT,
    MISTAKES,
    NOTEBOOK,
)

CLASS_SIZE = 30
# The course's own cell timeout: no submission here comes near it.
CELL_TIMEOUT = 120

Row = tuple[str, str, float]  # what, unit, median


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def make_class(course: Course, size: int) -> list[str]:
    """Students s01..sNN with a submission each in submitted/, as collect leaves them."""
    released = course.root / "release" / ASSIGNMENT
    students = [f"s{number:02d}" for number in range(1, size + 1)]
    for number, student in enumerate(students):
        folder = course.root / "submitted" / student / ASSIGNMENT
        shutil.copytree(released, folder)
        write_answers(folder / NOTEBOOK, {ANSWER_CELL: (CORRECT, MISTAKES)[number % 2]})
        (folder / "timestamp.txt").write_text("2026-01-05 09:00:00.000000 UTC")
    return students


def bench(class_size: int = CLASS_SIZE, runs: int = 3) -> list[Row]:
    """The figures, each the median of ``runs`` (the class: of at most three)."""
    answer: dict[str, str] = {}
    exec(CORRECT, answer)  # the learner's cell, run as the notebook runs it
    config = answer["modern"]
    rows: list[Row] = [
        ("graders.check('config-modern'), in process", "ms",
         1000 * median_seconds(lambda: graders.check("config-modern", config), runs * 10)),
    ]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        course = Course.create(Path(tmp), CELL_TIMEOUT)
        course.run("generate_assignment", ASSIGNMENT)
        students = make_class(course, class_size)
        one = median_seconds(lambda: course.run("autograde", ASSIGNMENT,
                                                f"--student={students[0]}", "--force"), runs)
        rows.append(("nbgrader autograde, one submission", "s", one))
        whole = median_seconds(lambda: course.run("autograde", ASSIGNMENT, "--force"),
                               min(runs, 3))
        rows.append((f"nbgrader autograde, class of {class_size}", "s", whole))
        rows.append((f"  the same, per submission ({class_size} in one command)", "s",
                     whole / class_size))
    return rows


def show(rows: list[Row]) -> None:
    print(f"\nGrading {ASSIGNMENT} with nbgrader")
    print(f"{'what':<52} {'unit':>4} {'median':>10}")
    for what, unit, value in rows:
        print(f"{what:<52} {unit:>4} {value:>10.3f}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=CLASS_SIZE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a class of 5, one run")
    args = parser.parse_args()
    if args.quick:
        args.class_size, args.runs = 5, 1
    show(bench(args.class_size, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
