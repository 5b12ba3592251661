"""Binder's build: environment.yml and postBuild make the student edition; start.

repo2docker installs environment.yml (Python 3.11 and the pip pins of requirements.txt,
the project included) and then runs postBuild in the repository folder. Here the same
happens without Docker: a fresh virtual environment gets exactly environment.yml's pip
list (from the pip cache where it can), a copy of the repository plays the image's home
folder, and postBuild runs in it with REPO_DIR set, as in an image build. Then the
student edition holds every assignment without solutions, the instructor's sources are
gone, and the instructor's tools are off and locked while the learner's stay on. The
`start` script, run at each start of the image, gives learners on a hub a copy of the
student edition and instructors their tools back.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import venv
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import sync_playwright

from tests.browser.lab import ARTIFACTS, free_port, launch_chromium, wait_http
from tests.test_environment import environment_pip_entries, load_environment
from tests.tools import require_program

ROOT = Path(__file__).resolve().parents[2]
POSTBUILD = ROOT / "postBuild"
START = ROOT / "start"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What repo2docker copies and the build needs: the project (installed with -e .), the course
# and its settings, and the build files themselves.
IMAGE_FILES = ("pyproject.toml", "README.md", "environment.yml", "requirements.txt",
               "constraints.txt", "nbgrader_config.py", "postBuild", "start")
IMAGE_DIRS = ("labserver", "graders", "notebooks", ".jupyter")
IGNORED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "user-settings",
                                 "workspaces", "migrated", "*.egg-info")


def bash_array(name: str, script: Path = POSTBUILD) -> list[str]:
    """The items of a bash array that a script defines as `name=( ... )`."""
    match = re.search(rf"^\s*{name}=\((.*?)\)", script.read_text(), re.S | re.M)
    assert match, f"{script.name} defines no array {name}"
    return match[1].split()


INSTRUCTOR_PLUGINS = bash_array("instructor_plugins")
INSTRUCTOR_SERVER_EXTENSIONS = bash_array("instructor_server_extensions")
# The fresh environment's installs and postBuild together: a few minutes at most.
pytestmark = pytest.mark.timeout(900)
LEARNER_SERVER_EXTENSIONS = ["nbgrader.server_extensions.assignment_list",
                             "nbgrader.server_extensions.validate_assignment"]


@pytest.mark.parametrize("script", [POSTBUILD, START], ids=lambda p: p.name)
def test_scripts_are_executable_bash_that_install_nothing(script: Path) -> None:
    text = script.read_text()
    assert os.access(script, os.X_OK)
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    # environment.yml alone names what is installed; the scripts only use it.
    assert not re.search(r"\b(pip|conda|mamba|npm|apt-get)\b.*\binstall\b", text)


def test_start_gives_back_the_tools_postbuild_locks() -> None:
    assert bash_array("plugins", START) == INSTRUCTOR_PLUGINS
    for extension in INSTRUCTOR_SERVER_EXTENSIONS:
        assert extension in START.read_text()


def test_readme_binder_link_opens_a_page_of_the_student_edition() -> None:
    """The README's urlpath names the start page as postBuild lays it out."""
    readme = (ROOT / "README.md").read_text()
    paths = set(re.findall(r"urlpath=lab/tree/([\w./-]+\.ipynb)", readme))
    assert paths == {"student-edition/00-start-here/00-start-here.ipynb"}, paths
    assert (ROOT / "notebooks/00-start-here/00-start-here.ipynb").exists()


def test_environment_yml_pins_the_tested_python() -> None:
    assert "python=3.11" in load_environment()["dependencies"]
    assert sys.version_info[:2] == (3, 11)


def test_the_plugins_postbuild_locks_exist() -> None:
    """A renamed nbgrader plugin would leave the instructor's tool on, silently."""
    static = Path(sys.prefix) / "share/jupyter/labextensions/@jupyter/nbgrader/static"
    bundled = "".join(p.read_text(errors="replace") for p in static.glob("*.js"))
    assert INSTRUCTOR_PLUGINS
    for plugin in INSTRUCTOR_PLUGINS:
        assert f'"{plugin}"' in bundled, plugin
    for extension in INSTRUCTOR_SERVER_EXTENSIONS:
        assert (Path(sys.prefix) / "lib/python3.11/site-packages"
                / extension.replace(".", "/")).is_dir(), extension


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=timeout, check=False)
    output = ANSI.sub("", result.stdout)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    """A fresh venv with environment.yml's pip list, and the home folder postBuild ran in.
    Returns (home, environment, postBuild's output)."""
    base = tmp_path_factory.mktemp("binder")
    home = base / "home"
    home.mkdir()
    for name in IMAGE_FILES:
        shutil.copy2(ROOT / name, home / name)
    for name in IMAGE_DIRS:
        shutil.copytree(ROOT / name, home / name, ignore=IGNORED)

    env_dir = base / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "VIRTUAL_ENV", "PYTHON", "MAKE"))}
    env.update(HOME=str(home), REPO_DIR=str(home), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    entries = environment_pip_entries(load_environment())
    pins = [e for e in entries if e not in ("-e .", ".")]
    run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "-c", "constraints.txt",
         *pins], env, home, timeout=600)
    run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "-e", "."],
        env, home, timeout=300)
    output = run(["bash", "./postBuild"], env, home, timeout=600)
    return home, env, output


