"""``userdb { driver = passwd-file }``: uid, gid, home and ``userdb_*`` fields of a line.

``args = [username_format=FORMAT] PATH`` (userdb-passwd-file.c). A line without uid
and gid fields (only ``user:password``) is not a userdb entry: the lookup says
"unknown user"; with a single userdb, Dovecot also reports it when reading the file
("User alice is missing userdb info").
"""

from __future__ import annotations

from typing import ClassVar

from . import db_passwdfile
from .passdb import AuthConfigError, DriverContext
from .passdb_passwdfile import add_extra_fields, lookup
from .request import AuthRequest
from .userdb import UserdbResult


class PasswdFileUserdb:
    name: ClassVar[str] = "passwd-file"

    def __init__(self, args: str, ctx: DriverContext) -> None:
        fmt = db_passwdfile.DEFAULT_USERNAME_FORMAT
        if args.startswith("username_format="):
            fmt, _, args = args[len("username_format="):].partition(" ")
        if not args:
            raise AuthConfigError("userdb passwd-file: Missing args")
        self.username_format = fmt
        self.db = db_passwdfile.PasswdFileDb(
            args, ctx.resolver, userdb=True, warn_missing=ctx.userdb_count == 1,
            parse_id=ctx.parse_id)
        self.startup_log: list[tuple[str, str]] = []
        if not self.db.has_vars:
            _, _, self.startup_log = self.db.load(self.db.path)

    def lookup(self, request: AuthRequest) -> UserdbResult:
        found, pu = lookup(self.db, request, self.username_format)
        if found < 0:
            return UserdbResult.INTERNAL_FAILURE
        if found == 0 or pu is None or pu.uid == 0:
            return UserdbResult.USER_UNKNOWN
        if pu.uid is not None:
            request.set_userdb_field("uid", str(pu.uid))
        if pu.gid is not None:
            request.set_userdb_field("gid", str(pu.gid))
        if pu.home is not None:
            request.set_userdb_field("home", pu.home)
        add_extra_fields(request, pu.extra_fields, userdb=True)
        return UserdbResult.OK
