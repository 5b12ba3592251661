"""Fuzzing, bounded form: a short atheris run per target, and every input that once
crashed a target, replayed.

The long form is ``make fuzz`` (one million inputs per target, ``bench/fuzz.py``); the
targets are in ``bench/fuzz_targets.py``. An input the fuzzer reports goes into
``fuzz_regressions/<target>/`` under a name that says what it broke, with the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import fuzz
from bench.fuzz_targets import TARGETS

REGRESSIONS = Path(__file__).with_name("fuzz_regressions")
CASES = sorted(p for p in REGRESSIONS.glob("*/*") if p.is_file())


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_fuzz_regression(case: Path) -> None:
    TARGETS[case.parent.name](case.read_bytes())


def test_regressions_name_a_target() -> None:
    assert {p.parent.name for p in CASES} <= set(TARGETS)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_short_fuzz_run(target: str, tmp_path: Path) -> None:
    outcome = fuzz.run_target(target, runs=20_000, seconds=8, work=tmp_path)
    log = (tmp_path / f"{target}.log").read_text()
    assert outcome.crashes == [], log[-3000:]
    assert outcome.returncode == 0, log[-3000:]
    assert outcome.runs > 0 and outcome.coverage > 0, log[-3000:]
