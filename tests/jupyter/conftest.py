"""Fixtures: an IPython shell with ``%load_ext labserver``, and the kernel's lab removed after."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from labserver.jupyter import kernel
from labserver.service.lab import DEFAULT_CONFIG

CONFIG = DEFAULT_CONFIG + "auth_failure_delay = 0\n"


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "labserver")
    yield ip
    lab = kernel.existing()
    root = None if lab is None else lab.root
    kernel.shutdown()
    ip.user_ns.pop("lab", None)
    assert root is None or not root.exists()
    assert root is None or processes_mentioning(str(root)) == []
    assert [t for t in threading.enumerate() if t.name == "labserver"] == []


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (a lab's directory: its Dovecot processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found
