"""Outside programs the tests need (Debian packages that ``.ci/run`` installs)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_program(program: str, package: str = "") -> str:
    """The path of ``program``; skip the test when it is missing, fail it in CI.

    CI sets ``CI``: there a missing program means ``.ci/run`` lacks an install step,
    which must not pass unnoticed as a skip.
    """
    path = shutil.which(program)
    if path is None and os.path.exists(f"/usr/sbin/{program}"):
        path = f"/usr/sbin/{program}"
    if path is None:
        where = f" (Debian package {package})" if package else ""
        if os.environ.get("CI"):
            pytest.fail(f"{program}{where} is not installed; .ci/run must install it")
        pytest.skip(f"{program}{where} is not installed")
    return path
