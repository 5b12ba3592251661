"""Real Courier-IMAP and Courier's POP3 server, unpacked, for differential tests.

Debian's ``courier-imap`` and ``courier-pop`` cannot be installed beside Dovecot (both
provide ``imap-server``), so the packages are fetched with ``apt-get download`` into a
per-session cache, unpacked with ``dpkg -x``, and run in a private mount namespace
(``unshare -m``): an overlay puts the unpacked ``/usr`` and ``/etc`` over the real ones,
a bind mount puts the test's own ``etc/courier`` at ``/etc/courier``, and ``/run`` is a
tmpfs. The binaries have those paths compiled in; the real system is never touched.

``authdaemond`` (authuserdb), ``imapd`` and ``pop3d`` listen on free loopback ports.
``stop()`` ends every process of the namespace (including gamin's ``gam_server``, which
detaches) by PID, found by the namespace's identity in ``/proc``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("courier-imap", "courier-pop", "courier-base", "courier-authdaemon",
            "courier-authlib", "courier-authlib-userdb", "libcourier-unicode4", "libidn12",
            "libltdl7", "libpcre3", "libgdbm6", "libgamin0", "gamin")


# The uid and gid of the namespace's "courier" account: nobody's, so that no id of the
# real system gains anything.
COURIER_ID = 65534


class CourierUnavailable(Exception):
    """The packages could not be fetched (no network, no apt)."""


def download(cache: Path) -> Path:
    """The unpacked tree of Courier's packages, downloaded once into ``cache``."""
    tree = cache / "tree"
    if (tree / "usr/bin/imapd").exists():
        return tree
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise CourierUnavailable("apt-get and dpkg are needed to fetch Courier's packages")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        raise CourierUnavailable("apt-get download failed: " + proc.stderr.strip()[-500:])
    tree.mkdir(exist_ok=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True, timeout=120)
    return tree


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


INNER = """\
set -e
T={tree}
W={work}
mount -t overlay overlay -o lowerdir=$T/usr:/usr /usr
mount -t overlay overlay -o lowerdir=$T/etc:/etc /etc
mount --bind $W/etc/courier /etc/courier
mount -t tmpfs tmpfs /run
mkdir -p /run/courier/authdaemon
# The "courier" account that courier-base's postinst would add (couriertls runs as it),
# in this namespace's copies of passwd and group only.
cp /etc/passwd $W/passwd; cp /etc/group $W/group
echo "courier:x:{courier_id}:{courier_id}:Courier:/var/lib/courier:/usr/sbin/nologin" >>$W/passwd
echo "courier:x:{courier_id}:" >>$W/group
mount --bind $W/passwd /etc/passwd
mount --bind $W/group /etc/group
export LD_LIBRARY_PATH=/usr/lib:/usr/lib/x86_64-linux-gnu:$T/lib/x86_64-linux-gnu
(set -a; . /etc/courier/authdaemonrc; exec /usr/lib/courier/courier-authlib/authdaemond) \
    >$W/authdaemond.log 2>&1 &
for i in $(seq 100); do test -S /run/courier/authdaemon/socket && break; sleep 0.05; done
{users}
/usr/sbin/makeuserdb
/usr/lib/courier/makedat -src=/etc/courier/imapaccess -file=/etc/courier/imapaccess.dat \
    -tmp=/etc/courier/imapaccess.tmp -cidr
ENV="LD_LIBRARY_PATH=$LD_LIBRARY_PATH prefix=/usr exec_prefix=/usr sbindir=/usr/sbin \
bindir=/usr/bin"
cd /etc/courier
env -i $ENV /bin/sh -c 'set -a; . /etc/courier/imapd; . /etc/courier/imapd-ssl; \
    IMAP_STARTTLS=$IMAPDSTARTTLS; exec /usr/sbin/couriertcpd -address=127.0.0.1 \
    -maxprocs=$MAXDAEMONS -maxperip=$MAXPERIP -access=$IMAPACCESSFILE.dat $TCPDOPTS \
    {imap_port} /usr/lib/courier/courier/imaplogin /usr/bin/imapd $MAILDIRPATH' \
    >$W/imapd.log 2>&1 &
env -i $ENV /bin/sh -c 'set -a; . /etc/courier/pop3d; . /etc/courier/pop3d-ssl; \
    exec /usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=$MAXDAEMONS \
    -maxperip=$MAXPERIP $TCPDOPTS {pop3_port} /usr/lib/courier/courier/courierpop3login \
    /usr/lib/courier/courier/courierpop3d $MAILDIRPATH' >$W/pop3d.log 2>&1 &
touch $W/ready
wait
"""


