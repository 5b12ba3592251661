"""Start the course in JupyterLab the way the README says, for tests: `make start` (the
learner's student edition) or `make instructor` (the sources, with nbgrader's tools).

The server runs on a copy of the course (notebooks, Jupyter and nbgrader settings, the
Makefile and the files it installs from) in a temporary folder whose `.venv` is a link to
the project's. `make` then finds an up-to-date environment and starts at once, and
whatever it and the browser do there (the student edition, autosave, checkpoints,
formgrader's gradebook) stays out of the project's own folders.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Playwright

ROOT = Path(__file__).resolve().parents[2]
# Screenshots and server logs of the browser tests (ignored by git).
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
COURSE_FILES = ("Makefile", "requirements.txt", "requirements-test.txt", "constraints.txt",
                "pyproject.toml", "nbgrader_config.py")
COURSE_DIRS = ("notebooks", ".jupyter")
# Run-time state that must not travel into the copy.
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "user-settings", "workspaces",
                                 "migrated", "__pycache__")


# How Debian's Chromium is started: headless, no sandbox (CI runs as root), and none of
# its background connections, which a machine without internet would refuse.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def launch_chromium(playwright: Playwright, executable: str, profile: Path) -> BrowserContext:
    """Debian's Chromium (never a downloaded one) with a fresh profile folder; returns the
    Playwright browser context."""
    return playwright.chromium.launch_persistent_context(
        profile, executable_path=executable, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 1000})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float, alive: Callable[[], bool] = lambda: True,
              log: Path | None = None) -> None:
    """Poll `url` until it answers without a server error, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"server exited before {url} answered{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
            last = f"HTTP {error.code}"
        except OSError as error:
            last = str(error)
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s ({last}){_tail(log)}")


def _tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- server log (last lines) ---\n" + "\n".join(text)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def copy_course(dest: Path) -> Path:
    """Copy what `make start` needs into `dest`; link the project's .venv. Returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        shutil.copy2(ROOT / name, dest / name)
    for name in COURSE_DIRS:
        shutil.copytree(ROOT / name, dest / name, ignore=IGNORED)
    (dest / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return dest


def make_env() -> dict[str, str]:
    """The environment for `make` in a copy: none of the caller's make or Jupyter settings."""
    return {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL") and not k.startswith("JUPYTER")}


def require_current_venv(course: Path) -> None:
    """Refuse to run `make` in a copy whose (linked) `.venv` is out of date.

    The copy's `.venv` is the project's: were make to reinstall it, `pip install -e .`
    would point the project's environment at the copy. `make -q venv` (question mode,
    runs nothing) checks that first.
    """
    question = subprocess.run(["make", "-q", "venv"], cwd=course, env=make_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if question.returncode != 0:
        raise RuntimeError("the project's .venv is out of date: run `make venv` first")


class MakeLab:
    """`make start` or `make instructor` in a course folder, on a free port with a known
    token."""

    def __init__(self, course: Path, log: Path, token: str, target: str = "start") -> None:
        self.course = course
        self.target = target
        self.log = log
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        """Run `make TARGET` (own process group) and wait until the server answers; for
        `make start` that includes making the student edition."""
        require_current_venv(self.course)
        # expose_app_in_browser: window.jupyterapp, through which the tests see when a
        # kernel is connected (the toolbar says idle a moment before it is).
        lab_args = (f"--port={self.port} --ServerApp.port_retries=0 --no-browser "
                    f"--IdentityProvider.token={self.token} --LabApp.expose_app_in_browser=True")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", self.target, f"LAB_ARGS={lab_args}"],
                cwd=self.course, env=make_env(), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(f"{self.url}/api/status?token={self.token}", timeout,
                  alive=lambda: self.process.poll() is None, log=self.log)

    def stop(self) -> None:
        """Stop make and the server it started (their process group), politely first:
        on SIGTERM the server shuts its kernels down before it exits."""
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # start_new_session: the group id is make's pid
        os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _group_alive(group) and time.monotonic() < deadline:
            self.process.poll()
            time.sleep(0.2)
        if _group_alive(group):
            os.killpg(group, signal.SIGKILL)
        self.process.wait(timeout=10)

    def log_tail(self) -> str:
        return _tail(self.log)
