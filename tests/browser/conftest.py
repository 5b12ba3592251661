"""Fixtures for the browser tests: the course served by `make start` (the learner's
student edition) and by `make instructor`, and Debian's Chromium.

Playwright drives the Chromium that Debian packages (`apt-get install chromium`); it never
downloads a browser of its own. Without Chromium the tests skip with a message, except in
CI (CI set), where `.ci/run` installs it and a missing browser is a failure.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.browser.lab import ARTIFACTS, MakeLab, copy_course, launch_chromium
from tests.tools import require_program


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and the server log go (ignored by git); printed for the reader.
    Each run overwrites the files of the last."""
    ARTIFACTS.mkdir(exist_ok=True)
    print(f"browser test artifacts: {ARTIFACTS}")
    return ARTIFACTS


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_program("chromium", "chromium")


def serve(course: Path, log: Path, target: str) -> Iterator[MakeLab]:
    server = MakeLab(course, log, token=secrets.token_hex(16), target=target)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lab(chromium: str, course: Path, artifacts: Path) -> Iterator[MakeLab]:
    """The course served by `make start`, which first makes the student edition in the
    copy (requested after Chromium, so a machine without the browser skips before
    starting a server for nothing)."""
    yield from serve(course, artifacts / "jupyterlab.log", "start")


@pytest.fixture(scope="module")
def instructor_lab(chromium: str, course: Path, artifacts: Path) -> Iterator[MakeLab]:
    """The same copy served by `make instructor`: the sources, with nbgrader's tools."""
    yield from serve(course, artifacts / "jupyterlab-instructor.log", "instructor")


@pytest.fixture(scope="module")
def page(chromium: str, lab: MakeLab,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One tab of Chromium with a fresh, empty profile."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, chromium, profile)
        try:
            tab = context.pages[0] if context.pages else context.new_page()
            tab.set_default_timeout(60_000)
            yield tab
        finally:
            context.close()
