"""The lab's ``/etc/passwd`` and ``/etc/shadow``: getpwnam() and getspnam() on the sandbox.

Shared by the passwd and shadow passdbs, the passwd userdb and the simulated
pam_unix. The files are read through the lab's PathResolver, so a lab root of its own
never reaches the host's accounts (and the lab never reads the host's ``/etc/shadow``
unless someone makes ``/`` the lab root and runs it as root). Lines that do not have
the right number of fields are skipped, as glibc's files backend skips them.
"""

from __future__ import annotations

from dataclasses import dataclass

from labserver.config.resolve import PathResolver


@dataclass(frozen=True, slots=True)
class Passwd:
    name: str
    passwd: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str


@dataclass(frozen=True, slots=True)
class Shadow:
    """shadow(5); a number field left empty is None."""

    name: str
    pwdp: str
    lstchg: int | None
    min: int | None
    max: int | None
    warn: int | None
    inact: int | None
    expire: int | None


def _read(resolver: PathResolver, path: str) -> list[list[str]] | None:
    try:
        with open(resolver.real(path), encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        return None
    return [line.split(":") for line in text.splitlines()
            if line and not line.startswith(("#", "+", "-"))]


def _int(text: str) -> int | None:
    text = text.strip()
    if text.startswith("-") and text[1:].isdigit():
        return int(text)
    return int(text) if text.isascii() and text.isdigit() else None


def getpwnam(resolver: PathResolver, name: str) -> Passwd | None:
    """The user's passwd entry; None if unknown. OSError if the file is unreadable."""
    rows = _read(resolver, "/etc/passwd")
    if rows is None:
        raise OSError("Permission denied")
    for fields in rows:
        if len(fields) != 7 or fields[0] != name:
            continue
        uid, gid = _int(fields[2]), _int(fields[3])
        if uid is None or gid is None or uid < 0 or gid < 0:
            continue
        return Passwd(fields[0], fields[1], uid, gid, fields[4], fields[5], fields[6])
    return None


def getspnam(resolver: PathResolver, name: str) -> Shadow | None:
    """The user's shadow entry; None if unknown or unreadable (as getspnam() answers)."""
    rows = _read(resolver, "/etc/shadow") or []
    for fields in rows:
        if len(fields) != 9 or fields[0] != name:
            continue
        nums = [_int(f) if f else None for f in fields[2:8]]
        return Shadow(fields[0], fields[1], *nums)
    return None


def iterate_passwd(resolver: PathResolver) -> list[Passwd]:
    out = []
    for fields in _read(resolver, "/etc/passwd") or []:
        if len(fields) == 7 and fields[0]:
            entry = getpwnam(resolver, fields[0])
            if entry is not None and entry not in out:
                out.append(entry)
    return out
