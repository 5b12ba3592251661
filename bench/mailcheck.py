"""Checks of a Maildir after a soak or a crash: the uid list, and real Dovecot's view.

``uidlist_problems()`` reads ``dovecot-uidlist`` with rules of its own (not the lab's
parser, which is what is being checked): a version-3 header with ``V`` and ``N``, UIDs
strictly ascending and below ``N``, every file name listed once, and every message file
of ``cur/`` and ``new/`` listed. ``dovecot_view()`` asks Debian's ``doveadm`` for the
UIDs and subjects of a folder, and returns its complaints (any ``Error``/``Warning``/
``Panic`` line) with them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

HEADER = re.compile(r"^3 (?:\S+ )*?V(\d+) (?:\S+ )*?N(\d+)\b")


def folder_path(maildir: Path, folder: str) -> Path:
    """The Maildir++ directory of a folder (INBOX is the root)."""
    return maildir if folder == "INBOX" else maildir / ("." + folder.replace("/", "."))


def message_bases(folder: Path) -> list[str]:
    """File names in cur/ and new/ without their ``:2,`` flags part."""
    out = []
    for sub in ("cur", "new"):
        d = folder / sub
        if d.is_dir():
            out.extend(name.split(":", 1)[0] for name in os.listdir(d))
    return out


def uidlist_problems(folder: Path) -> list[str]:
    """What is wrong with a folder's ``dovecot-uidlist`` (empty when nothing is)."""
    path = folder / "dovecot-uidlist"
    if not path.exists():
        return [] if not message_bases(folder) else [f"{path}: missing"]
    lines = path.read_text().split("\n")
    m = HEADER.match(lines[0])
    if m is None:
        return [f"{path}: bad header {lines[0]!r}"]
    next_uid = int(m.group(2))
    problems: list[str] = []
    prev = 0
    listed: dict[str, int] = {}
    for line in lines[1:]:
        if not line:
            continue
        num, _, rest = line.partition(" ")
        if not num.isdigit():
            problems.append(f"{path}: bad line {line!r}")
            continue
        uid = int(num)
        if uid <= prev:
            problems.append(f"{path}: uid {uid} after {prev}")
        if uid >= next_uid:
            problems.append(f"{path}: uid {uid} not below next uid {next_uid}")
        prev = uid
        base = rest.rpartition(":")[2] if ":" in rest else rest
        if base in listed:
            problems.append(f"{path}: {base} listed twice (uids {listed[base]}, {uid})")
        listed[base] = uid
    bases = message_bases(folder)
    if len(bases) != len(set(bases)):
        problems.append(f"{folder}: a message file is in cur/ and new/ at once")
    for base in bases:
        if base not in listed:
            problems.append(f"{folder}: {base} has no uid")
    return problems


def doveadm_binary() -> str | None:
    return shutil.which("doveadm")


def dovecot_view(home: Path, folder: str) -> tuple[list[tuple[int, str]], list[str]]:
    """(uid, subject) of every message as real Dovecot sees it, and its complaints.

    Runs ``doveadm fetch`` on the user's ``~/Maildir`` with a throwaway configuration.
    As root, the files are handed to nobody (65534) first, as Dovecot refuses to
    access mail as root.
    """
    doveadm = doveadm_binary()
    if doveadm is None:
        raise FileNotFoundError("doveadm is not installed (Debian's dovecot-core)")
    work = Path(tempfile.mkdtemp(prefix="doveadm-"))
    try:
        ids = 65534 if os.geteuid() == 0 else None
        conf = work / "dovecot.conf"
        conf.write_text(
            f"base_dir = {work}/run\nstate_dir = {work}/state\nlog_path = {work}/log\n"
            "ssl = no\nmail_location = maildir:~/Maildir\nfirst_valid_uid = 1\n"
            "first_valid_gid = 1\n"
            + (f"mail_uid = {ids}\nmail_gid = {ids}\n" if ids is not None else ""))
        if ids is not None:
            for d, dirs, files in os.walk(home):
                for name in [d, *(os.path.join(d, f) for f in dirs + files)]:
                    os.lchown(name, ids, ids)
        env = dict(os.environ, USER=home.name, HOME=str(home))
        proc = subprocess.run([doveadm, "-c", str(conf), "-f", "tab", "fetch",
                               "uid hdr.subject", "mailbox", folder, "all"],
                              capture_output=True, text=True, env=env, timeout=300)
        complaints = [line for line in (proc.stderr + _read(work / "log")).splitlines()
                      if re.search(r"\b(Error|Warning|Panic|Fatal)\b", line)]
        if proc.returncode != 0:
            complaints.append(f"doveadm exit {proc.returncode}")
        rows = [line.split("\t") for line in proc.stdout.splitlines()[1:] if line]
        return [(int(u), s.strip()) for u, s in rows], complaints
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
