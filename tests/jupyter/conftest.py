"""Fixtures: an IPython shell with ``%load_ext labserver``, and the kernel's lab removed after."""

from __future__ import annotations

from collections.abc import Iterator

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
