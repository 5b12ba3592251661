"""Every notebook's nbgrader metadata is what generate_assignment and autograde need.

Checked on the stored instructor notebooks, without running nbgrader, so that a slip in
a new notebook is named here, cell by cell, rather than as a failed workflow:
- the metadata is valid for nbgrader 0.9 (schema version 3, the required keys, unique
  grade ids, points on every graded cell): what CheckCellMetadata enforces;
- solution markers appear only in solution cells, hidden-test markers only in graded
  cells, each region closed, and every solution code cell has one;
- graded code cells (tests) are locked, so a learner's edit is undone at autograde;
- a notebook with answer cells has tests worth points.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from .course import SOURCE, notebook_paths

NOTEBOOKS = notebook_paths(SOURCE)


def marker_problems(source: str, begin: str, end: str) -> list[str]:
    """Unbalanced or nested marker lines (``### BEGIN ...`` / ``### END ...``)."""
    problems, open_at = [], None
    for number, line in enumerate(source.splitlines(), 1):
        if begin in line:
            if open_at is not None:
                problems.append(f"line {number}: {begin} inside an open region")
            open_at = number
        elif end in line:
            if open_at is None:
                problems.append(f"line {number}: {end} without {begin}")
            open_at = None
    if open_at is not None:
        problems.append(f"line {open_at}: {begin} never closed")
    return problems


def notebook_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What keeps this notebook from being a sound nbgrader assignment."""
    problems = []
    try:
        MetadataValidator().validate_nb(nb)
    except Exception as error:  # nbgrader's ValidationError or SchemaMismatchError
        problems.append(f"nbgrader metadata: {str(error).splitlines()[0]}")
    answers, points = 0, 0.0
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        where = f"cell {index} ({meta.get('grade_id') or cell.get('id')})"
        solution, grade = meta.get("solution", False), meta.get("grade", False)
        has_solution = "BEGIN SOLUTION" in cell.source
        has_hidden = "BEGIN HIDDEN TESTS" in cell.source
        if has_solution and not solution:
            problems.append(f"{where}: solution markers in a cell not marked as a solution")
        if has_hidden and not grade:
            problems.append(f"{where}: hidden tests in a cell not marked as graded")
        if solution and cell.cell_type == "code":
            answers += 1
            if not has_solution:
                problems.append(f"{where}: solution cell without ### BEGIN SOLUTION")
        problems += [f"{where}: {p}" for p in
                     marker_problems(cell.source, "BEGIN SOLUTION", "END SOLUTION")
                     + marker_problems(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")]
        if grade:
            points += float(meta.get("points", 0))
            if cell.cell_type == "code" and not solution and not meta.get("locked"):
                problems.append(f"{where}: a test cell must be locked (\"locked\": true)")
    if answers and not points:
        problems.append("answer cells but no graded test cell with points")
    return problems


def _cell(source: str, **nbgrader: object) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False,
                                     "locked": False, **nbgrader}
    return cell


GOOD = [
    _cell("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION", solution=True, grade_id="a"),
    _cell("assert x == 2\n### BEGIN HIDDEN TESTS\nassert x > 1\n### END HIDDEN TESTS",
          grade=True, locked=True, points=1, grade_id="t"),
]


@pytest.mark.parametrize("change, expected", [
    (lambda cells: cells[0].metadata["nbgrader"].pop("schema_version"), "nbgrader metadata"),
    (lambda cells: cells[1].metadata["nbgrader"].pop("points"), "does not have points"),
    (lambda cells: cells[1].metadata["nbgrader"].update(grade_id="a"), "Duplicate grade id"),
    (lambda cells: cells[1].metadata["nbgrader"].update(locked=False), "must be locked"),
    (lambda cells: cells[0].metadata["nbgrader"].update(solution=False),
     "not marked as a solution"),
    (lambda cells: cells[1].metadata["nbgrader"].update(grade=False), "not marked as graded"),
    (lambda cells: setattr(cells[0], "source", "x = 2"), "without ### BEGIN SOLUTION"),
    (lambda cells: setattr(cells[1], "source", "### BEGIN HIDDEN TESTS\nassert x"),
     "never closed"),
    (lambda cells: cells[1].metadata["nbgrader"].update(points=0), "no graded test cell"),
])
def test_problems_are_found(change, expected: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in GOOD])
    assert notebook_problems(nb) == []
    change(nb.cells)
    problems = notebook_problems(nb)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_a_sound_assignment(path: Path) -> None:
    problems = notebook_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.relative_to(SOURCE.parent)}:\n  " + "\n  ".join(problems)
