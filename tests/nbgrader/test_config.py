"""Where the course's nbgrader_config.py puts the exchange, and what it leaves to others.

The file is loaded the way nbgrader loads it (traitlets' PyFileConfigLoader), from a copy
in a temporary course folder, with a temporary Jupyter configuration folder standing in
for a JupyterHub's global one.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course folder with a copy of the config; Jupyter reads an empty hub folder."""
    root = tmp_path / "course"
    root.mkdir()
    (root / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    (tmp_path / "hub").mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "hub"))
    monkeypatch.delenv("NBGRADER_EXCHANGE", raising=False)
    monkeypatch.chdir(root)
    return root


def load(course: Path):
    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def test_the_course_is_the_source_tree(course: Path) -> None:
    config = load(course)
    assert config.CourseDirectory.root == str(course)
    assert config.CourseDirectory.source_directory == "notebooks"
    assert config.CourseDirectory.course_id == "mailbox-access-lab"


def test_default_exchange_is_inside_the_course_and_writable(course: Path) -> None:
    exchange = course / ".nbgrader" / "exchange"
    assert load(course).Exchange.root == str(exchange)
    assert stat.S_IMODE(exchange.stat().st_mode) == 0o777


def test_the_environment_variable_wins(course: Path, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "shared"))
    assert load(course).Exchange.root == str(tmp_path / "shared")
    assert not (course / ".nbgrader").exists()


@pytest.mark.parametrize("name, text", [
    ("nbgrader_config.py", "c = get_config()\nc.Exchange.root = '/srv/nbgrader/exchange'\n"),
    ("nbgrader_config.json", json.dumps({"Exchange": {"root": "/srv/nbgrader/exchange"}})),
])
def test_a_hub_wide_exchange_is_left_alone(course: Path, tmp_path: Path, name: str,
                                           text: str) -> None:
    (tmp_path / "hub" / name).write_text(text)
    assert "root" not in load(course).Exchange
    assert not (course / ".nbgrader").exists()


def test_a_hub_file_without_an_exchange_changes_nothing(course: Path, tmp_path: Path) -> None:
    (tmp_path / "hub" / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = '/home/instructor/course'\n")
    assert load(course).Exchange.root == str(course / ".nbgrader" / "exchange")


def test_another_copy_of_this_file_is_not_an_override(course: Path, tmp_path: Path) -> None:
    # A second course configured by a copy of this file, found on Jupyter's path: its
    # own default exchange is no instruction to this course, and loading ends.
    (tmp_path / "hub" / "nbgrader_config.py").write_text(
        (ROOT / "nbgrader_config.py").read_text())
    assert load(course).Exchange.root == str(course / ".nbgrader" / "exchange")
    assert not (tmp_path / "hub" / ".nbgrader").exists()
