"""``userdb { driver = passwd }``: uid, gid and home from the lab's ``/etc/passwd``.

userdb-passwd.c: getpwnam() gives ``system_groups_user``, ``uid``, ``gid`` and
``home``; ``args`` is a template of extra fields (``mail=maildir:~/Maildir``), which
Dovecot 2.3 would rather see in ``override_fields`` and warns about. ``blocking=`` is
accepted and ignored.
"""

from __future__ import annotations

from typing import ClassVar

from . import db_unix
from .passdb import DriverContext
from .request import AuthRequest
from .userdb import UserdbResult, parse_template


class PasswdUserdb:
    name: ClassVar[str] = "passwd"

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.resolver = ctx.resolver
        template = parse_template(args)
        # run by an auth-worker unless blocking=no
        self.blocking = all(v is None or v.lower() == "yes" for k, v in template
                            if k == "blocking")
        self.template = [(k, v) for k, v in template if k != "blocking"]
        self.startup_log: list[tuple[str, str]] = []
        if self.template:
            self.startup_log.append(
                ("Warning", "userdb passwd: Move templates args to override_fields setting"))

    def lookup(self, request: AuthRequest) -> UserdbResult:
        request.db_log("Debug", "lookup")
        try:
            pw = db_unix.getpwnam(self.resolver, request.user or "")
        except OSError as exc:
            request.db_log("Error", f"getpwnam() failed: {exc}")
            return UserdbResult.INTERNAL_FAILURE
        if pw is None:
            request.log_login_failure("unknown user")
            return UserdbResult.USER_UNKNOWN
        request.set_field("user", pw.name)
        request.set_userdb_field("system_groups_user", pw.name)
        request.set_userdb_field("uid", str(pw.uid))
        request.set_userdb_field("gid", str(pw.gid))
        request.set_userdb_field("home", pw.home)
        for key, value in self.template:
            request.set_userdb_field(key, "" if value is None else request.expand(value))
        return UserdbResult.OK
