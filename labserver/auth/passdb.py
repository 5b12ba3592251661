"""Password databases: the results they give and the registry of drivers (passdb.c).

A passdb driver answers two questions: ``verify_plain`` (is this the user's password?)
and ``lookup_credentials`` (what is stored for this user, for challenge-response
mechanisms such as CRAM-MD5). Drivers are registered by their ``driver =`` name;
more (pam, sql, static...) plug in by adding to ``PASSDB_DRIVERS``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Protocol

from labserver.config.resolve import PathResolver

from .request import AuthRequest


class PassdbResult(enum.Enum):
    """enum passdb_result, with the names passdb_result_to_string() gives."""

    INTERNAL_FAILURE = "internal_failure"
    SCHEME_NOT_AVAILABLE = "scheme_not_available"
    USER_UNKNOWN = "user_unknown"
    USER_DISABLED = "user_disabled"
    PASS_EXPIRED = "pass_expired"
    NEXT = "next"
    PASSWORD_MISMATCH = "password_mismatch"
    OK = "ok"


class AuthConfigError(Exception):
    """A passdb/userdb that cannot start: Dovecot's auth process dies with this Fatal."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What lookup_credentials found: the stored ``{SCHEME}data`` (None: no password)."""

    password: str | None
    scheme: str


@dataclass(frozen=True)
class DriverContext:
    """What drivers may use at start-up: the sandbox and the lab's user table."""

    resolver: PathResolver
    userdb_count: int = 1

    def parse_id(self, kind: str, text: str) -> int | None:
        from .userdb import parse_id  # the lab's /etc/passwd and /etc/group

        return parse_id(kind, text, self.resolver)


class PassdbDriver(Protocol):
    name: ClassVar[str]
    default_pass_scheme: str

    def verify_plain(self, request: AuthRequest, password: str) -> PassdbResult: ...

    def lookup_credentials(self, request: AuthRequest
                           ) -> tuple[PassdbResult, Credentials | None]: ...


def parse_driver_args(args: str) -> list[tuple[str, str]]:
    """``key=value`` words before the first path (``/...``), as passwd-file reads them."""
    out = []
    rest = args
    while rest and not rest.startswith("/"):
        word, _, rest = rest.partition(" ")
        key, _, value = word.partition("=")
        out.append((key, value))
    return out


def _drivers() -> dict[str, type]:
    from .passdb_pam import PamPassdb
    from .passdb_passwd import PasswdPassdb
    from .passdb_passwdfile import PasswdFilePassdb
    from .passdb_shadow import ShadowPassdb
    from .passdb_sql import SqlPassdb
    from .passdb_static import StaticPassdb

    return {"passwd-file": PasswdFilePassdb, "pam": PamPassdb, "passwd": PasswdPassdb,
            "shadow": ShadowPassdb, "sql": SqlPassdb, "static": StaticPassdb}


PASSDB_DRIVERS: dict[str, type] = _drivers()


def create(driver: str, args: str, ctx: DriverContext) -> PassdbDriver:
    """The driver instance for ``driver = NAME``, ``args = ...``; AuthConfigError if none."""
    cls = PASSDB_DRIVERS.get(driver)
    if cls is None:
        raise AuthConfigError(f"Unknown passdb driver '{driver}'")
    return cls(args, ctx)  # type: ignore[no-any-return]
