"""Servers to measure: the lab and real Dovecot, on one dovecot.conf and one mailbox layout.

Both read the same configuration file (real paths in a temporary directory, so the
lab runs with ``root=/``); each gets its own copy of the mail so that neither
warms the other's caches or indexes. Dovecot runs in the foreground as
``dovecot -F -c FILE`` on loopback, in its default mode or in its high-performance
mode (login processes and mail processes reused: ``service_count = 0`` with
``process_min_avail``); only the process started here is stopped, by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labserver.service.lab import Lab

USER, PASSWORD = "bench", "secret"

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

FAST_LOGIN = "  service_count = 0\n  process_min_avail = 2\n"
FAST_MAIL = "  service_count = 0\n  process_min_avail = 2\n  client_limit = 1\n"


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
    """A configuration and a mail layout ready for either server."""

    tmp: Path
    conf: Path
    imap_port: int
    pop3_port: int
    uid: int
    gid: int
    imaps_port: int = 0

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
            path = maildir / "new" / f"{base + i}.M{i}P1.bench"
            path.write_bytes(message(i))
        for root, _dirs, files in os.walk(self.tmp / "home"):
            os.chown(root, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(root, name), self.uid, self.gid)


@contextlib.contextmanager
def setup(messages: int, fast: bool = False, tls: bool = False) -> Iterator[Setup]:
    """``tls``: a self-signed certificate (made by ``labserver.tls.certs``) and an imaps
    listener with Dovecot's default ssl settings plus ``ssl_dh``."""
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
    s = Setup(tmp, conf, imap_port, pop3_port, uid, gid, imaps_port)
    s.fill(messages)
    try:
        yield s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Running:
    name: str
    imap_port: int
    pop3_port: int
    started_in: float
    imaps_port: int = 0


@contextlib.contextmanager
def run_lab(s: Setup) -> Iterator[Running]:
    start = time.perf_counter()
    lab = Lab(root="/", config_path=str(s.conf), ports="ephemeral").start()
    elapsed = time.perf_counter() - start
    try:
        yield Running("lab", lab.port("imap"), lab.port("pop3"), elapsed,
                      lab.port("imaps") if s.imaps_port else 0)
    finally:
        lab.stop()


@contextlib.contextmanager
def run_dovecot(s: Setup, name: str = "dovecot") -> Iterator[Running]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "-F", "-c", str(s.conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", s.imap_port), 0.5) as sock:
                sock.settimeout(2)
                if sock.recv(100).startswith(b"* OK"):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start (see {s.tmp}/dovecot.log)")
            time.sleep(0.02)
        yield Running(name, s.imap_port, s.pop3_port, time.perf_counter() - start,
                      s.imaps_port)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)


def have_dovecot() -> bool:
    return shutil.which("dovecot") is not None or os.path.exists("/usr/sbin/dovecot")
