"""Fixtures for the reliability tests: a lab directory real Dovecot's mail user can read."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_root() -> Iterator[Path]:
    """``<tmp>/lab``, with its parent 0755: doveadm reads the mail as nobody when run as
    root, and pytest's own tmp_path is 0700."""
    parent = tempfile.mkdtemp(prefix="lab-reliability-")
    os.chmod(parent, 0o755)
    yield Path(parent) / "lab"
    shutil.rmtree(parent, ignore_errors=True)
