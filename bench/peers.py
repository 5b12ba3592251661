"""The servers a benchmark compares, each started on the same ``dovecot.conf`` and mail.

``setup()`` writes one temporary configuration on loopback (passwd-file users with
the PLAIN scheme, Maildir, optional imaps with a self-signed certificate) and a mail
layout. The lab reads that file exactly as real Dovecot does: ``run_lab_process``
starts ``labserver serve --root / -c FILE --ports exact`` (its own process, as a learner
runs it, so the lab never shares an interpreter with the load generator) and
``run_dovecot`` starts Debian's ``dovecot -F -c FILE``, in its default process model or
in its high-performance mode (Dovecot's documentation, "Login processes"): login
processes that serve any number of connections (``service_count = 0``) with
``process_min_avail`` of them waiting, and imap/pop3 processes reused from one session
to the next (``service_count = 0``, ``client_limit = 1``, ``process_min_avail``).

Two more peers where they fit: pymap (PyPI), a pure-Python asyncio IMAP server, run as
a subprocess on its maildir backend over the same Maildir; and ``bench/echo.py``, a bare
asyncio server that answers every line, the ceiling for any Python server here.
Every process is started here and stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.load import PASSWORD, USER

ROOT = Path(__file__).resolve().parents[1]

CONF = """\
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
instance_name = bench-{imap_port}
protocols = imap pop3
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
default_internal_group = {group}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_max_userip_connections = 1000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {tmp}/users
}}
userdb {{
  driver = passwd-file
  args = {tmp}/users
}}
service imap-login {{
  chroot =
{login_tuning}  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
  }}
}}
service pop3-login {{
  chroot =
{login_tuning}  inet_listener pop3 {{
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap {{
{mail_tuning}}}
service pop3 {{
{mail_tuning}}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"""

# High-performance mode: a login process per core, each serving every connection it
# gets; a pool of imap (pop3) processes, each serving one session after another.
FAST_LOGIN = "  service_count = 0\n  process_min_avail = 2\n"
FAST_MAIL = "  service_count = 0\n  process_min_avail = 16\n  client_limit = 1\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message(i: int) -> bytes:
    return (f"From: Sender {i} <s{i}@example.com>\nTo: {USER}@example.com\n"
            f"Subject: message number {i}\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{i}@example.com>\n\n" + "Some body text.\n" * 8).encode()


@dataclass
class Setup:
    """A configuration and a mail layout ready for any of the servers."""

    tmp: Path
    conf: Path
    imap_port: int
    pop3_port: int
    uid: int
    gid: int
    imaps_port: int = 0
    fast: bool = False

    @property
    def home(self) -> Path:
        return self.tmp / "home" / USER

    def fill(self, count: int) -> None:
        """Write ``count`` messages into the Maildir's new/ (no index, no uidlist yet)."""
        maildir = self.home / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        base = int(time.time()) - count
        for i in range(count):
            with open(maildir / "new" / f"{base + i}.M{i}P1.bench", "wb") as fh:
                fh.write(message(i))
        for root, _dirs, files in os.walk(self.tmp / "home"):
            os.chown(root, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(root, name), self.uid, self.gid)


@contextlib.contextmanager
def setup(messages: int, fast: bool = False, tls: bool = False) -> Iterator[Setup]:
    """``tls``: a self-signed certificate (made by ``labserver.tls.certs``) and an imaps
    listener with Dovecot's default ssl settings plus ``ssl_dh``; ``fast``: Dovecot's
    high-performance mode in the same file (the lab reads and ignores process counts)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    os.chmod(tmp, 0o755)
    if os.geteuid() == 0:
        uid = gid = 65534
        internal, login, group = "dovecot", "dovenull", "dovecot"
    else:
        import grp
        import pwd
        uid, gid = os.getuid(), os.getgid()
        internal = login = pwd.getpwuid(uid).pw_name
        group = grp.getgrgid(gid).gr_name
    imap_port, pop3_port = free_port(), free_port()
    imaps_port = free_port() if tls else 0
    ssl = "ssl = no\n"
    if tls:
        from labserver.tls.certs import ReqConfig, make_certificate

        cert, key, _ = make_certificate(ReqConfig(subject=[("CN", "bench.example", False)]))
        (tmp / "cert.pem").write_bytes(cert)
        (tmp / "key.pem").write_bytes(key)
        os.chmod(tmp / "key.pem", 0o600)
        ssl = f"ssl = yes\nssl_cert = <{tmp}/cert.pem\nssl_key = <{tmp}/key.pem\n"
        dh = Path("/usr/share/dovecot/dh.pem")
        if dh.exists():
            ssl += f"ssl_dh = <{dh}\n"
    conf = tmp / "dovecot.conf"
    conf.write_text(CONF.format(tmp=tmp, imap_port=imap_port, pop3_port=pop3_port,
                                ssl=ssl, imaps_port=imaps_port,
                                internal=internal, login=login, group=group,
                                login_tuning=FAST_LOGIN if fast else "",
                                mail_tuning=FAST_MAIL if fast else ""))
    (tmp / "users").write_text(f"{USER}:{PASSWORD}:{uid}:{gid}::{tmp}/home/{USER}::\n")
    s = Setup(tmp, conf, imap_port, pop3_port, uid, gid, imaps_port, fast)
    s.fill(messages)
    try:
        yield s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Running:
    """A started server: where it listens, how long it took, its process."""

    name: str
    imap_port: int
    pop3_port: int
    started_in: float
    imaps_port: int = 0
    pid: int = 0

    def rss_mib(self) -> float:
        """Resident memory of the server's processes (its session), in MiB."""
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.getsid(int(entry)) != self.pid:
                    continue
                with open(f"/proc/{entry}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except (OSError, ValueError):
                continue
        return total / 1024


def _wait_port(proc: subprocess.Popen[bytes], port: int, greeting: bytes, what: str,
               timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", port), 0.5) as sock:
            sock.settimeout(5)
            if sock.recv(100).startswith(greeting):
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.005)


@contextlib.contextmanager
def _process(argv: list[str], port: int, greeting: bytes, name: str, s: Setup,
             pop3_port: int = 0, imaps_port: int = 0, env: dict[str, str] | None = None,
             ) -> Iterator[Running]:
    """Start ``argv`` in its own session, wait until ``port`` greets; stop it by PID."""
    log = open(s.tmp / f"{name}.out", "wb")  # noqa: SIM115 - closed below
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, env=env)
    try:
        try:
            _wait_port(proc, port, greeting, name)
        except RuntimeError:
            raise RuntimeError(f"{name} did not start: "
                               + (s.tmp / f"{name}.out").read_text()[-2000:]) from None
        yield Running(name, port, pop3_port, time.perf_counter() - start, imaps_port,
                      proc.pid)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


def run_lab_process(s: Setup) -> contextlib.AbstractContextManager[Running]:
    """``labserver serve`` on the setup's dovecot.conf, its own ports (``exact``)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return _process([sys.executable, "-m", "labserver", "serve", "--root", "/", "-c",
                     str(s.conf), "--ports", "exact"], s.imap_port, b"* OK", "lab", s,
                    s.pop3_port, s.imaps_port, env)


def run_lab_in_process(s: Setup) -> float:
    """Seconds for ``Lab(...).start()`` in this process (what a notebook cell waits)."""
    from labserver.service.lab import Lab

    start = time.perf_counter()
    lab = Lab(root="/", config_path=str(s.conf), ports="ephemeral").start()
    elapsed = time.perf_counter() - start
    lab.stop()
    return elapsed


def run_dovecot(s: Setup) -> contextlib.AbstractContextManager[Running]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    name = "dovecot-hp" if s.fast else "dovecot"
    return _process([binary, "-F", "-c", str(s.conf)], s.imap_port, b"* OK", name, s,
                    s.pop3_port, s.imaps_port)


def have_dovecot() -> bool:
    return shutil.which("dovecot") is not None or os.path.exists("/usr/sbin/dovecot")


def have_pymap() -> bool:
    return shutil.which("pymap", path=os.path.dirname(sys.executable)) is not None


def run_pymap(s: Setup) -> contextlib.AbstractContextManager[Running]:
    """pymap's maildir backend on the same Maildir (its own users files, the same user
    and password, stored in plain text); IMAP only, without TLS (``--no-tls``)."""
    base = s.tmp / "pymap"
    base.mkdir(exist_ok=True)
    (base / "pymap-etc-passwd").write_text(f"{USER}:x::::{s.home / 'Maildir'}:\n")
    (base / "pymap-etc-shadow").write_text(f"{USER}:{PASSWORD}:::::::\n")
    (base / "pymap-etc-group").write_text("")
    # The plaintext scheme, as the passwd-file's scheme=PLAIN for the lab and Dovecot.
    (base / "passlib.cfg").write_text("[passlib]\nschemes = plaintext\n")
    binary = os.path.join(os.path.dirname(sys.executable), "pymap")
    return _process([binary, "--host", "127.0.0.1", "--port", str(s.imap_port),
                     "--no-tls", "--no-service", "admin",
                     "--passlib-cfg", str(base / "passlib.cfg"), "maildir", str(base)],
                    s.imap_port, b"* OK", "pymap", s)


def run_echo(s: Setup) -> contextlib.AbstractContextManager[Running]:
    """``bench/echo.py``: a greeting, then ``TAG OK`` for every line (the Python ceiling)."""
    return _process([sys.executable, str(ROOT / "bench" / "echo.py"), str(s.imap_port)],
                    s.imap_port, b"* OK", "echo", s)
