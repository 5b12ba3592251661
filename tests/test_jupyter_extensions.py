"""nbgrader is wired into the pinned JupyterLab: lab extension and server extensions.

Instructors grade through nbgrader's JupyterLab panels (formgrader, create assignment)
and students fetch and validate through its assignment list; both need the front-end
extension (@jupyter/nbgrader) and the server extensions it talks to. The checks run the
`jupyter` commands of the environment running the tests, with the project's Jupyter
configurations as the Makefile sets them: the course's (.jupyter/, `make instructor`) has
every nbgrader tool on, so a setting there that disabled nbgrader would be caught; the
learner's (.jupyter/learner/, `make start`) has the instructor's tools off and locked, as
postBuild leaves them on Binder, and the learner's tools on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JUPYTER = Path(sys.executable).parent / "jupyter"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

NBGRADER_LAB_EXTENSIONS = ["@jupyter/nbgrader"]
NBGRADER_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
]
INSTRUCTOR_SERVER_EXTENSIONS = NBGRADER_SERVER_EXTENSIONS[0::2]
LEARNER_SERVER_EXTENSIONS = NBGRADER_SERVER_EXTENSIONS[1::2]
INSTRUCTOR_PLUGINS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list"]
INSTRUCTOR_CONFIG = ROOT / ".jupyter"
LEARNER_CONFIG = ROOT / ".jupyter" / "learner"


def jupyter(*args: str, config: Path = INSTRUCTOR_CONFIG) -> str:
    """Run `jupyter ARGS` from this environment with a config folder of the project;
    return stdout and stderr, uncoloured."""
    env = dict(os.environ)
    env["JUPYTER_CONFIG_DIR"] = str(config)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["NO_COLOR"] = "1"
    result = subprocess.run(
        [str(JUPYTER), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    output = ANSI.sub("", result.stdout)
    assert result.returncode == 0, f"jupyter {' '.join(args)} failed:\n{output}"
    return output


def parse_labextension_list(output: str) -> dict[str, tuple[str, str]]:
    """Map extension name -> (enabled/disabled, OK/problem) from `jupyter labextension list`.

    Lines look like `        @jupyter/nbgrader v0.9.6 enabled OK` (an optional
    `(python, package)` follows for prebuilt extensions).
    """
    entries = {}
    line_re = re.compile(
        r"^\s+(?P<name>\S+)\s+v(?P<version>\S+)\s+(?P<state>enabled|disabled)\s+(?P<status>\S+)"
    )
    for line in output.splitlines():
        match = line_re.match(line)
        if match:
            entries[match["name"]] = (match["state"], match["status"])
    return entries


def parse_server_extension_list(output: str) -> dict[str, tuple[str, bool]]:
    """Map name -> (enabled/disabled, validated OK) from `jupyter server extension list`."""
    states: dict[str, str] = {}
    validated: set[str] = set()
    for line in output.splitlines():
        match = re.match(r"^\s+(?P<name>[\w.]+)\s+(?P<state>enabled|disabled)\s*$", line)
        if match:
            states[match["name"]] = match["state"]
            continue
        match = re.match(r"^\s+(?P<name>[\w.]+)\s+(?:\S+\s+)?OK\s*$", line)
        if match:
            validated.add(match["name"])
    return {name: (state, name in validated) for name, state in states.items()}


def test_parsers_read_jupyters_output():
    lab = parse_labextension_list(
        "JupyterLab v4.6.6\n/x/share/jupyter/labextensions\n"
        "        @jupyter/nbgrader v0.9.6 enabled OK\n"
        "        jupyterlab_pygments v0.3.0 enabled OK (python, jupyterlab_pygments)\n"
        "        other v1.0.0 disabled X\n"
    )
    assert lab == {
        "@jupyter/nbgrader": ("enabled", "OK"),
        "jupyterlab_pygments": ("enabled", "OK"),
        "other": ("disabled", "X"),
    }
    server = parse_server_extension_list(
        "Config dir: /x/etc/jupyter\n"
        "    jupyterlab enabled\n"
        "    - Validating jupyterlab...\n"
        "      jupyterlab 4.6.6 OK\n"
        "    nbgrader.server_extensions.formgrader enabled\n"
        "    - Validating nbgrader.server_extensions.formgrader...\n"
        "      nbgrader.server_extensions.formgrader  OK\n"
        "    broken enabled\n"
        "    - Validating broken...\n"
        "      X The module 'broken' could not be found.\n"
    )
    assert server == {
        "jupyterlab": ("enabled", True),
        "nbgrader.server_extensions.formgrader": ("enabled", True),
        "broken": ("enabled", False),
    }


@pytest.fixture(scope="module")
def labextensions() -> tuple[str, dict[str, tuple[str, str]]]:
    output = jupyter("labextension", "list")
    return output, parse_labextension_list(output)


def test_jupyterlab_is_the_pinned_version(labextensions):
    output, _ = labextensions
    assert "JupyterLab v4.6.6" in output, output


@pytest.mark.parametrize("name", NBGRADER_LAB_EXTENSIONS)
def test_nbgrader_lab_extension_is_enabled_and_ok(labextensions, name):
    output, entries = labextensions
    assert entries.get(name) == ("enabled", "OK"), output


def test_no_nbgrader_plugin_is_disabled(labextensions):
    output, _ = labextensions
    # Disabled plugins of an enabled extension are listed under "Disabled extensions:".
    _, _, disabled = output.partition("Disabled extensions:")
    assert "nbgrader" not in disabled, output


@pytest.fixture(scope="module")
def server_extensions() -> tuple[str, dict[str, tuple[str, bool]]]:
    output = jupyter("server", "extension", "list")
    return output, parse_server_extension_list(output)


@pytest.mark.parametrize("name", NBGRADER_SERVER_EXTENSIONS)
def test_nbgrader_server_extension_is_enabled_and_loads(server_extensions, name):
    output, entries = server_extensions
    assert entries.get(name) == ("enabled", True), output


@pytest.fixture(scope="module")
def learner_labextensions() -> str:
    return jupyter("labextension", "list", config=LEARNER_CONFIG)


def test_learner_has_the_instructor_plugins_off_and_locked(learner_labextensions):
    output = learner_labextensions
    assert parse_labextension_list(output).get("@jupyter/nbgrader") == ("enabled", "OK"), output
    disabled = output.partition("Disabled extensions:")[2].split()
    assert sorted(p for p in disabled if "nbgrader" in p) == sorted(INSTRUCTOR_PLUGINS), output
    locked = re.search(r"@jupyter/nbgrader .*\(plugins: (.*) locked\)", output)
    assert locked and set(locked[1].split(", ")) == set(INSTRUCTOR_PLUGINS), output


def test_learner_has_only_the_learners_server_extensions():
    output = jupyter("server", "extension", "list", config=LEARNER_CONFIG)
    # Listed per config folder, the learner's (highest priority) first: its word counts.
    states: dict[str, str] = {}
    for line in output.splitlines():
        match = re.match(r"^\s+(?P<name>[\w.]+)\s+(?P<state>enabled|disabled)\s*$", line)
        if match:
            states.setdefault(match["name"], match["state"])
    assert {name: states.get(name) for name in NBGRADER_SERVER_EXTENSIONS} == {
        **{name: "disabled" for name in INSTRUCTOR_SERVER_EXTENSIONS},
        **{name: "enabled" for name in LEARNER_SERVER_EXTENSIONS}}, output
