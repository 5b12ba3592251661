"""Behavioural probing: a fresh lab on the learner's configuration, and clients to test it.

A behavioural task starts its own lab in a new temporary directory on ephemeral ports,
so two checks running at once never share a port or a file. ``lab_for`` turns whatever
the learner handed in (a config text, a file, a folder of config files) into that lab; a
configuration Dovecot would refuse, or one the lab cannot start, stops the task with a
failing verdict quoting the error (``Rejected``), never with a traceback.

Certificates are the grader's business, not the learner's: when the configuration names
``ssl_cert = </path`` and ``ssl_key = </path`` files that are not in the lab, the grader
writes a fresh self-signed pair there (encrypted with ``ssl_key_password`` when that is
set), so a TLS exercise is judged on its settings. Users are made up per check
(``fresh_user``): a hidden test's user, password and message cannot be hard-coded.
"""

from __future__ import annotations

import contextlib
import contextvars
import imaplib
import poplib
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from labserver.config import Config, ConfigError, load
from labserver.config.resolve import PathResolver
from labserver.service.lab import DEFAULT_CONFIG, Lab, LabError
from labserver.tls.certs import ReqConfig, make_certificate

from .verdict import Verdict

CONFIG = "/etc/dovecot/dovecot.conf"
DEFAULT_AUTH = DEFAULT_CONFIG[DEFAULT_CONFIG.index("passdb {"):]
TIMEOUT = 5.0

Submission = str | Path


class Rejected(Exception):
    """Stops a check early with its verdict (a refused config, a lab that cannot start)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.feedback)
        self.verdict = verdict


class Watch:
    """The labs one check has open, so that a check cut by its time limit can stop them.

    ``graders.check`` gives each worker thread a watch. When the time is up it calls
    ``expire``: the labs stop at once (their ports close, so the worker's probes fail
    fast) and a lab the worker would start afterwards is refused; the worker removes
    each lab's directory as it leaves ``lab_for``, as always.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._labs: list[Lab] = []
        self.expired = False

    def add(self, lab: Lab) -> None:
        with self._lock:
            if self.expired:
                raise LabError("the check ran out of time; no new lab is started")
            self._labs.append(lab)

    def stop(self, lab: Lab) -> None:
        """Stop one lab (never at the same time as ``expire`` stops it)."""
        with self._lock:
            lab.stop()
            if lab in self._labs:
                self._labs.remove(lab)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            labs, self._labs = self._labs, []
            for lab in labs:
                with contextlib.suppress(Exception):
                    lab.stop()


WATCH: contextvars.ContextVar[Watch | None] = contextvars.ContextVar("grader_watch",
                                                                   default=None)


def refused(task: str, exc: ConfigError, see: str = "") -> Verdict:
    """The verdict for a configuration Dovecot would not accept: doveconf's own words."""
    return Verdict(task, False, 0.0,
                   "Dovecot would refuse this configuration:\n"
                   f"  {exc.message}\nFix that line first (doveconf names the file and line).",
                   tuple(str(m) for m in exc.messages) + (exc.message,), see=see)


def inside(root: Path, virtual: str) -> Path:
    """Where the grader may write a virtual path: symbolic links a submission brought
    along are followed inside the root, never out of it (``etc/shadow -> /etc/shadow``)."""
    return Path(PathResolver(root).real(virtual))


def place_submission(submission: Submission, root: Path) -> None:
    """Copy a submission into a lab root: a text or file becomes dovecot.conf; a folder
    holding dovecot.conf is /etc/dovecot; a folder holding etc/ is the whole root."""
    target = root / CONFIG.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(submission, Path):
        if submission.is_dir():
            if (submission / "dovecot.conf").is_file():
                shutil.copytree(submission, target.parent, dirs_exist_ok=True, symlinks=True)
            elif (submission / CONFIG.lstrip("/")).is_file():
                shutil.copytree(submission, root, dirs_exist_ok=True, symlinks=True)
            else:
                raise FileNotFoundError(f"no dovecot.conf in {submission}")
            return
        submission = submission.read_text()
    target.write_text(submission)


def read_config(task: str, root: Path, *, expand: bool = True, see: str = "") -> Config:
    """The lab root's configuration as Dovecot reads it, or ``Rejected`` with its error."""
    try:
        return load(CONFIG, root=str(root), expand_values=expand)
    except ConfigError as exc:
        raise Rejected(refused(task, exc, see)) from None


