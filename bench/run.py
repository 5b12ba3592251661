"""Benchmarks: prints figures and ratios against real Dovecot; never asserts timings.

Usage: ``python bench/run.py [--runs N] [--config FILE]`` (``make bench``).

Scenario ``config``: parse and dump (``doveconf -n`` and ``-a``) a configuration
tree, by default Debian's stock ``/etc/dovecot``; the lab in-process and as a
command, real ``doveconf`` as a command when it is installed.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labserver.config import load  # noqa: E402
from labserver.config.doveconf import dump  # noqa: E402


def _median_ms(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bench_config(path: str, runs: int) -> list[tuple[str, float, float | None]]:
    rows: list[tuple[str, float, float | None]] = []
    doveconf = shutil.which("doveconf")
    for mode in ("n", "a"):
        def lab_inproc(mode: str = mode) -> None:
            with redirect_stdout(io.StringIO()):
                dump(load(path, expand_values=False), mode=mode)

        def lab_cmd(mode: str = mode) -> None:
            subprocess.run([sys.executable, "-m", "labserver", "doveconf", f"-{mode}", "-c", path],
                           capture_output=True, check=False)

        def real_cmd(mode: str = mode) -> None:
            subprocess.run([doveconf, f"-{mode}", "-c", path], capture_output=True, check=False)

        real = _median_ms(real_cmd, runs) if doveconf else None
        rows.append((f"parse + doveconf -{mode}, in process", _median_ms(lab_inproc, runs), real))
        rows.append((f"parse + doveconf -{mode}, as a command", _median_ms(lab_cmd, runs), real))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--config", default="/etc/dovecot/dovecot.conf")
    args = parser.parse_args()
    if not Path(args.config).exists():
        print(f"{args.config} does not exist; install dovecot-core or pass --config FILE")
        return 1
    rows = bench_config(args.config, args.runs)
    print(f"Configuration: {args.config}  (median of {args.runs} runs)")
    print(f"{'scenario':<40} {'lab ms':>9} {'dovecot ms':>11} {'lab/dovecot':>12}")
    for name, lab, real in rows:
        ratio = f"{lab / real:.2f}x" if real else "n/a"
        real_text = f"{real:.1f}" if real else "n/a"
        print(f"{name:<40} {lab:>9.1f} {real_text:>11} {ratio:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
