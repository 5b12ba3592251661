"""User databases: where a user lives (home, uid, gid, mail), and the driver registry.

A userdb lookup runs after a successful passdb (and for doveadm-style user lookups);
it fills ``home``, ``uid``, ``gid``, ``mail`` and other fields the mail process uses.
``uid``/``gid`` may be numbers or names; names are looked up in the lab's own
``/etc/passwd`` and ``/etc/group`` through the sandbox resolver, never the host's
unless the lab root is ``/``.
"""

from __future__ import annotations

import enum
from typing import ClassVar, Protocol

from labserver.config.resolve import PathResolver

from .request import AuthRequest


class UserdbResult(enum.Enum):
    """enum userdb_result."""

    INTERNAL_FAILURE = "internal_failure"
    USER_UNKNOWN = "user_unknown"
    OK = "ok"


class UserdbDriver(Protocol):
    name: ClassVar[str]

    def lookup(self, request: AuthRequest) -> UserdbResult: ...


def parse_id(kind: str, text: str, resolver: PathResolver) -> int | None:
    """userdb_parse_uid()/gid(): a number, or a name from the lab's passwd/group file."""
    if text.isascii() and text.isdigit():
        return int(text)
    path = "/etc/passwd" if kind == "uid" else "/etc/group"
    try:
        with open(resolver.real(path), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 3 and fields[0] == text and fields[2].isdigit():
                    return int(fields[2])
    except OSError:
        return None
    return None


def parse_template(args: str) -> list[tuple[str, str | None]]:
    """userdb_template_build(): ``key=value`` words in order (a bare key has None)."""
    out: list[tuple[str, str | None]] = []
    for word in args.split():
        key, eq, value = word.partition("=")
        out.append((key, value if eq else None))
    return out


def _drivers() -> dict[str, type]:
    from .userdb_passwd import PasswdUserdb
    from .userdb_passwdfile import PasswdFileUserdb
    from .userdb_sql import SqlUserdb
    from .userdb_static import StaticUserdb

    return {"passwd-file": PasswdFileUserdb, "static": StaticUserdb, "passwd": PasswdUserdb,
            "sql": SqlUserdb}


USERDB_DRIVERS: dict[str, type] = _drivers()


def create(driver: str, args: str, ctx: object) -> UserdbDriver:
    """The driver instance for ``driver = NAME``; AuthConfigError if unknown."""
    from .passdb import AuthConfigError

    cls = USERDB_DRIVERS.get(driver)
    if cls is None:
        raise AuthConfigError(f"Unknown userdb driver '{driver}'")
    return cls(args, ctx)  # type: ignore[no-any-return]
