"""Benchmarks: print figures and ratios against real Dovecot; never assert timings.

Usage: ``python bench/run.py [SCENARIO ...] [--runs N] [--quick]`` (``make bench`` is
the full run, ``make bench BENCH_ARGS=--quick`` a short one). Every server is started
here on the same temporary ``dovecot.conf`` (bench/peers.py) and driven by the same
load generator (bench/load.py); each figure is the median of ``--runs`` runs.

Scenarios:
  ``sessions``  IMAP sessions/s (connect, LOGIN, SELECT INBOX, FETCH 1:10 (FLAGS
                RFC822.SIZE ENVELOPE), LOGOUT) with 1 and 16 clients; the server's CPU time
                per session; start-up time until the port greets; resident memory at
                rest and under the 16 clients
  ``tls``       the same session over implicit TLS (imaps), and TLS handshakes/s on imaps
  ``mailbox``   100,000 messages: SELECT cold (no index yet) and warm, UID FETCH 1:*
                (FLAGS RFC822.SIZE), SEARCH HEADER Subject
  ``pop3``      login+STAT+LIST+UIDL on 10,000 messages (first and later), RETR of all
  ``append``    APPENDs/s of 4 KiB messages, one client
  ``grading``   one behavioural grader check, nbgrader autograde of one submission and
                of a class of 30 (bench/grading.py)
  ``notebooks`` each notebook run top to bottom in a fresh kernel
  ``config``    parse and dump a configuration tree (lab in process and as a command)

Peers: Dovecot with its defaults (a new login process per connection) and in its
high-performance mode; pymap (a pure-Python asyncio IMAP server) and a bare asyncio
echo server (the ceiling for any Python server) where they speak the scenario. The
last column is lab / Dovecot's faster mode: above 1 is better for rates (/s), below 1
for times and memory. ``--quick``: 5,000 and 1,000 messages, 1-second rates, one run.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import grading, load, peers  # noqa: E402

LAB, DOVECOT, FAST, PYMAP, ECHO = "lab", "dovecot", "dovecot-hp", "pymap", "echo"
COLUMNS = (LAB, DOVECOT, FAST, PYMAP, ECHO)
HEADINGS = {LAB: "lab", DOVECOT: "dovecot", FAST: "dovecot hp", PYMAP: "pymap",
            ECHO: "echo"}
RATE_UNITS = ("/s",)


@dataclass
class Row:
    """One figure for each server that ran it (missing: the server does not speak it)."""

    what: str
    unit: str
    values: dict[str, float] = field(default_factory=dict)

    def ratio(self) -> str:
        lab = self.values.get(LAB)
        real = [self.values[k] for k in (DOVECOT, FAST) if self.values.get(k)]
        if lab is None or not real:
            return "n/a"
        best = max(real) if self.unit in RATE_UNITS else min(real)
        return f"{lab / best:.2f}x"


def show(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'scenario':<46} {'unit':>4} "
          + " ".join(f"{HEADINGS[c]:>10}" for c in COLUMNS) + f" {'lab/dovecot':>11}")
    for row in rows:
        cells = " ".join(f"{row.values[c]:>10.3f}" if c in row.values else f"{'-':>10}"
                         for c in COLUMNS)
        print(f"{row.what:<46} {row.unit:>4} {cells} {row.ratio():>11}")
    sys.stdout.flush()


def median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of every process in the session ``pid`` leads."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) != pid:
                continue
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def rss_peak(server: peers.Running) -> Iterator[list[float]]:
    """Samples the server's resident memory every 0.2 s; yields a list whose only item
    is the peak once the block ends."""
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], server.rss_mib())
            stop.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


Starter = Callable[[peers.Setup], AbstractContextManager[peers.Running]]


def servers(names: tuple[str, ...]) -> Iterator[tuple[str, Starter, bool]]:
    """(column, starter, fast) for each named peer that is installed."""
    table: dict[str, tuple[Starter, bool, bool]] = {
        LAB: (peers.run_lab_process, True, True),
        DOVECOT: (peers.run_dovecot, False, peers.have_dovecot()),
        FAST: (peers.run_dovecot, True, peers.have_dovecot()),
        PYMAP: (peers.run_pymap, True, peers.have_pymap()),
        ECHO: (peers.run_echo, True, True),
    }
    for name in names:
        starter, fast, present = table[name]
        if present:
            yield name, starter, fast
        else:
            print(f"({name} is not installed: its column stays empty)")


# -- scenarios ------------------------------------------------------------------------------


def sixteen_clients(server: peers.Running, seconds: float) -> tuple[float, float]:
    """Sessions/s with 16 clients, and the server's CPU milliseconds per session."""
    rate, cpu = load.measure("session", server.imap_port, 16, seconds,
                             lambda: cpu_seconds(server.pid))
    return rate, 1000 * cpu


