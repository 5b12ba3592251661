"""nbgrader autograde under hostile notebooks: each gets a score, the next student is graded.

A small assignment of its own (one answer cell, a visible self-check and a hidden test,
both judged by ``graders.check``) in a temporary course made with the workflow test's
helpers (tests/nbgrader/course.py). Beside a plain correct student, each hostile one
answers correctly or not and adds a cell of their own that calls ``sys.exit()``; kills
the kernel with ``os._exit(1)`` from inside a grader check (the learner's CRAM-MD5
function); prints 50 MB; deletes the assignment's files; leaves three sleeping
subprocesses behind; or replaces ``graders.check``, ``Verdict.assert_passed`` and
``sys.modules["graders"]`` with things that always pass. Autograde must end, with every
student in the gradebook at the expected score, the printing bounded in the autograded
notebook, and the sleepers not holding the autograder up. The course's runner
(graders/autograde.py) is what makes the dead kernel and the replaced graders come out
right; nbgrader's own runner drops the first submission and passes the second.

The workflow test covers the syntax error, the endless loop and the edited test cell.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde
from traitlets.config.loader import PyFileConfigLoader

from graders import autograde
from tests.nbgrader.course import COURSE_ID, Course, cell_index, insert_cell_after, write_answers

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "99-hostile"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
ANSWER, CHECK, HIDDEN = "answer", "self-check", "hidden"
CELL_TIMEOUT = 20
SLEEPERS = 3
SLEEP_COMMAND = b"sleep\x0040\x00"

RIGHT = 'config = "protocols = imap pop3\\nauth_mechanisms = plain cram-md5\\n"\n'
WRONG = 'config = "protocols = pop3\\n"\n'
# Each student: an answer and a cell of their own after it (None: none).
STUDENTS = {
    "plain": (RIGHT, None),
    "exits": (RIGHT, "import sys\nsys.exit(3)\n"),
    "kills": (RIGHT, "import os\nimport graders\n\n"
                     "def cram(user, password, challenge):\n    os._exit(1)\n\n"
                     'graders.check("cram-md5-client", cram)\n'),
    "prints": (RIGHT, "import sys\n\nfor _ in range(50):  # 50 MB\n"
                      '    sys.stdout.write("x" * 1048575 + "\\n")\n'),
    "deletes": (RIGHT, "import os\nimport shutil\n\nfor name in os.listdir('.'):\n"
                       "    if os.path.isdir(name):\n        shutil.rmtree(name)\n"
                       "    else:\n        os.remove(name)\n"),
    "spawns": (RIGHT, "import subprocess\nsleepers = [subprocess.Popen(['sleep', '40']) "
                      f"for _ in range({SLEEPERS})]\n"
                      "with open(PIDS, 'a') as fh:\n"
                      "    fh.write(''.join(f'{p.pid}\\n' for p in sleepers))\n"),
    "patches": (WRONG, "import sys\nimport types\n\nimport graders\n\n\nclass Passed:\n"
                       "    passed = True\n\n    def assert_passed(self):\n        pass\n\n\n"
                       "graders.check = lambda *args, **kwargs: Passed()\n"
                       "graders.Verdict.assert_passed = lambda self: None\n"
                       'fake = types.ModuleType("graders")\nfake.check = graders.check\n'
                       'sys.modules["graders"] = fake\n'),
}
EXPECTED = {"plain": 2.0, "exits": 2.0, "kills": 0.0, "prints": 2.0, "deletes": 2.0,
            "spawns": 2.0, "patches": 0.0}
CHECK_SOURCE = ('import graders\n\ngraders.check("setting-value", config, setting="protocols", '
                'expected="imap pop3").assert_passed()\n')
HIDDEN_SOURCE = ("### BEGIN HIDDEN TESTS\n"
                 'graders.check("setting-value", config, setting="auth_mechanisms", '
                 'expected="plain cram-md5", protocol="imap").assert_passed()\n'
                 "### END HIDDEN TESTS\n")


def nbgrader_cell(source: str, grade_id: str, *, solution: bool = False,
                  points: int = 0) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": bool(points), "grade_id": grade_id,
                                 "locked": not solution, "schema_version": 3,
                                 "solution": solution, "task": False,
                                 **({"points": points} if points else {})}
    return cell


def write_assignment(folder: Path) -> None:
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A hostile-notebook exercise\n\nSet protocols and "
                                      "mechanisms in `config`."),
        nbgrader_cell('config = ""\n### BEGIN SOLUTION\n' + RIGHT + "### END SOLUTION\n",
                      ANSWER, solution=True),
        nbgrader_cell(CHECK_SOURCE, CHECK, points=1),
        nbgrader_cell(HIDDEN_SOURCE, HIDDEN, points=1),
    ]
    nbformat.write(nb, folder / NOTEBOOK)
    (folder / "data.txt").write_text("a file of the assignment\n")


def kill_sleepers(pids: Path) -> list[int]:
    """End the sleeping subprocesses the notebook started (by PID, once sure the PID is
    still such a sleeper); returns those that were still alive."""
    alive = []
    for pid in (int(p) for p in pids.read_text().split()) if pids.exists() else ():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if command == SLEEP_COMMAND:
            os.kill(pid, signal.SIGKILL)
            alive.append(pid)
    return alive


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Course, float, list[int]]:
    """Release the assignment, put each student's notebook where ``nbgrader collect``
    would (fetching and submitting are the workflow test's), autograde them all."""
    where = tmp_path_factory.mktemp("hostile-autograde")
    course = Course.create(where, CELL_TIMEOUT)
    write_assignment(course.root / "notebooks" / ASSIGNMENT)
    pids = where / "sleeper-pids"
    course.run_many(["generate_assignment", ASSIGNMENT, "--force"])
    for student, (answer, extra) in STUDENTS.items():
        folder = course.root / "submitted" / student / ASSIGNMENT
        shutil.copytree(course.root / "release" / ASSIGNMENT, folder)
        write_answers(folder / NOTEBOOK, {ANSWER: answer})
        if extra is not None:
            insert_cell_after(folder / NOTEBOOK, ANSWER,
                              extra.replace("PIDS", repr(str(pids))))
    start = time.monotonic()
    try:
        course.run_many(["autograde", ASSIGNMENT])
    finally:
        elapsed = time.monotonic() - start
        alive = kill_sleepers(pids)
    print(f"\nautograde of {len(STUDENTS)} hostile submissions: {elapsed:.1f} s")
    return course, elapsed, alive


def autograded(course: Course, student: str) -> nbformat.NotebookNode:
    return nbformat.read(course.root / "autograded" / student / ASSIGNMENT / NOTEBOOK,
                         as_version=4)


def test_every_student_gets_a_score(graded: tuple[Course, float, list[int]]) -> None:
    course, _, _ = graded
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", COURSE_ID) as gb:
        got = {student: gb.find_submission(ASSIGNMENT, student).score for student in STUDENTS}
    assert got == EXPECTED


def test_autograde_ends_in_bounded_time(graded: tuple[Course, float, list[int]]) -> None:
    _, elapsed, _ = graded
    # No cell reaches the timeout: the bound is a kernel start and a few checks each.
    assert elapsed < len(STUDENTS) * CELL_TIMEOUT


def test_the_dead_kernel_fails_the_cells_left(graded: tuple[Course, float, list[int]]) -> None:
    nb = autograded(graded[0], "kills")
    killer = nb.cells[cell_index(nb, ANSWER) + 1]
    assert [o.evalue for o in killer.outputs if o.output_type == "error"] == [autograde.DIED]
    for grade_id in (CHECK, HIDDEN):
        outputs = nb.cells[cell_index(nb, grade_id)].outputs
        assert [o.evalue for o in outputs] == [autograde.NOT_RUN]


def test_replaced_graders_do_not_pass(graded: tuple[Course, float, list[int]]) -> None:
    nb = autograded(graded[0], "patches")
    for grade_id in (CHECK, HIDDEN):
        errors = [o for o in nb.cells[cell_index(nb, grade_id)].outputs
                  if o.output_type == "error"]
        assert [o.ename for o in errors] == ["AssertionError"], grade_id
        assert "NOT YET [setting-value]" in errors[0].evalue


def test_enormous_output_is_cut(graded: tuple[Course, float, list[int]]) -> None:
    path = graded[0].root / "autograded" / "prints" / ASSIGNMENT / NOTEBOOK
    assert path.stat().st_size < 1_000_000


def test_deleted_files_cost_nothing_else(graded: tuple[Course, float, list[int]]) -> None:
    course = graded[0]
    # The submission's own copy lost its files; the course's did not.
    assert not (course.root / "autograded" / "deletes" / ASSIGNMENT / "data.txt").exists()
    assert (course.root / "autograded" / "plain" / ASSIGNMENT / "data.txt").exists()
    assert (course.root / "notebooks" / ASSIGNMENT / "data.txt").exists()


def test_sleepers_did_not_hold_autograde_up(graded: tuple[Course, float, list[int]],
                                            ) -> None:
    course, elapsed, alive = graded
    # They were started and the cell ended without error; autograde did not wait for
    # them (test_autograde_ends_in_bounded_time). Those still asleep when it ended
    # (jupyter_client may end the kernel's process group first) the fixture ended.
    started = (course.root.parent / "sleeper-pids").read_text().split()
    assert len(started) == SLEEPERS and len(alive) <= SLEEPERS
    nb = autograded(course, "spawns")
    assert not [o for o in nb.cells[cell_index(nb, ANSWER) + 1].outputs
                if o.output_type == "error"]


def test_the_runner_replaces_only_nbgraders_execute(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path))  # nothing made in the checkout
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    ours = list(config.Autograde.autograde_preprocessors)
    stock = [f"{cls.__module__.split('.')[0]}.preprocessors.{cls.__name__}"
             for cls in Autograde.class_traits()["autograde_preprocessors"].default()]
    assert ours[0] == "graders.autograde.GradingExecute"
    assert stock[0] == "nbgrader.preprocessors.Execute" and ours[1:] == stock[1:]


PATCH_THEN_CHECK = """
import sys, types
import graders
class Passed:
    passed = True
    def assert_passed(self):
        pass
graders.check = lambda *args, **kwargs: Passed()
fake = types.ModuleType("graders")
fake.check = graders.check
sys.modules["graders"] = fake
{fresh}
import graders
graders.check("setting-value", "protocols = pop3\\n", setting="protocols",
              expected="imap pop3").assert_passed()
"""


@pytest.mark.parametrize("fresh", [False, True])
def test_the_fresh_import_undoes_a_patch(fresh: bool) -> None:
    """The attack works without the runner's fresh import, and fails with it."""
    code = PATCH_THEN_CHECK.format(fresh=autograde.FRESH_GRADERS if fresh else "")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    if fresh:
        assert result.returncode == 1 and "NOT YET [setting-value]" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
