"""Shared fixtures for grader tests: the engines a behavioural verdict is compared on."""

from __future__ import annotations

import pytest

from tests.tools import require_program


@pytest.fixture(params=["lab", "dovecot"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each behavioural test runs on the lab and on real Dovecot: the verdicts must agree."""
    if request.param == "dovecot":
        require_program("dovecot", "dovecot-core")
    return request.param