def bench_sessions(args: argparse.Namespace) -> list[Row]:
    rows = {k: Row(*k.split("|")) for k in (
        "IMAP sessions/s, 1 client|/s", "IMAP sessions/s, 16 clients|/s",
        "server CPU per session, 16 clients|ms", "start until the IMAP port greets|s",
        "resident memory at rest|MiB", "resident memory, 16 clients|MiB")}
    for name, starter, fast in servers(COLUMNS):
        starts = []
        for _ in range(args.runs):
            with peers.setup(20, fast) as s, starter(s) as server:
                starts.append(server.started_in)
        rows["start until the IMAP port greets|s"].values[name] = statistics.median(starts)
        with peers.setup(20, fast) as s, starter(s) as server:
            time.sleep(0.5)
            rows["resident memory at rest|MiB"].values[name] = server.rss_mib()
            rows["IMAP sessions/s, 1 client|/s"].values[name] = median(
                lambda: load.rate("session", server.imap_port, 1, args.seconds), args.runs)
            with rss_peak(server) as peak:
                got = [sixteen_clients(server, args.seconds) for _ in range(args.runs)]
            rows["IMAP sessions/s, 16 clients|/s"].values[name] = statistics.median(
                rate for rate, _ in got)
            rows["server CPU per session, 16 clients|ms"].values[name] = statistics.median(
                cpu for _, cpu in got)
            rows["resident memory, 16 clients|MiB"].values[name] = peak[0]
    with peers.setup(20, True) as s:
        in_process = median(lambda: peers.run_lab_in_process(s), args.runs)
    out = list(rows.values())
    out.insert(4, Row("  the lab's Lab().start() in a running Python", "s",
                      {LAB: in_process}))
    return out


def bench_tls(args: argparse.Namespace) -> list[Row]:
    figures = [("session", 1), ("session", 16), ("handshake", 1), ("handshake", 16)]
    rows = [Row(f"imaps sessions/s, {n} client{'s' if n > 1 else ''}" if what == "session"
                else f"imaps TLS handshakes/s, {n} client{'s' if n > 1 else ''}", "/s")
            for what, n in figures]
    for name, starter, fast in servers((LAB, DOVECOT, FAST)):
        with peers.setup(20, fast, tls=True) as s, starter(s) as server:
            for row, (what, n) in zip(rows, figures, strict=True):
                kind = "tls-session" if what == "session" else "handshake"
                row.values[name] = median(
                    lambda k=kind, c=n: load.rate(k, server.imaps_port, c, args.seconds),
                    args.runs)
    return rows


def bench_mailbox(args: argparse.Namespace) -> list[Row]:
    count = args.big
    rows = {k: Row(f"{count:,} msgs: {k}", "s") for k in (
        "SELECT, cold", "UID FETCH 1:*, cold", "SELECT + UID FETCH, cold",
        "SELECT, warm", "UID FETCH 1:*, warm", "SELECT + UID FETCH, warm",
        "SEARCH HEADER Subject")}
    for name, starter, fast in servers((LAB, FAST)):
        colds = []
        # Cold means no index: a new copy of the mailbox for every run.
        for _ in range(args.cold_runs):
            with peers.setup(count, fast) as s, starter(s) as server:
                colds.append(load.mailbox_steps(server.imap_port))
                warms = [load.mailbox_steps(server.imap_port) for _ in range(args.runs)]
        for key, field_name in (("SELECT, cold", "select"), ("UID FETCH 1:*, cold", "fetch"),
                                ("SELECT + UID FETCH, cold", "select+fetch")):
            rows[key].values[name] = statistics.median(c[field_name] for c in colds)
        for key, field_name in (("SELECT, warm", "select"), ("UID FETCH 1:*, warm", "fetch"),
                                ("SELECT + UID FETCH, warm", "select+fetch"),
                                ("SEARCH HEADER Subject", "search")):
            rows[key].values[name] = statistics.median(w[field_name] for w in warms)
    return list(rows.values())


def bench_pop3(args: argparse.Namespace) -> list[Row]:
    count = args.pop3
    first = Row(f"POP3 login+STAT+LIST+UIDL, {count:,} msgs, first", "s")
    later = Row(f"POP3 login+STAT+LIST+UIDL, {count:,} msgs, later", "s")
    retr = Row(f"POP3 RETR of all {count:,} msgs", "s")
    for name, starter, fast in servers((LAB, FAST)):
        with peers.setup(count, fast) as s, starter(s) as server:
            first.values[name] = load.pop3_steps(server.pop3_port)["list+uidl"]
            steps = [load.pop3_steps(server.pop3_port) for _ in range(args.runs)]
        later.values[name] = statistics.median(x["list+uidl"] for x in steps)
        retr.values[name] = statistics.median(x["retr-all"] for x in steps)
    return [first, later, retr]


def bench_append(args: argparse.Namespace) -> list[Row]:
    row = Row(f"APPEND of 4 KiB messages/s ({args.appends} into a new INBOX)", "/s")
    for name, starter, fast in servers((LAB, FAST, PYMAP)):
        rates = []
        for _ in range(args.runs):
            with peers.setup(1, fast) as s, starter(s) as server:
                rates.append(load.append_rate(server.imap_port, args.appends))
        row.values[name] = statistics.median(rates)
    return [row]


