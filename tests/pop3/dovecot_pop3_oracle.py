"""A throwaway real Dovecot serving POP3 on loopback, for differential tests.

Everything lives in a temporary directory: the configuration, base_dir, state_dir,
the log, a passwd-file and the user's home with its Maildir. Without Dovecot
installed the tests skip; in CI (``CI`` set) that is a failure instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
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


def dovecot_binary() -> str:
    path = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if path is None or not os.path.exists("/usr/lib/dovecot/pop3"):
        if os.environ.get("CI"):
            pytest.fail("dovecot with dovecot-pop3d is not installed")
        pytest.skip("real Dovecot (Debian's dovecot-pop3d) is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealDovecot:
    """Start with ``RealDovecot(tmp, messages)``; ``stop()`` when done."""

    def __init__(self, root: Path, messages: dict[str, bytes], password: str = "secret"):
        self.root = root
        self.port = free_port()
        binary = dovecot_binary()
        root.chmod(0o755)
        if os.geteuid() == 0:
            uid = gid = 65534
            internal, login = "dovecot", "dovenull"
        else:
            uid, gid = os.geteuid(), os.getegid()
            internal = login = pwd.getpwuid(uid).pw_name
        home = root / "home" / "alice"
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
        for name, data in messages.items():
            (home / "Maildir" / "cur" / name).write_bytes(data)
        if os.geteuid() == 0:
            for path in [root / "home", *(root / "home").rglob("*")]:
                os.chown(path, uid, gid)
        (root / "passwd").write_text(
            f"alice:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
        self.maildir = home / "Maildir"
        self.config = root / "dovecot.conf"
        self.config.write_text(CONFIG.format(root=root, port=self.port, uid=uid,
                                             internal=internal, login=login))
        self.proc = subprocess.Popen([binary, "-F", "-c", str(self.config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout \
                    else ""
                raise RuntimeError(f"dovecot exited: {out} {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("dovecot did not start listening: " + self.log())

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def uidvalidity(self) -> int:
        header = (self.maildir / "dovecot-uidlist").read_text().splitlines()[0]
        return int(next(f[1:] for f in header.split() if f.startswith("V")))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