def _file_values(config: Config, name: str) -> set[str]:
    values = set()
    for parser in config.filter_parsers:
        got = parser.store.get(name)
        if got and isinstance(got[0], str) and got[0].startswith("<"):
            values.add(got[0][1:].strip())
    return values


def provide_certificates(config: Config, root: Path) -> list[str]:
    """Write a self-signed certificate and key wherever the configuration reads them and
    nothing is there yet; returns the virtual paths written."""
    certs = sorted(_file_values(config, "ssl_cert"))
    keys = sorted(_file_values(config, "ssl_key"))
    if not certs and not keys:
        return []
    password = config.global_store.get("ssl_key_password")
    password = password[0] if password else ""
    cert_pem, key_pem, _ = make_certificate(ReqConfig(subject=[("CN", "imap.example.com",
                                                                False)]))
    if password:
        key = serialization.load_pem_private_key(key_pem, None)
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(password.encode()))
    written = []
    for virtual, data, mode in [(c, cert_pem, 0o644) for c in certs] + [
            (k, key_pem, 0o600) for k in keys]:
        real = inside(root, virtual)
        if real.exists() or not virtual.startswith("/"):
            continue
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_bytes(data)
        real.chmod(mode)
        written.append(virtual)
    return written


def fresh_user(prefix: str = "learner") -> tuple[str, str]:
    """A user name and password nobody can guess in advance."""
    return f"{prefix}{secrets.randbelow(9000) + 1000}", secrets.token_urlsafe(9)


@contextlib.contextmanager
def lab_for(task: str, submission: Submission, *, engine: str = "lab",
            users: Iterable[tuple[str, str]] = (),
            files: dict[str, str | bytes | None] | None = None, certificates: bool = True,
            default_auth: bool = False, start: bool = True, see: str = "") -> Iterator[Lab]:
    """A running lab on the submission, in its own directory; removed afterwards.

    ``files`` are extra files for the lab root by virtual path (a PAM service file, mail
    an MDA left; ``None`` makes a directory), written before ``users`` are added to the
    passwd-file /etc/dovecot/users. ``default_auth`` gives a configuration without any
    passdb the lab's own passdb and userdb, for tasks about something else.
    """
    root = Path(tempfile.mkdtemp(prefix=f"grader-{task}-"))
    lab: Lab | None = None
    try:
        try:
            place_submission(submission, root)
        except (OSError, UnicodeDecodeError) as exc:
            raise Rejected(Verdict(task, False, 0.0, f"The submission cannot be read: {exc}",
                                   see=see)) from None
        for virtual, content in (files or {}).items():
            real = inside(root, virtual)
            if content is None:
                real.mkdir(parents=True, exist_ok=True)
                continue
            real.parent.mkdir(parents=True, exist_ok=True)
            (real.write_bytes if isinstance(content, bytes) else real.write_text)(content)
        unexpanded = read_config(task, root, expand=False, see=see)
        if default_auth and not unexpanded.sections("passdb"):
            with inside(root, CONFIG).open("a") as conf:
                conf.write("\n" + DEFAULT_AUTH)
        if certificates:
            provide_certificates(unexpanded, root)
        read_config(task, root, see=see)
        lab = Lab(root=root, ports="ephemeral", engine=engine)
        watch = WATCH.get()
        if watch is not None:
            watch.add(lab)
        for user, password in users:
            lab.add_user(user, password)
        if start:
            try:
                lab.start()
            except (LabError, ConfigError, OSError) as exc:
                message = exc.message if isinstance(exc, ConfigError) else str(exc)
                raise Rejected(Verdict(
                    task, False, 0.0,
                    f"Dovecot reads this configuration but cannot start with it:\n  {message}",
                    tuple(lab.logs()[-10:]), see=see)) from None
        yield lab
    finally:
        if lab is not None:
            watch = WATCH.get()
            (watch.stop if watch is not None else Lab.stop)(lab)
        shutil.rmtree(root, ignore_errors=True)


