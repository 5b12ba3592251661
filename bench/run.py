"""Benchmarks: print figures and ratios against real Dovecot; never assert timings.

Usage: ``python bench/run.py [SCENARIO ...] [--runs N] [--quick]`` (``make bench``).
Scenarios: ``config`` (parse and dump a configuration tree), ``pop3`` (LIST and UIDL on
10,000 messages), ``imap`` (IMAP sessions per second with 1 and 8 clients; SELECT and
UID FETCH 1:* on 10,000 and 100,000 messages, cold and warm), ``tls`` (TLS handshakes per
second on the imaps port, TLS 1.3 and TLS 1.2 ECDHE, 1 and 8 clients), ``grading``
(nbgrader's autograde per submission and for a class of 30; bench/grading.py; no Dovecot
figure). Dovecot runs in its high-performance mode unless ``--dovecot-defaults``; the
ratio is lab / Dovecot
(below 1 is better for times, above 1 is better for rates).
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import grading, peers, scenarios  # noqa: E402
from labserver.config import load  # noqa: E402
from labserver.config.doveconf import dump  # noqa: E402

Row = tuple[str, str, float, float | None]  # name, unit, lab, dovecot


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bench_config(path: str, runs: int) -> list[Row]:
    rows: list[Row] = []
    doveconf = shutil.which("doveconf")
    for mode in ("n", "a"):
        def lab_inproc(mode: str = mode) -> None:
            with redirect_stdout(io.StringIO()):
                dump(load(path, expand_values=False, strict=False), mode=mode)

        def lab_cmd(mode: str = mode) -> None:
            subprocess.run([sys.executable, "-m", "labserver", "doveconf", f"-{mode}", "-c", path],
                           capture_output=True, check=False)

        def real_cmd(mode: str = mode) -> None:
            subprocess.run([doveconf, f"-{mode}", "-c", path], capture_output=True, check=False)

        real = _median_ms(real_cmd, runs) if doveconf else None
        rows.append((f"parse + doveconf -{mode}, in process", "ms",
                     _median_ms(lab_inproc, runs), real))
        rows.append((f"parse + doveconf -{mode}, as a command", "ms",
                     _median_ms(lab_cmd, runs), real))
    return rows


def _both(messages: int, fast: bool, measure: Callable[[peers.Running], dict[str, float]],
          tls: bool = False) -> dict[str, tuple[float, float | None]]:
    """Run ``measure`` against the lab and Dovecot, each on its own copy of the mail."""
    with peers.setup(messages, fast, tls) as s, peers.run_lab(s) as lab:
        lab_figures = measure(lab)
    real_figures: dict[str, float] = {}
    if peers.have_dovecot():
        with peers.setup(messages, fast, tls) as s, peers.run_dovecot(s) as real:
            real_figures = measure(real)
    return {k: (v, real_figures.get(k)) for k, v in lab_figures.items()}


def bench_pop3(runs: int, quick: bool, fast: bool) -> list[Row]:
    count = 1000 if quick else 10_000

    def measure(server: peers.Running) -> dict[str, float]:
        cold = scenarios.pop3_list_uidl(server.pop3_port)
        warm = scenarios.median_of(lambda: scenarios.pop3_list_uidl(server.pop3_port), runs)
        return {"cold": cold, "warm": warm, "start": server.started_in}

    got = _both(count, fast, measure)
    return [(f"POP3 login+STAT+LIST+UIDL, {count} msgs, first", "s", *got["cold"]),
            (f"POP3 login+STAT+LIST+UIDL, {count} msgs, later", "s", *got["warm"]),
            ("server start until ports accept", "s", *got["start"])]


def bench_imap(runs: int, quick: bool, fast: bool) -> list[Row]:
    rows: list[Row] = []
    seconds = 2.0 if quick else 5.0

    def sessions(server: peers.Running) -> dict[str, float]:
        scenarios.imap_session(server.imap_port)  # warm up
        return {str(n): scenarios.sessions_per_second(server.imap_port, n, seconds)
                for n in (1, 8)}

    got = _both(20, fast, sessions)
    for n in ("1", "8"):
        rows.append((f"IMAP sessions/s, {n} client(s)", "/s", *got[n]))
    for count in ((1000,) if quick else (10_000, 100_000)):
        def select_fetch(server: peers.Running) -> dict[str, float]:
            cold = scenarios.select_fetch_all(server.imap_port)
            warm = scenarios.median_of(lambda: scenarios.select_fetch_all(server.imap_port),
                                       runs)
            return {"cold": cold, "warm": warm}

        got = _both(count, fast, select_fetch)
        rows.append((f"SELECT + UID FETCH 1:*, {count} msgs, cold", "s", *got["cold"]))
        rows.append((f"SELECT + UID FETCH 1:*, {count} msgs, warm", "s", *got["warm"]))
    return rows


def bench_tls(quick: bool, fast: bool) -> list[Row]:
    seconds = 2.0 if quick else 5.0
    rows: list[Row] = []

    def handshakes(server: peers.Running) -> dict[str, float]:
        out = {}
        for version in ("1.3", "1.2"):
            scenarios.tls_handshake(server.imaps_port, version)  # warm up
            for n in (1, 8):
                out[f"{version} {n}"] = scenarios.handshakes_per_second(
                    server.imaps_port, version, n, seconds)
        return out

    got = _both(1, fast, handshakes, tls=True)
    for version, what in (("1.3", "TLS 1.3"), ("1.2", "TLS 1.2 ECDHE")):
        for n in (1, 8):
            rows.append((f"imaps handshake+greeting/s, {what}, {n} client(s)", "/s",
                         *got[f"{version} {n}"]))
    return rows


def _print(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'scenario':<48} {'unit':>4} {'lab':>10} {'dovecot':>10} {'lab/dovecot':>12}")
    for name, unit, lab, real in rows:
        real_text = f"{real:.3f}" if real is not None else "n/a"
        ratio = f"{lab / real:.2f}x" if real else "n/a"
        print(f"{name:<48} {unit:>4} {lab:>10.3f} {real_text:>10} {ratio:>12}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=["config", "pop3", "imap", "grading"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small mailboxes, short runs")
    parser.add_argument("--dovecot-defaults", action="store_true",
                        help="compare with Dovecot's default process model")
    parser.add_argument("--config", default="/etc/dovecot/dovecot.conf")
    args = parser.parse_args()
    fast = not args.dovecot_defaults
    mode = "defaults" if args.dovecot_defaults else "high-performance mode"
    for name in args.scenarios:
        if name == "config":
            if Path(args.config).exists():
                _print(f"Configuration {args.config} (median of {args.runs * 4} runs)",
                       bench_config(args.config, args.runs * 4))
            else:
                print(f"\n{args.config} does not exist; skipping the config scenario")
        elif name == "pop3":
            _print(f"POP3 (Dovecot {mode}; median of {args.runs})",
                   bench_pop3(args.runs, args.quick, fast))
        elif name == "tls":
            _print(f"TLS on imaps (Dovecot {mode}; RSA 2048 certificate)",
                   bench_tls(args.quick, fast))
        elif name == "imap":
            _print(f"IMAP (Dovecot {mode}; median of {args.runs})",
                   bench_imap(args.runs, args.quick, fast))
        elif name == "grading":
            grading.show(grading.bench(5 if args.quick else grading.CLASS_SIZE,
                                       1 if args.quick else args.runs))
        else:
            parser.error(f"unknown scenario {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