def test_postbuild_makes_the_student_edition(image: tuple[Path, dict[str, str], str]) -> None:
    home, _, output = image
    expected = sorted(p.relative_to(ROOT / "notebooks").as_posix()
                      for p in (ROOT / "notebooks").glob("*/*.ipynb"))
    edition = home / "student-edition"
    made = sorted(p.relative_to(edition).as_posix() for p in edition.glob("*/*.ipynb"))
    assert made == expected, output
    assert not (home / "notebooks").exists(), "the instructor's sources stay in the image"
    for path in edition.glob("*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(cell.source for cell in nb.cells)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                assert "raise NotImplementedError()" in cell.source, path


def test_instructor_tools_are_off_and_locked(image: tuple[Path, dict[str, str], str]) -> None:
    home, env, _ = image
    jupyter = str(Path(env["PATH"].split(os.pathsep)[0]) / "jupyter")
    labext = run([jupyter, "labextension", "list"], env, home, timeout=120)
    assert re.search(r"@jupyter/nbgrader v\S+ enabled OK", labext), labext
    _, _, disabled = labext.partition("Disabled extensions:")
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin in disabled, labext
    locked = re.search(r"@jupyter/nbgrader .*\(plugins: (.*) locked\)", labext)
    assert locked and set(locked[1].split(", ")) == set(INSTRUCTOR_PLUGINS), labext

    # A learner's own settings cannot switch a locked tool back on: neither the command
    # nor a hand-written page_config.json in their Jupyter folder.
    run([jupyter, "labextension", "enable", "--level=user", INSTRUCTOR_PLUGINS[0]], env, home,
        timeout=120)
    own = home / ".jupyter" / "labconfig" / "page_config.json"
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text(json.dumps({"disabledExtensions": {p: False for p in INSTRUCTOR_PLUGINS}}))
    again = run([jupyter, "labextension", "list"], env, home, timeout=120)
    assert INSTRUCTOR_PLUGINS[0] in again.partition("Disabled extensions:")[2], again

    server = run([jupyter, "server", "extension", "list"], env, home, timeout=120)
    for extension in INSTRUCTOR_SERVER_EXTENSIONS:
        assert re.search(rf"^\s+{re.escape(extension)} disabled\s*$", server, re.M), server
    for extension in LEARNER_SERVER_EXTENSIONS:
        assert re.search(rf"^\s+{re.escape(extension)} enabled\s*$", server, re.M), server


def test_student_edition_in_the_browser(image: tuple[Path, dict[str, str], str],
                                        tmp_path: Path) -> None:
    """What a learner sees: the start page of the student edition, and an Nbgrader menu
    and sidebar without the instructor's tools; the server has no formgrader either."""
    chromium = require_program("chromium", "chromium")
    home, env, _ = image
    token, port = secrets.token_hex(16), free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(Path(env["PATH"].split(os.pathsep)[0]) / "jupyter"), "lab", "--no-browser",
            f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={home}", "--LabApp.expose_app_in_browser=True",
            *(["--allow-root"] if os.getuid() == 0 else [])]
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "student-edition.log"
    with log.open("wb") as out:
        server = subprocess.Popen(argv, cwd=home, env=env, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"{url}/api/status?token={token}", 90, alive=lambda: server.poll() is None,
                  log=log)
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{url}/formgrader/api/assignments?token={token}",
                                   timeout=30)
        with sync_playwright() as playwright:
            context = launch_chromium(playwright, chromium, tmp_path / "profile")
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(60_000)
                start_page = "student-edition/00-start-here/00-start-here.ipynb"
                page.goto(f"{url}/lab/tree/{start_page}?reset&token={token}")
                page.wait_for_function(
                    "(p) => window.jupyterapp?.shell.currentWidget?.context?.path === p",
                    arg=start_page)
                page.locator(".jp-NotebookPanel:visible h1", has_text="start here").wait_for()
                page.screenshot(path=ARTIFACTS / "07-student-edition-start-page.png")
                assert page.get_by_text("Create Assignment").count() == 0

                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Nbgrader$")).click()
                items = page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()
                page.screenshot(path=ARTIFACTS / "08-student-edition-nbgrader-menu.png")
                assert "Assignment List" in items, items
                assert not {"Formgrader", "Course List"} & set(items), items
            finally:
                context.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_start_copies_the_student_edition_into_a_learners_home_once(
        image: tuple[Path, dict[str, str], str], tmp_path: Path) -> None:
    repo, env, _ = image
    learner = dict(env, HOME=str(tmp_path))
    run(["bash", str(repo / "start"), "true"], learner, tmp_path, timeout=60)
    copied = tmp_path / "student-edition"
    assert sorted(p.name for p in copied.glob("*/*.ipynb")) == \
        sorted(p.name for p in (repo / "student-edition").glob("*/*.ipynb"))
    work = next(copied.glob("*/*.ipynb"))
    work.write_text("the learner's own work")
    run(["bash", str(repo / "start"), "true"], learner, tmp_path, timeout=60)
    assert work.read_text() == "the learner's own work"


def test_start_turns_the_tools_on_for_an_instructor_only(
        image: tuple[Path, dict[str, str], str]) -> None:
    """Runs last: it changes the environment's settings, as an instructor's start does."""
    home, env, _ = image
    jupyter = str(Path(env["PATH"].split(os.pathsep)[0]) / "jupyter")
    run(["bash", "./start", "true"], env, home, timeout=300)
    learner = run([jupyter, "labextension", "list"], env, home, timeout=120)
    assert INSTRUCTOR_PLUGINS[0] in learner.partition("Disabled extensions:")[2], learner

    run(["bash", "./start", "true"], dict(env, MAILBOX_LAB_ROLE="instructor"), home,
        timeout=300)
    labext = run([jupyter, "labextension", "list"], env, home, timeout=120)
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin not in labext.partition("Disabled extensions:")[2], labext
    server = run([jupyter, "server", "extension", "list"], env, home, timeout=120)
    for extension in INSTRUCTOR_SERVER_EXTENSIONS:
        assert re.search(rf"^\s+{re.escape(extension)} enabled\s*$", server, re.M), server
