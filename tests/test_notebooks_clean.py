"""Notebooks are stored clean: valid nbformat 4.5, every cell with an id, no outputs.

Outputs, execution counts and saved widget state make diffs noisy, leak whatever a
run printed, and would let a learner see results before running a cell. Notebooks are
executed from the top in other tests; here only what is stored in git is checked.

The raw JSON is checked before nbformat sees it, because nbformat.validate quietly
adds missing cell ids (with only a warning) instead of reporting them.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(
    path
    for path in (ROOT / "notebooks").rglob("*.ipynb")
    if ".ipynb_checkpoints" not in path.parts
)


def notebook_problems(raw: dict) -> list[str]:
    """Everything that keeps a notebook (as parsed JSON) from being stored clean."""
    problems: list[str] = []
    version = (raw.get("nbformat"), raw.get("nbformat_minor"))
    if version != (4, 5):
        problems.append(f"nbformat {version[0]}.{version[1]}, expected 4.5")
    if "widgets" in raw.get("metadata", {}):
        problems.append("notebook metadata holds saved widget state ('widgets')")
    for index, cell in enumerate(raw.get("cells", [])):
        where = f"cell {index} ({cell.get('id', 'no id')})"
        if not cell.get("id"):
            problems.append(f"{where}: no cell id")
        if cell.get("cell_type") == "code":
            if cell.get("outputs"):
                problems.append(f"{where}: has outputs")
            if cell.get("execution_count") is not None:
                problems.append(f"{where}: execution count {cell['execution_count']}")
        if "execution" in cell.get("metadata", {}):
            problems.append(f"{where}: metadata holds execution timings")
    with warnings.catch_warnings():
        # Turn nbformat's repair-with-a-warning into a failure.
        warnings.simplefilter("error")
        try:
            nbformat.validate(nbformat.from_dict(copy.deepcopy(raw)))
        except Exception as error:  # ValidationError, or a warning raised as an error
            problems.append(f"not valid nbformat: {str(error).splitlines()[0]}")
    return problems


def _clean_notebook() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("print('hello')"),
    ]
    return json.loads(nbformat.writes(nb))


def test_a_clean_notebook_has_no_problems():
    assert notebook_problems(_clean_notebook()) == []


def _executed(raw: dict) -> None:
    cell = raw["cells"][1]
    cell["execution_count"] = 1
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]


def _without_ids(raw: dict) -> None:
    for cell in raw["cells"]:
        del cell["id"]


def _old_format(raw: dict) -> None:
    raw["nbformat_minor"] = 4
    _without_ids(raw)


def _invalid(raw: dict) -> None:
    raw["cells"][1]["outputs"] = [{"output_type": "no-such-output"}]


def _widget_state(raw: dict) -> None:
    raw["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}


def _timed(raw: dict) -> None:
    raw["cells"][1]["metadata"]["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("dirty", "expected"),
    [
        (_executed, "has outputs"),
        (_executed, "execution count 1"),
        (_without_ids, "no cell id"),
        (_old_format, "expected 4.5"),
        (_invalid, "not valid nbformat"),
        (_widget_state, "widget state"),
        (_timed, "execution timings"),
    ],
)
def test_a_dirty_notebook_is_reported(dirty, expected):
    raw = _clean_notebook()
    dirty(raw)
    problems = notebook_problems(raw)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_stored_notebook_is_clean(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    problems = notebook_problems(raw)
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)
