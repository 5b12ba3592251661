"""A throwaway nbgrader course for the workflow test and the grading benchmark.

A course is a temporary folder holding a copy of notebooks/ and of the project's
nbgrader_config.py (so CourseDirectory.root is the copy), an exchange of its own, and a
Jupyter configuration folder standing in for a JupyterHub's: its nbgrader_config.py sets
only the exchange, as a hub's global file does, and every nbgrader command of the
instructor and of the students reads it. Students get their own home, Jupyter data and
nbgrader cache folders. Students run the `nbgrader` command of the environment running the
tests, as they would type it; the instructor too, or nbgrader's applications several in
one process (``run_many``), the way nbgrader's own tests and formgrader run them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "notebooks"
NBGRADER = Path(sys.executable).parent / "nbgrader"
COURSE_ID = "mailbox-access-lab"
COMMAND_TIMEOUT = 600
RUN_MANY = """\
import json, sys
from nbgrader.tests import run_nbgrader
for args in json.loads(sys.argv[1]):
    print("nbgrader", *args)
    print(run_nbgrader(args))
"""


def assignments(source: Path = SOURCE) -> list[str]:
    """The assignment ids: every folder of the source tree that holds a notebook."""
    return sorted({path.parent.name for path in source.glob("*/*.ipynb")})


def notebook_paths(folder: Path) -> list[Path]:
    """The notebooks of an assignment folder (checkpoints excluded)."""
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _environment(home: Path) -> dict[str, str]:
    """A user's environment: own home and Jupyter folders; this checkout's packages first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBGRADER"))}
    env.update(HOME=str(home), JUPYTER_DATA_DIR=str(home / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"), JUPYTER_PLATFORM_DIRS="1",
               PATH=f"{NBGRADER.parent}{os.pathsep}{env.get('PATH', '')}",
               # Kernels import graders and labserver from the checkout under test.
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    return env


@dataclass
class Course:
    """A course folder, its exchange and the hub-wide Jupyter configuration folder."""

    root: Path
    exchange: Path
    hub_config: Path

    @classmethod
    def create(cls, where: Path, cell_timeout: int) -> Course:
        """Copy the course into ``where``/course; autograde cuts each cell at ``cell_timeout`` s."""
        root = where / "course"
        shutil.copytree(SOURCE, root / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        config = (ROOT / "nbgrader_config.py").read_text()
        (root / "nbgrader_config.py").write_text(
            config + f"\n# The test course: a short cell timeout.\nCELL_TIMEOUT = {cell_timeout}\n"
            "c.Execute.timeout = c.ExecutePreprocessor.timeout = CELL_TIMEOUT\n")
        exchange = where / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)
        hub_config = where / "hub-config"
        hub_config.mkdir()
        (hub_config / "nbgrader_config.py").write_text(
            f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(exchange)!r}\n")
        (where / "instructor").mkdir()
        return cls(root, exchange, hub_config)

    def run(self, *args: str, home: Path | None = None, cwd: Path | None = None) -> str:
        """Run ``nbgrader ARGS``; return its output, or fail the caller with it."""
        return self._call([str(NBGRADER), *args], home, cwd)

    def run_many(self, *commands: list[str]) -> str:
        """Run several instructor commands in one process, as nbgrader's own tests do.

        The same applications as ``nbgrader COMMAND`` run, started one after the other
        (nbgrader.tests.run_nbgrader), which spares a Python start-up per command.
        """
        return self._call([sys.executable, "-c", RUN_MANY, json.dumps(commands)], None, None)

    def _call(self, argv: list[str], home: Path | None, cwd: Path | None) -> str:
        env = _environment(home or self.root.parent / "instructor")
        env["JUPYTER_CONFIG_DIR"] = str(self.hub_config)
        result = subprocess.run(argv, cwd=cwd or self.root, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                                check=False)
        output = result.stdout + result.stderr
        if result.returncode:
            raise AssertionError(f"{' '.join(argv)} exited with {result.returncode}:\n{output}")
        return output

    def student_home(self, student: str) -> Path:
        home = self.root.parent / "students" / student
        home.mkdir(parents=True, exist_ok=True)
        return home

    def fetch(self, student: str, assignment: str) -> Path:
        """Fetch ``assignment`` as ``student``; return the fetched folder."""
        home = self.student_home(student)
        self.run("fetch_assignment", assignment, f"--course={COURSE_ID}", home=home, cwd=home)
        return home / assignment

    def submit(self, student: str, assignment: str) -> str:
        home = self.student_home(student)
        return self.run("submit", assignment, f"--course={COURSE_ID}", f"--student={student}",
                        home=home, cwd=home)


def edit_notebook(path: Path, change: Callable[[nbformat.NotebookNode], None]) -> None:
    """Read a notebook, let ``change`` edit it in place, write it back."""
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def cell_index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    """The index of the cell with this nbgrader grade id."""
    for index, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    raise KeyError(f"no cell with grade id {grade_id!r}")


def write_answers(path: Path, answers: dict[str, str]) -> None:
    """Replace the source of each answer cell (by grade id), as a learner's typing would."""
    def change(nb: nbformat.NotebookNode) -> None:
        for grade_id, source in answers.items():
            nb.cells[cell_index(nb, grade_id)].source = source
    edit_notebook(path, change)


def insert_cell_after(path: Path, grade_id: str, source: str) -> None:
    """Add a code cell of the learner's own after the cell with this grade id."""
    def change(nb: nbformat.NotebookNode) -> None:
        nb.cells.insert(cell_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(source))
    edit_notebook(path, change)
