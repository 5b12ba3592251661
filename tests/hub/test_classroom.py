"""A class on JupyterHub: release, fetch, submit, collect and autograde through the exchange.

One instructor and two students, each with a server of their own (own process, own
port). The instructor releases the course's start page through formgrader; both
students fetch it with nbgrader's assignment list, answer it in their own servers (one
with the instructor's solution, one leaving the old configuration in place) and submit;
the instructor collects and autogrades, and the scores are checked: full marks for the
right answer, fewer for the wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import psutil
import pytest

from tests.hub.classroom import COURSE_ID, Classroom, HTTPFailure
from tests.hub.resources import tree_rss
from tests.tools import require_program

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "00-start-here"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
INSTRUCTOR = "instructor"
RIGHT, WRONG = "student1", "student2"
MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()"}


def source_notebook() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)


def solutions() -> dict[str, str]:
    """grade_id -> the instructor's answer (the solution cell without its marker lines)."""
    answers = {}
    for cell in source_notebook().cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            lines = [line for line in cell.source.splitlines() if not MARKERS.match(line)]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def max_points() -> float:
    return sum(cell.metadata.get("nbgrader", {}).get("points", 0)
               for cell in source_notebook().cells
               if cell.metadata.get("nbgrader", {}).get("grade"))


def answer(notebook: dict, right: bool) -> dict:
    """Fill in the fetched notebook: the instructor's solution, or the starting point left
    as it was (the stub that raises removed, so that the cell runs and the checks judge)."""
    answers = solutions()
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            kept = [line for line in cell["source"].splitlines()
                    if line.strip() not in STUB_LINES]
            cell["source"] = answers[grade_id] if right else "\n".join(kept)
    return notebook


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    proxy = require_program("configurable-http-proxy", "configurable-http-proxy from npm")
    room = Classroom(tmp_path_factory.mktemp("classroom"), INSTRUCTOR, [RIGHT, WRONG], proxy)
    room.prepare()
    try:
        room.start()
        yield room
    except BaseException:
        print(room.log_tail())
        raise
    finally:
        room.stop()


def test_accounts_log_in_with_their_passwords(classroom: Classroom) -> None:
    assert classroom.login(INSTRUCTOR, classroom.instructor_password) == 302
    for student in (RIGHT, WRONG):
        assert classroom.login(student, classroom.student_password) == 302
        assert classroom.login(student, classroom.instructor_password) == 403
    assert classroom.login(INSTRUCTOR, classroom.student_password) == 403
    assert classroom.login("stranger", classroom.student_password) == 403


def test_each_user_gets_a_server_of_their_own(classroom: Classroom) -> None:
    for user in (INSTRUCTOR, RIGHT, WRONG):
        server = classroom.spawn(user)
        assert server["url"] == f"/user/{user}/"
    routes = classroom.routes()
    ports = {user: urlsplit(routes[f"/user/{user}"]).port for user in (INSTRUCTOR, RIGHT, WRONG)}
    assert len(set(ports.values())) == 3, ports
    pids = classroom.server_pids()
    assert all(pids[user] for user in ports) and len({pids[user] for user in ports}) == 3, pids
    memory = {user: round(tree_rss(psutil.Process(pids[user])) / 2**20) for user in ports}
    print(f"servers: ports {ports}, pids { {u: pids[u] for u in ports} }, RSS MB {memory}")


def test_students_have_no_formgrader(classroom: Classroom) -> None:
    for student in (RIGHT, WRONG):
        with pytest.raises(HTTPFailure, match="HTTP 404"):
            classroom.user_api(student, "GET", "/formgrader/api/assignments")


def test_release_fetch_submit_collect_autograde(classroom: Classroom) -> None:
    classroom.formgrader("POST", f"/assignment/{ASSIGNMENT}/assign")
    classroom.formgrader("POST", f"/assignment/{ASSIGNMENT}/release")

    for student, right in ((RIGHT, True), (WRONG, False)):
        listed = classroom.user_api(student, "GET", f"/assignments?course_id={COURSE_ID}")
        assert [a["assignment_id"] for a in listed["value"]] == [ASSIGNMENT], listed
        classroom.assignment_action(student, "fetch", ASSIGNMENT)
        model = classroom.user_api(student, "GET", f"/api/contents/{NOTEBOOK}?content=1")
        released = "\n".join(c["source"] for c in model["content"]["cells"])
        assert "### BEGIN SOLUTION" not in released and "NotImplementedError" in released
        classroom.user_api(student, "PUT", f"/api/contents/{NOTEBOOK}", {
            "type": "notebook", "format": "json", "content": answer(model["content"], right)})
        classroom.assignment_action(student, "submit", ASSIGNMENT)

    inbound = sorted(p.name.split("+")[0] for p in
                     (classroom.exchange / COURSE_ID / "inbound").iterdir())
    assert inbound == [RIGHT, WRONG]

    classroom.formgrader("POST", f"/assignment/{ASSIGNMENT}/collect")
    for student in (RIGHT, WRONG):
        classroom.formgrader("POST", f"/submission/{ASSIGNMENT}/{student}/autograde")
    scores = {s["student"]: (s["score"], s["max_score"])
              for s in classroom.formgrader("GET", f"/submissions/{ASSIGNMENT}")}
    print(f"scores: {scores}")
    full = max_points()
    assert full > 0
    assert scores[RIGHT] == (full, full)
    assert scores[WRONG][1] == full and scores[WRONG][0] < full
