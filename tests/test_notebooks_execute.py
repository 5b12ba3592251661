"""Every notebook runs top to bottom in a fresh kernel, headless."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.utils import determine_grade, is_grade, is_solution

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
TIMINGS: dict[str, float] = {}


def test_there_is_a_start_page() -> None:
    assert (ROOT / "notebooks" / "00-start-here" / "00-start-here.ipynb") in NOTEBOOKS


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    TIMINGS[path.stem] = time.perf_counter() - start
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    # The instructor version earns every point as nbgrader scores it: a graded cell that
    # writes to stderr, or whose last value is a number below its points, loses them.
    graded = {c.metadata.nbgrader.grade_id: determine_grade(c) for c in nb.cells
              if is_grade(c) and not is_solution(c) and c.cell_type == "code"}
    short = {grade_id: got for grade_id, got in graded.items() if got[0] != got[1]}
    assert short == {}, f"graded cells short of their points (score, points): {short}"
    print(f"{path.stem}: {TIMINGS[path.stem]:.1f} s; all notebooks so far: "
          f"{sum(TIMINGS.values()):.1f} s")
