"""The student version of every notebook (nbgrader's release) runs its demonstrations.

nbgrader replaces each solution with a stub that raises and removes the hidden tests;
what a learner then runs top to bottom may fail only where the exercise is: in the
answer cells and the graded check cells, never in an explanation or demonstration.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
from nbgrader.utils import is_grade, is_solution

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def student_version(path: Path) -> nbformat.NotebookNode:
    """What ``nbgrader generate_assignment`` hands out, without the database steps."""
    nb = nbformat.read(path, as_version=4)
    resources = {"language": "python"}
    nb, resources = ClearSolutions().preprocess(nb, resources)
    nb, _ = ClearHiddenTests().preprocess(nb, resources)
    return nb


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_version_fails_only_where_the_exercises_are(path: Path) -> None:
    nb = student_version(path)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    failed = [c for c in nb.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    outside = [c.source.splitlines()[0] if c.source else "(empty)" for c in failed
               if not (is_solution(c) or is_grade(c))]
    assert outside == [], f"demonstration cells fail in the student version: {outside}"
    stubs = sum(1 for c in nb.cells if is_solution(c) and c.cell_type == "code")
    assert stubs == 0 or failed, "the unanswered exercises should fail their checks"
    print(f"{path.stem} (student version): {time.perf_counter() - start:.1f} s, "
          f"{len(failed)} exercise cell(s) failing as unanswered")
