"""What one learner costs: memory and CPU of a lab server and of a kernel working a notebook.

Prints figures for docs/jupyterhub.md; it is not a test (nothing here asserts a speed).

    .venv/bin/python -m tests.hub.resources [NOTEBOOK ...]

1. At rest: a JupyterLab server as a hub spawns it for one user (the course's packages and
   nbgrader's extensions loaded, no kernel), then the same with one idle kernel. Memory is
   the resident set size (RSS) of the server's process tree, read after a settling pause;
   CPU is the time that tree used over 30 idle seconds, as a share of one core.
2. Under a notebook's exercises: a fresh kernel runs every code cell of each notebook (the
   instructor's version, so that every exercise is answered and every lab server starts),
   while a sampler reads the kernel's process tree (the kernel, and the doveconf, mkcert
   or real-client processes its cells start) every 0.1 s. The figures are the peak RSS of
   that tree and the CPU seconds it used (user + system, children included).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from jupyter_client import KernelManager

from tests.browser.lab import ROOT, free_port, wait_http

MB = 1024 * 1024


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class PeakSampler(threading.Thread):
    """Reads a process tree's RSS every `interval` seconds and keeps the peak."""

    def __init__(self, process: psutil.Process, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.interval = interval
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.peak = max(self.peak, tree_rss(self.process))
            except psutil.NoSuchProcess:
                return
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


@dataclass
class NotebookFigures:
    name: str
    idle_rss: int
    peak_rss: int
    cpu_seconds: float
    wall_seconds: float


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time of a process and its descendants (finished ones are counted by the OS in
    the children_* fields once reaped; live ones are added here)."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


def run_notebook(path: Path, timeout: float = 300) -> NotebookFigures:
    """Run every code cell of `path` in a fresh kernel and measure the kernel's tree."""
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(path.parent))
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        kernel = psutil.Process(manager.provisioner.pid)
        time.sleep(2)
        idle = tree_rss(kernel)
        start_cpu = cpu_seconds(kernel)
        sampler = PeakSampler(kernel)
        sampler.start()
        started = time.perf_counter()
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                reply = client.execute_interactive(cell.source, timeout=timeout,
                                                   output_hook=lambda _msg: None)
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"{path.name}: a cell failed: {reply['content']}")
        wall = time.perf_counter() - started
        used = cpu_seconds(kernel) - start_cpu
        return NotebookFigures(path.parent.name, idle, sampler.stop(), used, wall)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)


def server_at_rest(settle: float = 5, idle_window: float = 30) -> tuple[int, int, float]:
    """RSS of a JupyterLab server on the course, alone and then with one idle kernel, and
    the share of one core that server and kernel use at rest (over `idle_window` s)."""
    token = secrets.token_hex(16)
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        log = Path(home) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
                 f"--port={port}", f"--IdentityProvider.token={token}",
                 f"--ServerApp.root_dir={ROOT / 'notebooks'}", "--allow-root"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", 60,
                      alive=lambda: server.poll() is None, log=log)
            process = psutil.Process(server.pid)
            time.sleep(settle)
            alone = tree_rss(process)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/kernels?token={token}", method="POST",
                data=json.dumps({"name": "python3"}).encode())
            urllib.request.urlopen(request, timeout=60).read()
            time.sleep(settle + 5)
            with_kernel = tree_rss(process)
            before = cpu_seconds(process)
            time.sleep(idle_window)
            idle_cpu = (cpu_seconds(process) - before) / idle_window
        finally:
            server.terminate()
            server.wait(timeout=30)
    return alone, with_kernel, idle_cpu


def main(argv: list[str]) -> None:
    notebooks = ([Path(a).resolve() for a in argv] if argv else
                 sorted((ROOT / "notebooks").glob("*/*.ipynb")))
    alone, with_kernel, idle_cpu = server_at_rest()
    memory = psutil.virtual_memory().total / MB / 1024
    print(f"cores: {psutil.cpu_count()}, memory: {memory:.0f} GiB")
    print(f"lab server at rest, no kernel:       {alone / MB:7.0f} MB RSS")
    print(f"lab server at rest, one idle kernel: {with_kernel / MB:7.0f} MB RSS, "
          f"{idle_cpu * 100:.1f} % of a core")
    print(f"{'notebook':24} {'kernel idle MB':>14} {'kernel peak MB':>14} "
          f"{'CPU s':>7} {'wall s':>7}")
    for path in notebooks:
        fig = run_notebook(path)
        print(f"{fig.name:24} {fig.idle_rss / MB:14.0f} {fig.peak_rss / MB:14.0f} "
              f"{fig.cpu_seconds:7.1f} {fig.wall_seconds:7.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
