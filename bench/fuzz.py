"""Coverage-guided fuzzing (atheris/libFuzzer) of the config parser, the IMAP and POP3
engines and the SASL decoders; prints one line of figures per target.

Usage: ``python bench/fuzz.py [TARGET ...] [--runs N] [--seconds S] [--jobs J]
[--work DIR]`` (``make fuzz`` runs one million inputs per target). Targets are in
``bench/fuzz_targets.py``: ``config``, ``sasl``, ``imap``, ``pop3``. Each target runs in
its own process (libFuzzer exits on the first crash); an input that crashes one is
written to ``WORK/crashes/<target>/`` and its name printed, to become a regression test
in ``tests/reliability/fuzz_regressions/<target>/``. Exit code 1 if any target crashed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG_CORPUS = ROOT / "tests" / "config" / "corpus"
INSTRUMENT = {
    "config": ["labserver.config"],
    "sasl": ["labserver.auth.sasl", "labserver.auth.b64", "labserver.auth.hmac_md5"],
    "imap": ["labserver.imap", "labserver.storage"],
    "pop3": ["labserver.pop3", "labserver.storage"],
}
DONE = re.compile(r"Done (\d+) runs in (\d+) second")
STATUS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")


@dataclass
class Outcome:
    target: str
    runs: int
    seconds: float
    coverage: int
    features: int
    crashes: list[Path]
    returncode: int

    def line(self) -> str:
        rate = self.runs / self.seconds if self.seconds else 0.0
        verdict = "ok" if self.returncode == 0 and not self.crashes else \
            f"CRASH ({', '.join(p.name for p in self.crashes) or f'exit {self.returncode}'})"
        return (f"{self.target:<7} {self.runs:>10,} inputs  {self.seconds:>7.0f} s  "
                f"{rate:>8,.0f}/s  cov {self.coverage:>5}  ft {self.features:>6}  {verdict}")


def _seed_dir(target: str, work: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from bench.fuzz_targets import SEEDS

    seeds = work / "seeds" / target
    seeds.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(SEEDS[target]):
        (seeds / f"seed-{i}").write_bytes(data)
    if target == "config":
        for conf in sorted(CONFIG_CORPUS.glob("*.conf")):
            (seeds / conf.name).write_bytes(conf.read_bytes())
    return seeds


def run_target(target: str, runs: int, seconds: int, work: Path) -> Outcome:
    """One libFuzzer process for one target; bounded by ``runs`` and ``seconds``."""
    corpus = work / "corpus" / target
    crashes = work / "crashes" / target
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    seeds = _seed_dir(target, work)
    cmd = [sys.executable, __file__, "--worker", target, f"-runs={runs}",
           f"-max_total_time={seconds}", f"-artifact_prefix={crashes}/", "-max_len=4096",
           "-timeout=20", "-rss_limit_mb=2048", "-print_final_stats=1", str(corpus),
           str(seeds)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work,
                          timeout=seconds + 300)
    elapsed = time.monotonic() - start
    log = proc.stderr
    (work / f"{target}.log").write_text(log)
    done = DONE.findall(log)
    status = STATUS.findall(log)
    executed = int(done[-1][0]) if done else int(status[-1][0]) if status else 0
    cov, ft = (int(status[-1][1]), int(status[-1][2])) if status else (0, 0)
    return Outcome(target, executed, elapsed, cov, ft, sorted(crashes.iterdir()),
                   proc.returncode)


def _worker(target: str, libfuzzer_args: list[str]) -> None:
    import atheris

    sys.path.insert(0, str(ROOT))
    # Only the code a target exercises is instrumented: instrumenting all of labserver
    # costs seconds at every start.
    with atheris.instrument_imports(include=INSTRUMENT[target]):
        from bench.fuzz_targets import TARGETS
    atheris.Setup([sys.argv[0], *libfuzzer_args], TARGETS[target])
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        _worker(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", default=["config", "sasl", "imap", "pop3"])
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs per target")
    parser.add_argument("--seconds", type=int, default=3600,
                        help="upper bound on each target's time")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--work", type=Path, help="corpus and crash folder (default: temporary)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="labfuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"fuzzing {', '.join(args.targets)}: up to {args.runs:,} inputs and "
          f"{args.seconds} s each; work folder {work}", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(lambda t: run_target(t, args.runs, args.seconds, work),
                                 args.targets))
    for outcome in outcomes:
        print(outcome.line())
    return 0 if all(o.returncode == 0 and not o.crashes for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
