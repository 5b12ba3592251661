"""Courier's ``userdb``: the file format, ``userdb``, ``makeuserdb`` and ``userdbpw``.

``/etc/courier/userdb`` holds one account a line: the name, a tab, then
``field=value`` pairs joined by ``|`` (``uid``, ``gid``, ``home``, ``mail``, ``quota``,
``shell``, ``gecos``, ``options``, and passwords in fields ending in ``pw``:
``systempw``, ``imappw``, ``pop3pw``). Courier's authuserdb never reads this file: it
reads what ``makeuserdb`` compiles from it, ``userdb.dat`` (everything but passwords)
and ``userdbshadow.dat`` (the passwords), so an edit counts only after ``makeuserdb``.
Courier compiles into GDBM files; the lab writes the same records as text (one
``name<TAB>fields`` line each), which keeps the step and its reason visible.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..auth import schemes
from ..config.resolve import PathResolver

USERDB = "/etc/courier/userdb"
DAT = USERDB + ".dat"
SHADOW_DAT = USERDB + "shadow.dat"


class UserdbError(Exception):
    """A userdb command failed; the message is the command's own."""


@dataclass
class UserdbEntry:
    """One account: its name and fields, in file order."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        return self.name + "\t" + "|".join(f"{k}={v}" for k, v in self.fields.items())


def parse_line(line: str) -> UserdbEntry | None:
    """One ``name<TAB>fields`` line; None for comments, blank and malformed lines."""
    if not line or line.startswith("#") or "\t" not in line:
        return None
    name, _, rest = line.partition("\t")
    fields: dict[str, str] = {}
    for item in rest.split("|") if rest else []:
        key, _, value = item.partition("=")
        fields[key] = value
    return UserdbEntry(name, fields)


def read(path: str) -> list[UserdbEntry]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [e for e in (parse_line(x) for x in text.split("\n")) if e is not None]


def _write(path: str, entries: Iterable[UserdbEntry], mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), ".tmp." + os.path.basename(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("".join(e.line() + "\n" for e in entries))
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def userdb_set(resolver: PathResolver, name: str, values: dict[str, str]) -> None:
    """``userdb NAME set field=value ...``: add or change fields (the file stays 0600)."""
    if not name or any(c in name for c in "\t\n|/") or any(
            c in f"{k}{v}" for k, v in values.items() for c in "|\n"):
        raise UserdbError("Invalid field or value.")
    path = resolver.real(USERDB)
    entries = read(path)
    for entry in entries:
        if entry.name == name:
            entry.fields.update(values)
            break
    else:
        entries.append(UserdbEntry(name, dict(values)))
    _write(path, entries, 0o600)


def userdb_del(resolver: PathResolver, name: str) -> None:
    """``userdb NAME del``."""
    path = resolver.real(USERDB)
    _write(path, [e for e in read(path) if e.name != name], 0o600)


def makeuserdb(resolver: PathResolver) -> None:
    """Compile ``userdb`` into ``userdb.dat`` and ``userdbshadow.dat``, as Courier's tool.

    Refuses a source that others may read, as Courier's does.
    """
    path = resolver.real(USERDB)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserdbError(f"{USERDB}: not found.") from None
    if stat.S_IMODE(mode) & 0o077:
        raise UserdbError(f"{USERDB}: MAY NOT HAVE GROUP OR WORLD PERMISSIONS!!")
    plain, shadow = [], []
    for entry in read(path):
        pw = {k: v for k, v in entry.fields.items() if k.endswith("pw")}
        rest = {k: v for k, v in entry.fields.items() if not k.endswith("pw")}
        rest["_"] = ""
        plain.append(UserdbEntry(entry.name, rest))
        if pw:
            shadow.append(UserdbEntry(entry.name, pw))
    _write(resolver.real(DAT), plain, 0o644)
    _write(resolver.real(SHADOW_DAT), shadow, 0o600)


def lookup(resolver: PathResolver, name: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """The compiled record of ``name``: (fields, passwords); None if not there."""
    for entry in read(resolver.real(DAT)):
        if entry.name == name:
            secrets = next((e.fields for e in read(resolver.real(SHADOW_DAT))
                            if e.name == name), {})
            return entry.fields, secrets
    return None


# userdbpw's hash options and the lab's password scheme for each.
USERDBPW_SCHEMES = {"": "DES-CRYPT", "-md5": "MD5-CRYPT", "-hmac-md5": "CRAM-MD5"}


def userdbpw(password: str, option: str = "") -> str:
    """What ``userdbpw [-md5|-hmac-md5]`` prints for a password."""
    scheme = USERDBPW_SCHEMES.get(option)
    if scheme is None:
        raise UserdbError("userdbpw: invalid argument.")
    stored = schemes.generate(password, scheme)
    return stored.split("}", 1)[1] if stored.startswith("{") else stored


def check_password(password: str, stored: str) -> bool:
    """A userdb password field (``systempw``: a crypt(3) string) against a plaintext."""
    if not stored:
        return False
    try:
        return schemes.verify(password, stored, default_scheme="CRYPT")
    except schemes.SchemeError:
        return False
