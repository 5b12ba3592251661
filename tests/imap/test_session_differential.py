"""The IMAP session against real Dovecot 2.3: the same scripted sessions, the same replies.

Every script of ``session_scripts.SCRIPTS`` runs on a fresh copy of the same Maildir, once
against a throwaway Dovecot (``tests/dovecot_harness.py``) and once against the lab with
the same configuration. The server's output is compared line by line after volatile values
are normalised: timing suffixes, UIDVALIDITY (also inside APPENDUID/COPYUID), internal
dates of appended messages, the post-login capability list (deliberately shorter in the
lab, see ``labserver.imap.session``) and the order of LIST replies. Sessions known to differ
are listed in ``DELIBERATE`` with the reason and must keep differing (strict xfail), so that
the list stays true. Skips when Dovecot is missing, fails when ``CI`` is set.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab
from tests.dovecot_harness import real_dovecot
from tests.imap.session_scripts import MAILDIR, MTIME, SCRIPTS

# Sessions where the lab answers differently on purpose, and why.
DELIBERATE: dict[str, str] = {}

_TIMING = re.compile(rb" \(\d+\.\d+ \+ \d+\.\d+(?: \+ \d+\.\d+)? secs\)\.")
_UIDVALIDITY = re.compile(rb"(UIDVALIDITY|APPENDUID|COPYUID) \d+")
_DATE = re.compile(rb'INTERNALDATE "[^"]*"')
_POSTCAPS = re.compile(rb"(CAPABILITY )IMAP4rev1 [^\]\r\n]*UNSELECT[^\]\r\n]*")


def normalise(data: bytes, dates: bool = False) -> list[bytes]:
    data = _TIMING.sub(b".", data)
    data = _UIDVALIDITY.sub(rb"\1 <N>", data)
    data = _POSTCAPS.sub(rb"\1<POST-LOGIN CAPABILITIES>", data)
    if dates:
        data = _DATE.sub(b'INTERNALDATE "<date>"', data)
    lines = data.split(b"\r\n")
    out: list[bytes] = []
    block: list[bytes] = []
    for line in lines:
        if line.startswith((b"* LIST ", b"* LSUB ")):
            block.append(line)
            continue
        out.extend(sorted(block))
        block = []
        out.append(line)
    out.extend(sorted(block))
    return out


def _fill(maildir: Path, chown: tuple[int, int] | None = None) -> None:
    if maildir.exists():
        shutil.rmtree(maildir)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for i, (raw, seen) in enumerate(MAILDIR):
        name = f"1704106800.M{i + 1}P1.lab"
        # New mail in new/, the \\Seen message in cur/: both are \\Recent for the first
        # session that selects the folder, since no session has claimed them yet.
        path = maildir / ("cur" if seen else "new") / (name + (":2,S" if seen else ""))
        path.write_bytes(raw)
        os.utime(path, (MTIME + i, MTIME + i))
    if chown is not None:
        for root, dirs, files in os.walk(maildir):
            for n in [*dirs, *files]:
                os.chown(os.path.join(root, n), *chown)
        os.chown(maildir, *chown)


def _wire(line: str) -> bytes:
    return line.encode("utf-8").replace(b"\\r\\n", b"\r\n") + b"\r\n"


def run_script(host: str, port: int, script: list[str]) -> bytes:
    """Send the script line by line; return everything the server said."""
    lines = list(script)
    prelogin = lines[:1] == ["@prelogin"]
    if prelogin:
        lines = lines[1:]
    else:
        lines = ["L LOGIN alice secret", *lines]
    if not any(re.match(r"\S+ LOGOUT$", x) for x in lines[-1:]):
        lines.append("Z LOGOUT")
    with socket.create_connection((host, port), timeout=5) as s:
        s.settimeout(5)
        got = bytearray()
        while b"\r\n" not in got:
            got += s.recv(4096)
        last_tag = b""
        for line in lines:
            tag = line.split(" ", 1)[0].encode()
            if line in ("DONE", "NOTDONE") or not re.match(r"^[A-Za-z0-9]+ [A-Za-z]", line):
                tag = last_tag
            else:
                last_tag = tag
            start = len(got)
            try:
                s.sendall(_wire(line))
            except OSError:
                break
            done = re.compile(rb"(^|\r\n)(" + re.escape(tag) + rb" (OK|NO|BAD)[^\r\n]*\r\n"
                              rb"|\+ [^\r\n]*\r\n|\* BYE [^\r\n]*\r\n)")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if done.search(bytes(got[start:])):
                    break
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                got += chunk
            # a little more for replies that follow a continuation (IDLE's initial sync)
            s.settimeout(0.05)
            try:
                while chunk := s.recv(65536):
                    got += chunk
            except (TimeoutError, OSError):
                pass
            s.settimeout(5)
        return bytes(got)


@pytest.fixture(scope="module")
def servers():
    with real_dovecot() as dc:
        config = DEFAULT_CONFIG.replace("scheme=SHA512-CRYPT", "scheme=SHA512-CRYPT") + \
            "auth_failure_delay = 0\nmail_max_userip_connections = 100\n"
        lab = Lab(config, ports="ephemeral")
        lab.add_user("alice", "secret")
        lab.start()
        try:
            yield dc, lab
        finally:
            lab.cleanup()


RESULTS: dict[str, bool] = {}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_session_matches_dovecot(servers, name):
    dc, lab = servers
    script = SCRIPTS[name]
    _fill(dc.maildir, (dc.uid, dc.gid))
    theirs = run_script(dc.host, dc.imap_port, script)
    _fill(lab.path("/home/alice/Maildir"))
    ours = run_script("127.0.0.1", lab.port("imap"), script)
    dates = "APPEND" in " ".join(script)
    same = normalise(theirs, dates) == normalise(ours, dates)
    RESULTS[name] = same
    if name in DELIBERATE:
        if same:
            pytest.fail(f"{name} no longer differs: drop it from DELIBERATE")
        pytest.xfail(DELIBERATE[name])
    assert normalise(ours, dates) == normalise(theirs, dates)


def test_enough_sessions_are_compared():
    assert len(SCRIPTS) >= 40