@dataclass
class RealCourier:
    """Courier on loopback: ``imap_port``, ``pop3_port``; users from ``users``."""

    tree: Path
    work: Path
    users: dict[str, tuple[str, Path]] = field(default_factory=dict)  # name: (password, home)
    files: dict[str, bytes] = field(default_factory=dict)  # written into etc/courier
    imap_port: int = 0
    pop3_port: int = 0
    host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = None

    def etc(self) -> Path:
        return self.work / "etc/courier"

    def start(self) -> RealCourier:
        """Copy Courier's shipped configuration, add the users, start the daemons."""
        etc = self.etc()
        if not etc.exists():
            shutil.copytree(self.tree / "etc/courier", etc, symlinks=True)
        for name, data in self.files.items():
            (etc / name).write_bytes(data)
            (etc / name).chmod(0o600)
            # mkcouriercert gives the certificate to the courier account
            os.chown(etc / name, COURIER_ID, COURIER_ID)
        # The start scripts make TLS_CACHEFILE (in /var/lib/courier, which this machine
        # lacks) for the courier account; here it lives in the work directory.
        for name in ("imapd-ssl", "pop3d-ssl"):
            cache = self.work / f"{name}.tlscache"
            cache.touch(mode=0o600)
            os.chown(cache, COURIER_ID, COURIER_ID)
            conf = etc / name
            conf.write_text(re.sub(r"(?m)^TLS_CACHEFILE=.*$", f"TLS_CACHEFILE={cache}",
                                   conf.read_text()))
        rc = etc / "authdaemonrc"
        rc.write_text(rc.read_text().replace('authmodulelist="authpam"',
                                             'authmodulelist="authuserdb"'))
        self.imap_port = self.imap_port or free_port()
        self.pop3_port = self.pop3_port or free_port()
        lines = ["rm -f /etc/courier/userdb"]
        for name, (password, home) in self.users.items():
            owner = home.stat()
            lines.append(f"pw=$(echo {shlex.quote(password)} | /usr/sbin/userdbpw -md5)")
            lines.append(f"/usr/sbin/userdb {shlex.quote(name)} set uid={owner.st_uid} "
                         f"gid={owner.st_gid} home={shlex.quote(str(home))} "
                         'systempw="$pw"')
        script = self.work / "inner.sh"
        script.write_text(INNER.format(tree=shlex.quote(str(self.tree)),
                                       work=shlex.quote(str(self.work)),
                                       users="\n".join(lines), courier_id=COURIER_ID,
                                       imap_port=self.imap_port,
                                       pop3_port=self.pop3_port))
        self._proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh",
                                       str(script)], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                output = self._proc.stdout.read().decode(errors="replace") \
                    if self._proc.stdout else ""
                raise RuntimeError(f"Courier did not start: {output}")
            if (self.work / "ready").exists() and all(
                    _accepts(self.host, p) for p in (self.imap_port, self.pop3_port)):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("Courier did not open its ports within 30 seconds")

    def authtest(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run Courier's ``authtest`` against this instance's authdaemond."""
        assert self._proc is not None
        inner = (f"export LD_LIBRARY_PATH=/usr/lib:/usr/lib/x86_64-linux-gnu; "
                 f"exec /usr/sbin/authtest {' '.join(shlex.quote(a) for a in args)}")
        return subprocess.run(["nsenter", "-t", str(self._proc.pid), "-m", "sh", "-c", inner],
                              capture_output=True, text=True, timeout=30)

    def stop(self) -> None:
        """End every process in the namespace, by PID."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            ns = os.readlink(f"/proc/{proc.pid}/ns/mnt")
        except OSError:
            ns = None
        if ns is not None:
            for _ in range(3):
                pids = _pids_in(ns)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> RealCourier:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pids_in(ns: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/mnt") == ns:
                found.append(int(entry))
        except OSError:
            continue
    return found


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
