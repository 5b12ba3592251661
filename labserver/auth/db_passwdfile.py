"""The passwd-file format shared by the passwd-file passdb and userdb (db-passwd-file.c).

One user a line, colon-separated::

    user:password:uid:gid:(gecos):home:(shell):extra_fields

Empty lines and lines starting with ``#`` or ``:`` are skipped. Extra fields are
space-separated ``key=value`` (or bare ``key``) words; the old format, an empty
seventh field followed by a mail location, becomes ``userdb_mail=...``. A password
written ``hash[34]`` is libpam-pwdfile's marker: 34 is PLAIN-MD5, 56 DIGEST-MD5,
anything else CRYPT. Every file is read through the lab's sandbox resolver, and
re-read when its modification time or size changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from labserver.config.resolve import PathResolver

DEFAULT_USERNAME_FORMAT = "%u"
DEFAULT_SCHEME = "CRYPT"


@dataclass(frozen=True, slots=True)
class PasswdUser:
    """One parsed line. ``uid``/``gid`` None: not given; 0: no userdb info at all."""

    user: str
    password: str | None
    uid: int | None
    gid: int | None
    home: str | None
    extra_fields: tuple[str, ...]


def parse(text: str, *, userdb: bool, warn_missing: bool = False,
          parse_id: Callable[[str, str], int | None] | None = None
          ) -> tuple[dict[str, PasswdUser], list[str]]:
    """Parse a passwd-file: the users by name, and Dovecot's error messages.

    ``parse_id(kind, text)`` turns a uid/gid field (a number or a name) into a number,
    or None when it is invalid; it is used only when ``userdb`` is true.
    """
    users: dict[str, PasswdUser] = {}
    errors: list[str] = []
    for line in text.splitlines():
        if not line or line[0] in "#:":
            continue
        fields = line.split(":")
        if len(fields) < 2:
            entry, error = _user(fields[0], None, [], userdb, warn_missing, parse_id)
        else:
            entry, error = _user(fields[0], fields[1], fields[2:], userdb, warn_missing,
                                 parse_id)
        if error is None and entry is not None and entry.user in users:
            error = f"User {entry.user} exists more than once"
        if error is not None:
            errors.append(error)
        if entry is not None and entry.user not in users:
            users[entry.user] = entry
    return users, errors


def _user(name: str, password: str | None, args: list[str], userdb: bool, warn_missing: bool,
          parse_id: Callable[[str, str], int | None] | None
          ) -> tuple[PasswdUser | None, str | None]:
    error: str | None = None
    if password is not None and len(password) > 4 and password[0] not in "{$" \
            and password.endswith("]") and password[-4] == "[":
        kind, password = password[-3:-1], password[:-4]
        if kind == "34":
            password = "{PLAIN-MD5}" + password
        elif kind == "56":
            password = "{DIGEST-MD5}" + password
            if len(password) != 32 + 12:
                return None, f"User {name} has invalid password"
        else:
            password = "{CRYPT}" + password
    uid: int | None = None
    gid: int | None = None
    rest = list(args)
    if rest:
        value = rest.pop(0)
        if userdb and value:
            uid = parse_id("uid", value) if parse_id else _number(value)
            if uid is None or uid == 0:
                return None, f"User {name} has invalid UID '{value}'"
    if not rest:
        if warn_missing:
            error = f"User {name} is missing userdb info"
        uid, gid = 0, 0  # no userdb lookups for this user
    else:
        value = rest.pop(0)
        if userdb and value:
            gid = parse_id("gid", value) if parse_id else _number(value)
            if gid is None or gid == 0:
                return None, f"User {name} has invalid GID '{value}'"
    if rest:
        rest.pop(0)  # gecos
    home = None
    if rest:
        value = rest.pop(0)
        home = value or None if userdb else None
    if rest:
        rest.pop(0)  # shell
    extra: str | None = None
    if rest and rest[0] == "":
        rest.pop(0)
        if rest and rest[0] and userdb:
            extra = "userdb_mail=" + ":".join(rest)
    elif rest:
        extra = ":".join(rest)
    fields = tuple(extra.split()) if extra else ()
    return PasswdUser(name, password, uid, gid, home, fields), error


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


@dataclass
class _Loaded:
    stamp: tuple[float, int]
    users: dict[str, PasswdUser]


class PasswdFileDb:
    """A passwd-file path (maybe with %-variables) and the files it has read."""

    def __init__(self, path: str, resolver: PathResolver, *, userdb: bool = False,
                 warn_missing: bool = False,
                 parse_id: Callable[[str, str], int | None] | None = None) -> None:
        self.path = path
        self.resolver = resolver
        self.userdb = userdb
        self.warn_missing = warn_missing
        self.parse_id = parse_id
        # "%%" alone is just an escaped percent sign; any other % makes a variable path.
        self.has_vars = "%" in path.replace("%%", "")
        if not self.has_vars:
            self.path = path.replace("%%", "%")
        self._files: dict[str, _Loaded] = {}

    def load(self, path: str) -> tuple[int, dict[str, PasswdUser], list[tuple[str, str]]]:
        """(1 ok | 0 missing | -1 error, users, log lines as (level, message))."""
        real = self.resolver.real(path)
        try:
            st = os.stat(real)
        except FileNotFoundError:
            self._files.pop(path, None)
            return 0, {}, [("Info", f"missing passwd file: {path}")]
        except OSError as exc:
            return -1, {}, [("Error", f"stat({path}) failed: {exc.strerror}")]
        stamp = (st.st_mtime, st.st_size)
        cached = self._files.get(path)
        if cached is not None and cached.stamp == stamp:
            return 1, cached.users, []
        try:
            with open(real, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
        except PermissionError:
            return -1, {}, [("Error", f"open({path}) failed: Permission denied")]
        except OSError as exc:
            return -1, {}, [("Error", f"open({path}) failed: {exc.strerror}")]
        users, errors = parse(text, userdb=self.userdb, warn_missing=self.warn_missing,
                              parse_id=self.parse_id)
        self._files[path] = _Loaded(stamp, users)
        lines = [("Error", f"passwd-file {path}:{e}") for e in errors]
        lines.append(("Debug", f"passwd-file {path}:Read {len(users)} users in 0 secs"))
        return 1, users, lines
