"""nbgrader settings for the Mailbox Access Lab course.

The notebooks/ tree is nbgrader's source directory: each topic folder is an assignment
(notebooks/00-start-here/ is the assignment "00-start-here"); release/, submitted/,
autograded/, feedback/ and gradebook.db are made beside this file.

The exchange, through which assignments are released and collected, is chosen in this
order: the NBGRADER_EXCHANGE environment variable (read here, not by nbgrader); an
``Exchange.root`` set in another nbgrader_config file that Jupyter reads, such as a
JupyterHub's /etc/jupyter/nbgrader_config.py (nbgrader reads this course file last, so
without this check the course would override the hub's shared exchange); else
.nbgrader/exchange/ inside the project, so that the course works without root:
nbgrader's default, /usr/local/share/nbgrader/exchange, does not exist on a fresh machine.
"""

import os

from jupyter_core.paths import jupyter_config_path
from traitlets.config.loader import ConfigFileNotFound, JSONFileConfigLoader, PyFileConfigLoader

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "mailbox-access-lab"
c.CourseDirectory.source_directory = "notebooks"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"


# Set while this file looks at the other config files: a copy of it found there (another
# course) must not count as "set elsewhere", nor look again (which would never end).
PROBING = "MAILBOX_LAB_NBGRADER_PROBE"


def exchange_set_elsewhere() -> bool:
    """Whether another nbgrader_config file Jupyter reads (not this one) sets Exchange.root."""
    os.environ[PROBING] = "1"
    try:
        for directory in {os.getcwd(), *jupyter_config_path()}:
            if os.path.abspath(directory) == here:
                continue
            for loader, name in ((PyFileConfigLoader, "nbgrader_config.py"),
                                 (JSONFileConfigLoader, "nbgrader_config.json")):
                try:
                    other = loader(name, path=directory).load_config()
                except ConfigFileNotFound:
                    continue
                if "Exchange" in other and "root" in other.Exchange:
                    return True
        return False
    finally:
        del os.environ[PROBING]


if os.environ.get("NBGRADER_EXCHANGE"):
    c.Exchange.root = os.environ["NBGRADER_EXCHANGE"]
elif not os.environ.get(PROBING) and not exchange_set_elsewhere():
    exchange = os.path.join(here, ".nbgrader", "exchange")
    if not os.path.isdir(exchange):
        os.makedirs(exchange, exist_ok=True)
        # The permissions nbgrader itself gives an exchange it creates (world-writable, as
        # students drop submissions there); setting them now spares a warning at release.
        os.chmod(exchange, 0o777)
    c.Exchange.root = exchange

# The student version: each region between the solution markers (lines containing them,
# e.g. `### BEGIN SOLUTION`) becomes a stub that fails until answered, and each hidden-test
# region (`### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS`) is removed, marker lines
# included. A region in a cell without the matching nbgrader metadata (a solution region
# outside a solution cell, hidden tests outside a grade cell) stops generate_assignment
# instead of leaking into the student version.
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
c.ClearHiddenTests.enforce_metadata = True
# Test cells and read-only cells cannot be edited or deleted in the student version; an
# edited copy is put back from the gradebook at autograde (OverwriteCells) and reported by
# `nbgrader validate`. Every stage checks the nbgrader metadata (CheckCellMetadata).
c.LockCells.lock_grade_cells = True
c.LockCells.lock_readonly_cells = True
c.LockCells.lock_solution_cells = True
c.GenerateAssignment.create_assignment = True
# A test cell deleted from a submission is put back at autograde (with a note) and run, so
# deleting a failing test does not take its points out of the total.
c.OverwriteCells.add_missing_cells = True

# Autograde: each cell may run this long before its kernel is interrupted (an endless
# loop costs that cell, not the whole submission); errors do not stop the notebook.
CELL_TIMEOUT = 120
c.Execute.timeout = CELL_TIMEOUT
c.Execute.interrupt_on_timeout = True
c.ExecutePreprocessor.timeout = CELL_TIMEOUT
c.ExecutePreprocessor.interrupt_on_timeout = True

# Autograde runs each notebook with the course's runner (graders/autograde.py): a kernel
# that dies (os._exit) fails the cells it leaves instead of the whole submission, and each
# test cell that uses the graders gets them freshly imported, so a notebook that replaced
# graders.check with something that always passes gains nothing. The rest is nbgrader's.
c.Autograde.autograde_preprocessors = [
    "graders.autograde.GradingExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