def bench_grading(args: argparse.Namespace) -> None:
    import graders

    conf = ("protocols = imap pop3\ndisable_plaintext_auth = no\n"
            "mail_location = maildir:~/Maildir\n")

    def one() -> float:
        start = time.perf_counter()
        verdict = graders.check("mail-location-maildir", conf)
        if not verdict.passed:
            raise RuntimeError(f"the behavioural check failed: {verdict.feedback}")
        return time.perf_counter() - start

    one()  # imports and first-use costs
    behavioural = median(one, args.runs * 3)
    rows = grading.bench(5 if args.quick else grading.CLASS_SIZE, 1 if args.quick else 3)
    rows.insert(0, ("graders.check('mail-location-maildir'), behavioural",
                    "s", behavioural))
    grading.show(rows)


def bench_notebooks(args: argparse.Namespace) -> None:
    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[1] / "notebooks"
    paths = sorted(p for p in root.glob("*/*.ipynb"))
    if args.quick:
        paths = paths[:1]
    print("\nNotebooks, each run top to bottom in a fresh kernel (nbclient)")
    print(f"{'notebook':<52} {'unit':>4} {'seconds':>10}")
    total = 0.0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        took = time.perf_counter() - start
        total += took
        print(f"{path.stem:<52} {'s':>4} {took:>10.1f}")
        sys.stdout.flush()
    print(f"{'all of them':<52} {'s':>4} {total:>10.1f}")


def bench_config(args: argparse.Namespace) -> list[Row]:
    from labserver.config import load as load_config
    from labserver.config.doveconf import dump

    rows: list[Row] = []
    doveconf = shutil.which("doveconf")
    runs = args.runs * 4
    for mode in ("n", "a"):
        def lab_inproc(mode: str = mode) -> None:
            with redirect_stdout(io.StringIO()):
                dump(load_config(args.config, expand_values=False, strict=False), mode=mode)

        def lab_cmd(mode: str = mode) -> None:
            subprocess.run([sys.executable, "-m", "labserver", "doveconf", f"-{mode}", "-c",
                            args.config], capture_output=True, check=False)

        def real_cmd(mode: str = mode) -> None:
            assert doveconf is not None
            subprocess.run([doveconf, f"-{mode}", "-c", args.config], capture_output=True,
                           check=False)

        def ms(fn: Callable[[], None]) -> float:
            start = time.perf_counter()
            fn()
            return 1000 * (time.perf_counter() - start)

        real = {DOVECOT: median(lambda: ms(real_cmd), runs)} if doveconf else {}
        rows.append(Row(f"parse + doveconf -{mode}, in process", "ms",
                        {LAB: median(lambda: ms(lab_inproc), runs), **real}))
        rows.append(Row(f"parse + doveconf -{mode}, as a command", "ms",
                        {LAB: median(lambda: ms(lab_cmd), runs), **real}))
    return rows


SCENARIOS = ("sessions", "tls", "mailbox", "pop3", "append", "grading", "notebooks",
             "config")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS),
                        help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true",
                        help="small mailboxes, 1-second rates, one run, one notebook")
    parser.add_argument("--config", default="/etc/dovecot/dovecot.conf",
                        help="the tree for the config scenario")
    args = parser.parse_args()
    for name in args.scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name}; known: {', '.join(SCENARIOS)}")
    if args.quick:
        args.runs, args.seconds, args.cold_runs = 1, 1.0, 1
        args.big, args.pop3, args.appends = 5_000, 1_000, 200
    else:
        args.seconds, args.cold_runs = 3.0, min(args.runs, 3)
        args.big, args.pop3, args.appends = 100_000, 10_000, 1_000
    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average {load_avg}; median of {args.runs} "
          f"run(s); Dovecot hp = its high-performance mode")
    for name in args.scenarios:
        start = time.monotonic()
        if name == "sessions":
            show("IMAP sessions (bench/load.py)", bench_sessions(args))
        elif name == "tls":
            show("Implicit TLS on imaps (RSA 2048, TLS 1.3, no resumption)", bench_tls(args))
        elif name == "mailbox":
            show(f"A {args.big:,}-message INBOX (Maildir)", bench_mailbox(args))
        elif name == "pop3":
            show("POP3", bench_pop3(args))
        elif name == "append":
            show("APPEND", bench_append(args))
        elif name == "grading":
            bench_grading(args)
        elif name == "notebooks":
            bench_notebooks(args)
        elif name == "config":
            if Path(args.config).exists():
                show(f"Configuration {args.config}", bench_config(args))
            else:
                print(f"\n{args.config} does not exist; skipping the config scenario")
        load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"({name}: {time.monotonic() - start:.0f} s; load average now {load_avg})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
