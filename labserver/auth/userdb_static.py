"""``userdb { driver = static }``: the same fields for every user (userdb-static.c).

``args = uid=vmail gid=vmail home=/var/vmail/%d/%n [allow_all_users=yes]``: each
``key=value`` is %-expanded per user. Without ``allow_all_users=yes``, a lookup that
does not follow a successful passdb (a doveadm-style user lookup) asks the passdb
whether the user exists, because a static userdb cannot know.
"""

from __future__ import annotations

from typing import ClassVar

from .passdb import AuthConfigError, DriverContext
from .request import AuthRequest
from .userdb import UserdbResult, parse_template


class StaticUserdb:
    name: ClassVar[str] = "static"

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.template: list[tuple[str, str | None]] = []
        self.allow_all_users = False
        for key, value in parse_template(args):
            if not key:
                raise AuthConfigError(
                    f"Invalid userdb template {args} - key must not be empty")
            if key.lower() in ("uid", "gid"):
                number = ctx.parse_id(key.lower(), value or "")
                if number is None:
                    raise AuthConfigError(f"static userdb: Invalid {key.lower()}: {value or ''}")
                value = str(number)
            if key == "allow_all_users":
                self.allow_all_users = value is None or value.lower() == "yes"
                continue
            self.template.append((key, value))
        # Set by the Authenticator: a userdb-only lookup asks the passdbs (see module doc).
        self.user_exists = None

    def export(self, request: AuthRequest) -> None:
        for key, value in self.template:
            request.set_userdb_field(key, "" if value is None else request.expand(value))

    def lookup(self, request: AuthRequest) -> UserdbResult:
        if not request.successful and not self.allow_all_users:
            exists = self.user_exists(request) if self.user_exists else None
            if exists is None:
                request.db_log("Error", "passdb doesn't support lookups, "
                                        "can't verify user's existence")
                return UserdbResult.INTERNAL_FAILURE
            if not exists:
                return UserdbResult.USER_UNKNOWN
        self.export(request)
        return UserdbResult.OK
