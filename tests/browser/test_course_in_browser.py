"""The course as a learner and an instructor see it, in a real browser.

`make start` serves a copy of the course as a learner gets it: the student edition, with
no instructor's tools. Chromium opens its start page and a topic notebook and runs every
cell through JupyterLab's Run menu: the run stops at the first unanswered exercise; the
learner types in the answers (the instructor's solutions) and runs all again. Then every
code cell has an execution count, no cell shows an error, the widgets rendered, and a
quiz's Check button answers with feedback. `make instructor` serves the sources, and its
formgrader lists the assignments. Screenshots of each step go to tests/browser/artifacts/.

The topic notebook is the first of 01-* ... 09-* that shows a review quiz.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Locator, Page

from tests.browser.lab import MakeLab

EDITION = "student-edition"
START_PAGE = f"{EDITION}/00-start-here/00-start-here.ipynb"
RUN_TIMEOUT_MS = 180_000
INSTRUCTOR_PLUGINS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list"]
SOLUTION_MARKERS = re.compile(r"^.*(BEGIN|END) SOLUTION.*\n?", re.M)


def assignments(course: Path) -> list[str]:
    """nbgrader's assignments: the folders of notebooks/ that hold a notebook."""
    return sorted(p.parent.name for p in (course / "notebooks").glob("*/*.ipynb"))


def code_cell_count(path: Path) -> int:
    return sum(c.cell_type == "code" for c in nbformat.read(path, as_version=4).cells)


