"""nbgrader's notebook runner for autograding this course, hardened against hostile notebooks.

``nbgrader_config.py`` puts ``GradingExecute`` in place of nbgrader's ``Execute`` for
``nbgrader autograde``. It differs in three ways:

- A kernel that dies (``os._exit``, a crash, the out-of-memory killer) no longer ends the
  grading of the submission without a score, as nbgrader's runner does: the cell that
  was running and every code cell after it get an error output saying so, which fails
  their tests, and the grades are saved as for any other notebook.
- Before each test cell that uses the graders, the kernel forgets every ``graders``
  module and imports them afresh (a silent request, so the cell and its outputs are
  unchanged). A notebook that replaced ``graders.check``, ``Verdict.assert_passed`` or
  ``sys.modules["graders"]`` with something that always passes has no effect on the
  tests. It is a guard against the easy ways, not a sandbox: learner code that rewrites
  ``builtins.__import__`` or the lab server's modules runs in the same kernel.
- What a cell prints is kept up to ``STREAM_LIMIT`` characters.
"""

from __future__ import annotations

from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

FRESH_GRADERS = """\
import sys as _sys
graders = None
[_sys.modules.pop(_name) for _name in list(_sys.modules)
 if _name == "graders" or _name.startswith("graders.")]
import graders
del _sys
"""
DIED = ("The kernel died while this cell ran (os._exit(), a crash or too much memory): "
        "this cell and the ones after it were not run.")
NOT_RUN = "Not run: the kernel died in an earlier cell."
# nbgrader's LimitOutput counts lines only: one line of 50 MB would go into the
# autograded notebook and the feedback page. Past this many characters a cell's printed
# output is cut here.
STREAM_LIMIT = 100_000


def _error(text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename="DeadKernelError", evalue=text,
                        traceback=[f"DeadKernelError: {text}"])


def _cut_streams(cell: NotebookNode) -> None:
    left = STREAM_LIMIT
    for output in cell.get("outputs", []):
        if output.output_type != "stream":
            continue
        if len(output.text) > left:
            cut = len(output.text) - left
            output.text = f"{output.text[:left]}\n[... {cut} more characters not kept]\n"
        left = max(0, left - len(output.text))


def _uses_graders(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and "graders" in cell.source


class GradingExecute(Execute):
    """nbgrader's Execute, surviving a dead kernel and re-importing the graders."""

    died_at: int | None = None

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None
                   ) -> tuple[NotebookNode, dict[str, Any]]:
        self.died_at = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int
                        ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        if self.died_at is not None:
            cell.outputs = [_error(NOT_RUN)]
            return cell, self.resources
        try:
            if _uses_graders(cell):
                self.wait_for_reply(self.kc.execute(FRESH_GRADERS, silent=True,
                                                    store_history=False))
            cell, resources = super().preprocess_cell(cell, resources, index)
            _cut_streams(cell)
            return cell, resources
        except DeadKernelError:
            self.died_at = index
            cell.outputs = [*cell.get("outputs", []), _error(DIED)]
            return cell, self.resources
