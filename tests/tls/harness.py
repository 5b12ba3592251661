"""Helpers for the TLS tests: certificates, tools, and a real Dovecot with TLS listeners.

``tls_dovecot(extra)`` starts Debian's Dovecot 2.3 as ``tests/dovecot_harness.py`` does, with
an imaps and a pop3s listener on free loopback ports and ``extra`` (ssl_* lines) appended
to the configuration. ``dovecot_start_error(extra)`` starts one that is expected to refuse
the configuration (or to fail on the first TLS connection) and returns its log.
"""

from __future__ import annotations

import contextlib
import datetime
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

from tests import dovecot_harness as dh
from tests.tools import require_program


def need_tool(program: str) -> str:
    """The path of a program; skip (or fail in CI) when it is missing."""
    return require_program(program)


def self_signed(cn: str = "imap.example.com", bits: int = 2048,
                password: bytes | None = None) -> tuple[bytes, bytes]:
    """A self-signed RSA certificate and its key (PEM), optionally encrypted."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    enc = (serialization.BestAvailableEncryption(password) if password
           else serialization.NoEncryption())
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL
                              if password is None else serialization.PrivateFormat.PKCS8, enc))


@dataclass
class TLSDovecot:
    host: str
    imap_port: int
    pop3_port: int
    imaps_port: int
    pop3s_port: int
    log_path: Path
    tmp: Path
    pid: int

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _config(tmp: Path, host: str, extra: str, ports: dict[str, int]) -> str:
    if os.geteuid() == 0:
        uid = gid = 65534
        internal, login, group = "dovecot", "dovenull", "dovecot"
    else:
        import grp
        import pwd
        uid, gid = os.getuid(), os.getgid()
        internal = login = pwd.getpwuid(uid).pw_name
        group = grp.getgrgid(gid).gr_name
    home = tmp / "home" / "alice"
    (home / "Maildir" / "new").mkdir(parents=True, exist_ok=True)
    for p in (tmp / "home", home, home / "Maildir", home / "Maildir" / "new"):
        os.chown(p, uid, gid)
    (tmp / "users").write_text(f"alice:secret:{uid}:{gid}::{home}::\n")
    text = dh._CONF.format(tmp=tmp, host=host, port=ports["imap"], pop3_port=ports["pop3"],
                           internal=internal, login=login, internal_group=group,
                           uid=min(uid, 500), gid=min(gid, 100))
    text = text.replace("ssl = no\n", "")
    text = text.replace("  inet_listener imaps {\n    port = 0\n",
                        f"  inet_listener imaps {{\n    address = {host}\n"
                        f"    port = {ports['imaps']}\n")
    text = text.replace("  inet_listener pop3s {\n    port = 0\n",
                        f"  inet_listener pop3s {{\n    address = {host}\n"
                        f"    port = {ports['pop3s']}\n")
    return text + extra


def _ready(host: str, port: int, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
            return True
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen) -> str:
    out = ""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    if proc.stdout is not None and not proc.stdout.closed:
        out = proc.stdout.read().decode(errors="replace")
        proc.stdout.close()
    return out


@contextlib.contextmanager
def tls_dovecot(extra: str, files: dict[str, bytes] | None = None, host: str = "127.0.0.1",
                env: dict[str, str] | None = None) -> Iterator[TLSDovecot]:
    """Real Dovecot with ``extra`` settings; ``files`` are written into its directory first
    (use ``{tmp}`` in ``extra`` for that directory)."""
    binary = dh.dovecot_binary()
    tmp = Path(tempfile.mkdtemp(prefix="dovecot-tls-"))
    proc: subprocess.Popen | None = None
    try:
        os.chmod(tmp, 0o755)
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
            os.chmod(tmp / name, 0o600)
        ports = {k: dh._free_port(host) for k in ("imap", "pop3", "imaps", "pop3s")}
        conf = tmp / "dovecot.conf"
        conf.write_text(_config(tmp, host, extra.replace("{tmp}", str(tmp)), ports))
        proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                env={**os.environ, **(env or {})})
        if not _ready(host, ports["imap"], proc, 20):
            out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
            log = (tmp / "dovecot.log")
            raise RuntimeError("dovecot did not start: " + out
                               + (log.read_text(errors="replace") if log.exists() else ""))
        yield TLSDovecot(host=host, imap_port=ports["imap"], pop3_port=ports["pop3"],
                         imaps_port=ports["imaps"], pop3s_port=ports["pop3s"],
                         log_path=tmp / "dovecot.log", tmp=tmp, pid=proc.pid)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def dovecot_start_error(extra: str, files: dict[str, bytes] | None = None,
                        host: str = "127.0.0.1") -> str:
    """Start Dovecot with a configuration expected to be refused; its output and log.

    When the master starts anyway, one TLS connection to the imaps port is made so the
    login process reports what it thinks of the certificate settings.
    """
    binary = dh.dovecot_binary()
    tmp = Path(tempfile.mkdtemp(prefix="dovecot-tls-bad-"))
    proc: subprocess.Popen | None = None
    try:
        os.chmod(tmp, 0o755)
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
            os.chmod(tmp / name, 0o600)
        ports = {k: dh._free_port(host) for k in ("imap", "pop3", "imaps", "pop3s")}
        conf = tmp / "dovecot.conf"
        conf.write_text(_config(tmp, host, extra.replace("{tmp}", str(tmp)), ports))
        proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        if _ready(host, ports["imaps"], proc, 10):
            with contextlib.suppress(OSError), socket.create_connection(
                    (host, ports["imaps"]), 2) as s:
                s.settimeout(2)
                s.sendall(bytes.fromhex("16030100") + b"\x00")
                with contextlib.suppress(OSError):
                    s.recv(100)
            time.sleep(0.5)
        out = _stop(proc)
        log = tmp / "dovecot.log"
        return out + (log.read_text(errors="replace") if log.exists() else "")
    finally:
        if proc is not None and proc.poll() is None:
            _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


DEFAULT_CIPHERS = ("ALL:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!MD5:!PSK:!RC4:"
                   "!ADH:!LOW@STRENGTH")


def tls_lab(extra: str, cert: bytes, key: bytes, dh: bytes | None = None,
            users: dict[str, str] | None = None,
            files: dict[str, bytes] | None = None):  # noqa: ANN201 - a started Lab
    """A started lab (ephemeral ports: imap, imaps, pop3, pop3s) with ``extra`` ssl lines;
    the files are at /etc/dovecot/cert.pem, /etc/dovecot/private/key.pem and
    /etc/dovecot/dh.pem inside its sandbox, with ``files`` (path: content) beside them.
    The caller calls ``cleanup()``."""
    from labserver.service.lab import DEFAULT_CONFIG, Lab

    # like tests/dovecot_harness.py's Dovecot: disable_plaintext_auth = no unless ``extra``
    # says otherwise
    base = DEFAULT_CONFIG.replace("ssl = no\n", "")
    lab = Lab(base + "auth_failure_delay = 0\n" + extra, ports="ephemeral")
    lab.write_config(cert.decode(), "/etc/dovecot/cert.pem")
    lab.write_config(key.decode(), "/etc/dovecot/private/key.pem")
    os.chmod(lab.path("/etc/dovecot/private/key.pem"), 0o600)
    if dh is not None:
        lab.write_config(dh.decode(), "/etc/dovecot/dh.pem")
    for path, content in (files or {}).items():
        lab.write_config(content.decode(), path)
    for user, password in (users or {"alice": "secret"}).items():
        lab.add_user(user, password)
    try:
        return lab.start()
    except Exception:
        lab.cleanup()
        raise


LAB_FILES = ("ssl_cert = </etc/dovecot/cert.pem\nssl_key = </etc/dovecot/private/key.pem\n")
DOVECOT_FILES = "ssl_cert = <{tmp}/cert.pem\nssl_key = <{tmp}/key.pem\n"


def dh_params() -> bytes:
    """Debian's shipped DH parameters (4096 bits), or a 2048-bit set made by openssl."""
    path = Path("/usr/share/dovecot/dh.pem")
    if path.exists():
        return path.read_bytes()
    need_tool("openssl")
    return subprocess.run(["openssl", "dhparam", "2048"], capture_output=True, check=True,
                          timeout=300).stdout