def client_context(minimum: ssl.TLSVersion | None = None,
                   maximum: ssl.TLSVersion | None = None, ciphers: str | None = None
                   ) -> ssl.SSLContext:
    """A client context that accepts the lab's self-signed certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


REMOTE = "127.0.0.2"
"""Where probes connect from: a loopback address that Dovecot does not count as secured
(127.0.0.1 to 127.0.0.1 is "secured", so plaintext logins would pass unnoticed)."""


def _target(lab: Lab, listener: str) -> tuple[Any, str, int]:
    for spec, port in lab.listeners():
        if spec.name == listener:
            host = spec.address
            if host in ("0.0.0.0", "*", ""):
                host = "127.0.0.1"
            elif host in ("::", "[::]"):
                host = "::1"
            return spec, host, port
    raise LabError(f"no listener named {listener!r} is open "
                   f"(open: {', '.join(s.name for s, _ in lab.listeners()) or 'none'})")


def _connect(host: str, port: int, timeout: float, source: str | None) -> socket.socket:
    if source is None or ":" in host:
        return socket.create_connection((host, port), timeout)
    return socket.create_connection((host, port), timeout, source_address=(source, 0))


class _IMAP(imaplib.IMAP4):
    def __init__(self, host: str, port: int, timeout: float, source: str | None) -> None:
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return _connect(self.host, self.port, timeout or TIMEOUT, self._source)


class _IMAPS(imaplib.IMAP4_SSL):
    def __init__(self, host: str, port: int, timeout: float, source: str | None) -> None:
        self._source = source
        super().__init__(host, port, ssl_context=client_context(), timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = _connect(self.host, self.port, timeout or TIMEOUT, self._source)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class _POP3(poplib.POP3):
    def __init__(self, host: str, port: int, timeout: float, source: str | None) -> None:
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float) -> socket.socket:
        return _connect(self.host, self.port, timeout, self._source)


class _POP3S(poplib.POP3_SSL):
    def __init__(self, host: str, port: int, timeout: float, source: str | None) -> None:
        self._source = source
        super().__init__(host, port, context=client_context(), timeout=timeout)

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = _connect(self.host, self.port, timeout, self._source)
        return self.context.wrap_socket(sock, server_hostname=self.host)


def imap_client(lab: Lab, listener: str = "imap", *, starttls: bool = False,
                timeout: float = TIMEOUT, source: str | None = REMOTE) -> imaplib.IMAP4:
    """imaplib connected to a listener (implicit TLS when the listener has ``ssl = yes``),
    from ``source`` (``None``: let the system choose, i.e. a "secured" 127.0.0.1)."""
    spec, host, port = _target(lab, listener)
    if spec.ssl:
        return _IMAPS(host, port, timeout, source)
    client = _IMAP(host, port, timeout, source)
    if starttls:
        client.starttls(client_context())
    return client


def pop3_client(lab: Lab, listener: str = "pop3", *, starttls: bool = False,
                timeout: float = TIMEOUT, source: str | None = REMOTE) -> poplib.POP3:
    """poplib connected to a listener (implicit TLS when the listener has ``ssl = yes``),
    from ``source`` as for ``imap_client``."""
    spec, host, port = _target(lab, listener)
    if spec.ssl:
        return _POP3S(host, port, timeout, source)
    client = _POP3(host, port, timeout, source)
    if starttls:
        client.stls(client_context())
    return client


def close(client: imaplib.IMAP4 | poplib.POP3) -> None:
    """Hang up without caring how the server feels about it."""
    with contextlib.suppress(Exception):
        if isinstance(client, imaplib.IMAP4):
            client.logout()
        else:
            client.quit()
    with contextlib.suppress(Exception):
        client.sock.close()


def evidence(lab: Lab, contains: str | None = None, last: int = 8) -> tuple[str, ...]:
    """The last log lines (optionally those containing a text) for a verdict."""
    return tuple(lab.logs(contains)[-last:])


def judge(task: str, parts: Sequence[tuple[bool, str, str]], *, hint: str = "",
          see: str = "", evidence: Iterable[str] = ()) -> Verdict:
    """A verdict from several observations, each (held, what was expected, what happened).

    The score is the share of observations that held, so partial work earns partial
    credit; the feedback lists every observation so the learner sees what is left.
    """
    held = sum(1 for ok, _, _ in parts if ok)
    score = held / len(parts) if parts else 0.0
    lines = []
    for ok, expected, happened in parts:
        mark = "ok  " if ok else "MISS"
        lines.append(f"  [{mark}] {expected}" + ("" if ok else f": {happened}"))
    passed = held == len(parts) and bool(parts)
    head = "Everything the task asks for holds:" if passed else (
        f"{held} of {len(parts)} expectations hold:")
    text = "\n".join([head, *lines])
    if hint and not passed:
        text += f"\nHint: {hint}"
    return Verdict(task, passed, score, text, tuple(evidence), see=see)