def quiz_notebook(course: Path) -> str:
    """The topic notebook to open, relative to the course: the first that shows a quiz."""
    for path in sorted((course / EDITION).glob("0[1-9]-*/0[1-9]-*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                         if c.cell_type == "code")
        if "review_quiz(" in code:
            return str(path.relative_to(course))
    raise AssertionError(f"no topic notebook ({EDITION}/01-* ... 09-*) shows a review quiz")


def answers(course: Path, relative: str) -> dict[int, str]:
    """The exercises of a student-edition notebook and their answers: code-cell index ->
    the instructor's cell (same nbgrader grade_id in notebooks/) without solution markers."""
    student = nbformat.read(course / relative, as_version=4)
    source = nbformat.read(course / "notebooks" / Path(relative).relative_to(EDITION),
                           as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: SOLUTION_MARKERS.sub("", c.source)
                 for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    code = [c for c in student.cells if c.cell_type == "code"]
    return {i: solutions[c.metadata["nbgrader"]["grade_id"]] for i, c in enumerate(code)
            if c.metadata.get("nbgrader", {}).get("solution")}


def exercise_cells(path: Path) -> set[int]:
    """Code-cell indexes of a notebook's answer and test cells: where an unanswered
    exercise may fail."""
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    return {i for i, c in enumerate(code)
            if {"solution", "grade"} & {k for k, v in c.metadata.get("nbgrader", {}).items() if v}}


def first_failing_cell(page: Page) -> int:
    """The code-cell index of the first cell of the current notebook with an error output."""
    return page.evaluate("""() => [...window.jupyterapp.shell.currentWidget.content.model.cells]
        .filter(c => c.type === 'code')
        .findIndex(c => [...Array(c.outputs.length).keys()]
            .some(i => c.outputs.get(i).type === 'error'))""")


def type_answers(page: Page, exercises: dict[int, str]) -> None:
    """Type each answer into its cell as a learner would: click, select all, type."""
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
    for index, text in exercises.items():
        editor = cells.nth(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(text)
        typed = page.evaluate(
            "(i) => [...window.jupyterapp.shell.currentWidget.content.model.cells]"
            ".filter(c => c.type === 'code')[i].sharedModel.getSource()", index)
        assert typed == text, f"code cell {index}: typed {typed!r}"


def run_until_answered(page: Page, course: Path, relative: str, artifacts: Path,
                       shot: str) -> None:
    """Run All, which stops at the first unanswered exercise with nbgrader's stub error;
    then type the answers in, and Run All again: every cell runs, without an error."""
    cells = code_cell_count(course / relative)
    exercises = answers(course, relative)
    assert exercises, f"{relative} has no exercise"
    run_all_cells(page)
    wait_all_executed(page, cells)
    page.screenshot(path=artifacts / f"{shot}-unanswered.png")
    graded = exercise_cells(course / relative)
    assert first_failing_cell(page) in graded, (graded, notebook_errors(page))
    type_answers(page, exercises)
    clear_all_outputs(page)
    run_all_cells(page)
    wait_all_executed(page, cells)
    # Where the run stopped, should it have stopped early.
    page.screenshot(path=artifacts / f"{shot}-answered-after-run-all.png")
    assert notebook_errors(page) == []
    assert executed_prompts(page) == cells


def open_notebook(page: Page, lab: MakeLab, relative: str) -> None:
    """Open a notebook by its URL on a fresh workspace (`reset`: the tabs of the last
    visit stay closed) and wait until it is the current tab, with its kernel ready."""
    page.goto(f"{lab.url}/lab/tree/{relative}?reset&token={lab.token}")
    page.wait_for_function(
        "(path) => window.jupyterapp?.shell.currentWidget?.context?.path === path",
        arg=relative, timeout=RUN_TIMEOUT_MS)
    wait_kernel_idle(page)


def wait_kernel_idle(page: Page) -> None:
    """The current notebook's kernel is connected and idle, and the toolbar says so."""
    page.wait_for_function(
        """() => {
            const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
            return kernel?.connectionStatus === 'connected' && kernel.status === 'idle';
        }""", timeout=RUN_TIMEOUT_MS)
    page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator"
                 "[data-status='idle']").wait_for(timeout=RUN_TIMEOUT_MS)


def menu(page: Page, top: str, item: str) -> None:
    """Click a menu bar entry, then an item of its menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{item}$")).click()


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, as a learner would click it."""
    menu(page, "Run", "Run All Cells")


def clear_all_outputs(page: Page) -> None:
    """Edit > Clear Outputs of All Cells: no error of the last run is left to be seen."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function("() => ![...window.jupyterapp.shell.currentWidget.content.model"
                           ".cells].some(c => c.type === 'code' && c.outputs.length)")


def wait_all_executed(page: Page, code_cells: int) -> None:
    """Wait until every code cell of the visible notebook has a number, or the run has
    stopped at an error (Run All stops there); then for the kernel to be idle. The
    caller checks for errors."""
    page.wait_for_function(
        """(n) => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
                .map(p => p.textContent.trim());
            if (prompts.includes('[*]:')) return false;
            const done = prompts.length === n && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
            const failed = [...window.jupyterapp.shell.currentWidget.content.model.cells]
                .some(c => c.type === 'code' && [...Array(c.outputs.length).keys()]
                    .some(i => c.outputs.get(i).type === 'error'));
            return done || failed;
        }""", arg=code_cells, timeout=RUN_TIMEOUT_MS)
    wait_kernel_idle(page)


def executed_prompts(page: Page) -> int:
    """How many code cells of the visible notebook carry an execution count (also those
    whose input is collapsed, such as a hidden-tests cell)."""
    prompts = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt")
    texts = prompts.evaluate_all("(nodes) => nodes.map(n => n.textContent.trim())")
    return sum(bool(re.fullmatch(r"\[\d+\]:", text)) for text in texts)


def notebook_errors(page: Page) -> list[str]:
    """The error outputs of the current notebook (its model), and any traceback shown."""
    errors = page.evaluate("""() => {
        const errors = [];
        for (const cell of window.jupyterapp.shell.currentWidget.content.model.cells) {
            if (cell.type !== 'code') continue;
            for (let i = 0; i < cell.outputs.length; i++) {
                const output = cell.outputs.get(i).toJSON();
                if (output.output_type === 'error') errors.push(
                    `${output.ename}: ${output.evalue}`);
            }
        }
        return errors;
    }""")
    shown = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output",
                         has_text="Traceback (most recent call last)").all_inner_texts()
    return errors + [text[-400:] for text in shown]


def notebook_texts(page: Page) -> list[str]:
    """The text outputs (streams and plain-text results) of the current notebook's model."""
    return page.evaluate("""() => {
        const texts = [];
        for (const cell of window.jupyterapp.shell.currentWidget.content.model.cells) {
            if (cell.type !== 'code') continue;
            for (let i = 0; i < cell.outputs.length; i++) {
                const output = cell.outputs.get(i).toJSON();
                let text = output.text || (output.data && output.data['text/plain']) || '';
                if (Array.isArray(text)) text = text.join('');
                texts.push(text);
            }
        }
        return texts;
    }""")


def test_start_page_opens_and_runs_in_the_browser(
        page: Page, lab: MakeLab, course: Path, artifacts: Path) -> None:
    # The address the server prints (its root, with the token) leads to the start page of
    # the student edition, which `make start` made.
    page.goto(f"{lab.url}/?token={lab.token}")
    page.locator(".jp-NotebookPanel:visible h1", has_text="start here").wait_for()
    assert START_PAGE in page.url
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path") \
        == START_PAGE
    wait_kernel_idle(page)
    page.screenshot(path=artifacts / "01-start-page-opened.png")

    run_until_answered(page, course, START_PAGE, artifacts, "02-start-page")
    # The first lab's doveconf output, as the start page promises it. Read from the
    # notebook's model: JupyterLab leaves cells far outside the view out of the page.
    outputs = notebook_texts(page)
    assert any("Obsolete setting" in text for text in outputs), outputs
    assert any("Logged in" in text for text in outputs), outputs
    page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output").last \
        .scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "02-start-page-last-output.png")


def registered(page: Page, plugins: list[str]) -> list[str]:
    """Those of `plugins` that this JupyterLab page has (a disabled one is not even there)."""
    return page.evaluate("(ids) => ids.filter(id => window.jupyterapp.hasPlugin(id))", plugins)


def test_learner_sees_no_instructor_tools(page: Page, lab: MakeLab, artifacts: Path) -> None:
    """As on Binder: no formgrader on the server, no Create Assignment sidebar, and the
    Nbgrader menu holds the learner's Assignment List only."""
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(f"{lab.url}/formgrader/api/assignments?token={lab.token}",
                               timeout=30)
    page.goto(f"{lab.url}/lab/tree/{START_PAGE}?reset&token={lab.token}")
    page.locator(".jp-NotebookPanel:visible h1", has_text="start here").wait_for()
    assert page.get_by_text("Create Assignment").count() == 0
    assert registered(page, INSTRUCTOR_PLUGINS) == []
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Nbgrader$")).click()
    items = page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()
    page.screenshot(path=artifacts / "03-learner-nbgrader-menu.png")
    page.keyboard.press("Escape")
    assert "Assignment List" in items, items
    assert not {"Formgrader", "Course List"} & set(items), items


def test_topic_notebook_widgets_render_and_a_quiz_answers(
        page: Page, lab: MakeLab, course: Path, artifacts: Path) -> None:
    relative = quiz_notebook(course)
    print(f"topic notebook: {relative}")
    open_notebook(page, lab, relative)
    page.screenshot(path=artifacts / "04-topic-notebook-opened.png")
    run_until_answered(page, course, relative, artifacts, "05-topic-notebook")

    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jupyter-widgets").first.wait_for()
    card = panel.locator(".mal-quiz-question").first
    card.scroll_into_view_if_needed()
    feedback = card.locator(".mal-quiz-feedback")

    score = panel.locator(".mal-quiz-score").first
    assert panel.locator(".mal-quiz-question").count() >= 1
    assert re.match(r"Score: 0 of 0 checked", score.inner_text()), score.inner_text()
    assert feedback.inner_text().strip() == ""
    choose_an_answer(card)
    card.locator(".mal-quiz-check").click()
    page.wait_for_function("(el) => el.textContent.trim().length > 0",
                           arg=feedback.element_handle())
    verdict = feedback.inner_text()
    assert re.match(r"(Correct\.|Not quite\. The answer is: )", verdict), verdict
    assert "See notebook" in verdict
    assert re.match(r"Score: [01] of 1 checked", score.inner_text()), score.inner_text()
    page.screenshot(path=artifacts / "06-topic-notebook-quiz-feedback.png")


def choose_an_answer(card: Locator) -> None:
    """Pick the first choice, or type an answer, whatever the question's style."""
    field = card.locator(".mal-quiz-input")
    if field.locator("input[type=radio]").count():
        field.locator("input[type=radio]").first.check()
    elif field.locator("input[type=checkbox]").count():
        field.locator("input[type=checkbox]").first.check()
    else:
        field.locator("input").first.fill("doveconf -n")


def test_formgrader_lists_the_assignments(
        page: Page, instructor_lab: MakeLab, course: Path, artifacts: Path) -> None:
    """`make instructor` opens the sources, with the formgrader and Create Assignment."""
    expected = assignments(course)
    assert "00-start-here" in expected
    lab = instructor_lab
    page.goto(f"{lab.url}/?token={lab.token}")
    page.locator(".jp-NotebookPanel:visible h1", has_text="start here").wait_for()
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path") \
        == "notebooks/00-start-here/00-start-here.ipynb"
    assert registered(page, INSTRUCTOR_PLUGINS) == INSTRUCTOR_PLUGINS
    menu(page, "Nbgrader", "Formgrader")
    frame = page.frame_locator("iframe[src*='formgrader']")
    table = frame.locator("#main-table")
    for name in expected:
        table.get_by_text(name, exact=True).wait_for()
    page.screenshot(path=artifacts / "07-formgrader-assignments.png")
    listed = table.locator("tr").all_inner_texts()
    assert all(any(name in row for row in listed) for name in expected), listed

