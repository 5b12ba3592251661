"""The lab's doveconf against real Dovecot 2.3 on the same files.

For every configuration in ``corpus/`` (and Debian's stock ``/etc/dovecot`` tree
when it is installed) both print ``-n``; the setting lines, the warnings and errors
on stderr and the exit code must be the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .dovecot_oracle import lab_doveconf, real_doveconf

CORPUS = Path(__file__).with_name("corpus")


def _cases() -> list[Path]:
    cases = []
    for entry in sorted(CORPUS.iterdir()):
        if entry.is_dir() and (entry / "dovecot.conf").exists():
            cases.append(entry / "dovecot.conf")
        elif entry.suffix == ".conf":
            cases.append(entry)
    return cases


CASES = _cases()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


def _compare(path: Path, flags: list[str]) -> None:
    args = [*flags, "-c", str(path)]
    real = real_doveconf(args, cwd=str(path.parent))
    lab = lab_doveconf(args, cwd=str(path.parent))
    assert lab.settings == real.settings
    assert lab.messages == real.messages
    assert lab.code == real.code


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.parent.name if p.name ==
                         "dovecot.conf" else p.stem)
def test_doveconf_n_matches_dovecot(path: Path) -> None:
    _compare(path, ["-n"])


@pytest.mark.parametrize("flags", [["-n"], ["-a"], ["-N"], ["-n", "-P"]], ids=" ".join)
def test_stock_tree_matches_dovecot(flags: list[str]) -> None:
    stock = Path("/etc/dovecot/dovecot.conf")
    if not stock.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's stock /etc/dovecot tree is missing")
        pytest.skip("Debian's stock /etc/dovecot tree is not installed")
    _compare(stock, flags)


@pytest.mark.parametrize("path", CASES[::7], ids=lambda p: p.parent.name if p.name ==
                         "dovecot.conf" else p.stem)
def test_doveconf_a_matches_dovecot(path: Path) -> None:
    _compare(path, ["-a"])


@pytest.mark.parametrize("names", [["ssl"], ["mail_location"], ["service"], ["namespace"],
                                   ["auth_mechanisms", "disable_plaintext_auth"]],
                         ids=" ".join)
def test_single_settings_match_dovecot(names: list[str]) -> None:
    stock = Path("/etc/dovecot/dovecot.conf")
    if not stock.exists():
        pytest.skip("Debian's stock /etc/dovecot tree is not installed")
    real = real_doveconf(["-c", str(stock), *names])
    lab = lab_doveconf(["-c", str(stock), *names])
    assert (lab.stdout, lab.code) == (real.stdout, real.code)
