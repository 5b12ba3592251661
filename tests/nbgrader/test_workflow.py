"""The instructor's whole nbgrader workflow, end to end, on a copy of the course.

In a temporary course folder with a temporary exchange (set the way a JupyterHub sets it,
in a Jupyter-wide nbgrader_config.py): every assignment folder is generated and released;
three students, each with their own home and cache, fetch ASSIGNMENT, answer it and submit
(one all correct, one with a typical mistake, one with broken cells: a syntax error, an
endless loop and an edited read-only test cell); the instructor collects, autogrades and
generates feedback. Scores are read from nbgrader's gradebook and compared exactly, per
student and per cell. About a minute and a half on an idle two-core machine; the time of
each step is printed.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from .course import (
    COURSE_ID,
    Course,
    assignments,
    cell_index,
    insert_cell_after,
    notebook_paths,
    write_answers,
)
from .submissions import (
    ANSWER_CELL,
    ASSIGNMENT,
    CORRECT,
    EDITED_TEST,
    ENDLESS_LOOP,
    HIDDEN,
    MISTAKES,
    NOTEBOOK,
    SELF_CHECK,
    SYNTAX_ERROR,
)

# Long enough for any cell of the assignment on a busy machine, short enough to wait for.
CELL_TIMEOUT = 20

EXPECTED = {
    "ada": {SELF_CHECK: 2.0, HIDDEN: 1.0},
    "bob": {SELF_CHECK: 0.0, HIDDEN: 1.0},
    "cyd": {SELF_CHECK: 0.0, HIDDEN: 0.0},
}
# What the graders said, as each student's feedback must show it.
FEEDBACK = {
    "ada": ["No obsolete settings: this is Dovecot 2.3 syntax.",
            "auth_mechanisms is 'plain cram-md5', as asked."],
    "bob": ["NOT YET [config-modern]",
            "'imaps' protocol is no longer necessary, remove it",
            "Write the modern setting that each warning names."],
    "cyd": ["SyntaxError", "NameError: name 'modern' is not defined"],
}
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def regions(source: str, begin: str, end: str) -> list[str]:
    """The text between each pair of marker lines (the markers' lines excluded)."""
    pattern = rf"^[^\n]*{begin}[^\n]*\n(.*?)^[^\n]*{end}"
    return [m.group(1).strip() for m in re.finditer(pattern, source, re.M | re.S)]


def secrets(source_notebook: Path) -> list[str]:
    """Every solution and hidden-test region of an instructor notebook."""
    nb = nbformat.read(source_notebook, as_version=4)
    found = []
    for cell in nb.cells:
        found += regions(cell.source, "BEGIN SOLUTION", "END SOLUTION")
        found += regions(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
    return [text for text in found if text]


def assert_student_version(released: Path, source: Path) -> None:
    """No marker and no solution or hidden-test text; test cells locked; no outputs."""
    text = released.read_text()
    for marker in MARKERS:
        assert marker not in text, f"{released}: {marker!r} left in the student version"
    nb = nbformat.read(released, as_version=4)
    sources = "\n".join(cell.source for cell in nb.cells)
    for secret in secrets(source):
        assert secret not in sources, (
            f"{released}: the student version shows instructor text:\n{secret}")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            assert cell.metadata.get("editable") is False, f"{released}: test cell editable"
        assert not cell.get("outputs"), f"{released}: stored outputs"


def scores(course: Course) -> dict[str, dict[str, float]]:
    """Per student, the autograded score of each graded cell of ASSIGNMENT."""
    got: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", COURSE_ID) as gb:
        for student in EXPECTED:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            got[student] = {grade.name: grade.score for grade in nb.grades}
    return got


def totals(course: Course) -> dict[str, tuple[float, float]]:
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", COURSE_ID) as gb:
        return {student: (gb.find_submission(ASSIGNMENT, student).score,
                          gb.find_submission(ASSIGNMENT, student).max_score)
                for student in EXPECTED}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Course:
    """Run the whole workflow once; the tests below look at what it left behind."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def show(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\nnbgrader workflow: {line}", end="")

    start = time.perf_counter()
    lap = start
    course = Course.create(tmp_path_factory.mktemp("nbgrader"), CELL_TIMEOUT)

    def step(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        show(f"{name}: {now - lap:.1f} s")
        lap = now

    course.run_many(["generate_assignment", "*", "--force"],
                    *(["release_assignment", a] for a in assignments(course.root / "notebooks")))
    step(f"generate and release {len(assignments())} assignment(s)")

    answers = {"ada": CORRECT, "bob": MISTAKES, "cyd": SYNTAX_ERROR}
    for student, answer in answers.items():
        folder = course.fetch(student, ASSIGNMENT)
        write_answers(folder / NOTEBOOK, {ANSWER_CELL: answer})
    broken = course.student_home("cyd") / ASSIGNMENT / NOTEBOOK
    insert_cell_after(broken, ANSWER_CELL, ENDLESS_LOOP)
    write_answers(broken, {SELF_CHECK: EDITED_TEST})
    for student in answers:
        course.submit(student, ASSIGNMENT)
    step("three students fetch, answer and submit")

    course.run_many(["collect", ASSIGNMENT], ["autograde", ASSIGNMENT],
                    ["generate_feedback", ASSIGNMENT])
    step("collect, autograde, generate feedback")
    show(f"total {time.perf_counter() - start:.1f} s\n")
    return course


def test_every_assignment_is_generated_and_released(graded: Course) -> None:
    expected = assignments()
    assert expected, "no assignment folder under notebooks/"
    assert sorted(p.name for p in (graded.root / "release").iterdir()) == expected
    outbound = graded.exchange / COURSE_ID / "outbound"
    assert sorted(p.name for p in outbound.iterdir()) == expected


def test_the_hub_exchange_wins_over_the_course_default(graded: Course) -> None:
    # The course's own default exchange was neither used nor created.
    assert not (graded.root / ".nbgrader").exists()


def test_student_versions_hold_no_solutions_and_no_hidden_tests(graded: Course) -> None:
    for assignment in assignments():
        for source in notebook_paths(graded.root / "notebooks" / assignment):
            relative = source.relative_to(graded.root / "notebooks")
            assert_student_version(graded.root / "release" / relative, source)
            assert_student_version(graded.exchange / COURSE_ID / "outbound" / relative, source)
    fetched = graded.student_home("ada") / ASSIGNMENT / NOTEBOOK
    assert "### BEGIN" not in fetched.read_text()


def test_scores_per_student_and_cell(graded: Course) -> None:
    assert scores(graded) == EXPECTED
    assert totals(graded) == {"ada": (3.0, 3.0), "bob": (1.0, 3.0), "cyd": (0.0, 3.0)}


def test_the_edited_read_only_cell_was_put_back(graded: Course) -> None:
    autograded = graded.root / "autograded" / "cyd" / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(autograded, as_version=4)
    source = nbformat.read(graded.root / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    test_cell = nb.cells[cell_index(nb, SELF_CHECK)]
    assert test_cell.source == source.cells[cell_index(source, SELF_CHECK)].source
    assert EDITED_TEST.strip() not in "\n".join(cell.source for cell in nb.cells)
    assert [o.ename for o in test_cell.outputs if o.output_type == "error"] == ["NameError"]


def test_the_endless_loop_was_cut_and_grading_went_on(graded: Course) -> None:
    autograded = graded.root / "autograded" / "cyd" / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(autograded, as_version=4)
    loop = nb.cells[cell_index(nb, ANSWER_CELL) + 1]
    assert loop.source == ENDLESS_LOOP
    # The kernel was interrupted (KeyboardInterrupt) and nbgrader recorded the timeout.
    errors = [o.ename for o in loop.outputs if o.output_type == "error"]
    assert "CellTimeoutError" in errors, errors
    # Every test cell after the loop still ran.
    hidden = nb.cells[cell_index(nb, HIDDEN)]
    assert any(o.output_type == "error" for o in hidden.outputs)


@pytest.mark.parametrize("student", sorted(FEEDBACK))
def test_feedback_shows_the_graders_messages(graded: Course, student: str) -> None:
    page = graded.root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    for message in FEEDBACK[student]:
        assert message in text, f"{student}'s feedback lacks {message!r}"


def test_validate_passes_on_the_instructor_version(graded: Course) -> None:
    output = graded.run("validate", str(graded.root / "notebooks" / ASSIGNMENT / NOTEBOOK))
    assert "Success! Your notebook passes all the tests." in output, output


def test_validate_fails_on_an_unanswered_student_version(graded: Course) -> None:
    fresh = graded.student_home("eve")
    folder = graded.fetch("eve", ASSIGNMENT)
    output = graded.run("validate", str(folder / NOTEBOOK), home=fresh, cwd=fresh)
    # nbgrader validate exits with 0 either way: its verdict is in the text.
    assert "VALIDATION FAILED ON 1 CELL(S)!" in output, output
    assert "NOT YET [config-modern]" in output, output


def test_a_self_learner_validates_the_student_edition(graded: Course) -> None:
    # What `make student-edition` runs, for one assignment.
    graded.run("generate_assignment", ASSIGNMENT, "--force", "--no-db",
               "--CourseDirectory.release_directory=student-edition")
    notebook = graded.root / "student-edition" / ASSIGNMENT / NOTEBOOK
    assert_student_version(notebook, graded.root / "notebooks" / ASSIGNMENT / NOTEBOOK)
    write_answers(notebook, {ANSWER_CELL: CORRECT})
    output = graded.run("validate", str(notebook))
    assert "Success! Your notebook passes all the tests." in output, output
