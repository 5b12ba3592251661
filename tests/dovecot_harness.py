"""A throwaway real Dovecot for differential tests.

``real_dovecot()`` starts Debian's Dovecot 2.3 in the foreground (``dovecot -F -c FILE``) with
everything it writes (base_dir, state_dir, log, the user's home and Maildir) inside one
temporary directory, IMAP and POP3 listeners on free loopback ports and one passwd-file
user. On leaving the ``with`` block the one process it started is terminated by its PID
and the directory is removed. No system service is touched.

    with real_dovecot() as dc:
        dc.add_message(b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
        imap = imaplib.IMAP4(dc.host, dc.imap_port)
        imap.login(dc.user, dc.password)

``dovecot_binary()`` skips the calling test with a reason when Dovecot is missing, and fails
it when the ``CI`` environment variable is set, so a comparison never silently vanishes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.tools import require_program

_counter = itertools.count(1)


def dovecot_binary() -> str:
    return require_program("dovecot", "dovecot-core")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RealDovecot:
    host: str
    imap_port: int
    pop3_port: int
    user: str
    password: str
    home: Path
    maildir: Path
    log_path: Path
    pid: int
    uid: int
    gid: int
    _names: list[str] = field(default_factory=list)

    def add_message(self, raw: bytes, folder: str = "", seen: bool = False,
                    mtime: float | None = None) -> Path:
        """Drop ``raw`` into the Maildir (``new/`` or, when ``seen``, ``cur/`` with ``:2,S``).

        ``folder`` is a Maildir++ folder name ("" is INBOX); ``mtime`` sets the file time
        Dovecot takes as the internal date. The file name has no ``,S=``/``,W=`` so that
        Dovecot computes sizes from the bytes themselves.
        """
        base = self.maildir if not folder else self.maildir / ("." + folder)
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
            os.chown(base / sub, self.uid, self.gid)
        os.chown(base, self.uid, self.gid)
        name = f"{int(time.time())}.M{next(_counter)}P{os.getpid()}.lab"
        path = base / ("cur" if seen else "new") / (name + (":2,S" if seen else ""))
        path.write_bytes(raw)
        os.chown(path, self.uid, self.gid)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        self._names.append(name)
        return path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


_CONF = """\
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
instance_name = lab-oracle-{port}
protocols = imap pop3
listen = {host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
default_internal_group = {internal_group}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100
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
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = {host}
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _wait_port(host: str, port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}:\n"
                               + (log.read_text(errors="replace") if log.exists() else ""))
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5) as s:
            s.settimeout(2)
            if s.recv(100).startswith(b"* OK"):
                return
        time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening in time")


@contextlib.contextmanager
def real_dovecot(user: str = "alice", password: str = "secret",
                 host: str = "127.0.0.1", extra_conf: str = "",
                 stored_password: str | None = None) -> Iterator[RealDovecot]:
    """``extra_conf`` is appended to the config (later settings win); ``stored_password``
    is what the passwd-file stores (e.g. ``{CRAM-MD5}...``) instead of ``password``."""
    binary = dovecot_binary()
    tmp = Path(tempfile.mkdtemp(prefix="dovecot-oracle-"))
    proc: subprocess.Popen | None = None
    try:
        os.chmod(tmp, 0o755)
        if os.geteuid() == 0:
            # Mail may not be delivered as root: the user's files belong to nobody.
            uid = gid = 65534
            internal, login = "dovecot", "dovenull"
            internal_group = "dovecot"
        else:
            uid, gid = os.getuid(), os.getgid()
            import grp
            import pwd
            internal = login = pwd.getpwuid(uid).pw_name
            internal_group = grp.getgrgid(gid).gr_name
        home = tmp / "home" / user
        maildir = home / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        for p in (tmp / "home", home, maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(p, uid, gid)
        stored = password if stored_password is None else stored_password
        (tmp / "users").write_text(f"{user}:{stored}:{uid}:{gid}::{home}::\n")
        port, pop3_port = _free_port(host), _free_port(host)
        conf = tmp / "dovecot.conf"
        conf.write_text(_CONF.format(tmp=tmp, host=host, port=port, pop3_port=pop3_port,
                                     internal=internal, login=login,
                                     internal_group=internal_group,
                                     uid=min(uid, 500), gid=min(gid, 100)) + extra_conf)
        log = tmp / "dovecot.log"
        proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        _wait_port(host, port, proc, log, 20)
        yield RealDovecot(host=host, imap_port=port, pop3_port=pop3_port, user=user,
                          password=password, home=home, maildir=maildir, log_path=log,
                          pid=proc.pid, uid=uid, gid=gid)
    finally:
        if proc is not None and proc.poll() is None:
            # The master stops its own children on SIGTERM; only our PID is signalled.
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)
