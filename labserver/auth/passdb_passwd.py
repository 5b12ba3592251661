"""``passdb { driver = passwd }``: the password field of the lab's ``/etc/passwd``.

passdb-passwd.c: getpwnam(), then the field is checked as a ``CRYPT`` hash. An empty
field, or one starting with ``*`` or ``!``, disables the user ("invalid password
field"). On a system with shadow passwords the field is ``x``, which never matches:
use ``driver = shadow`` (or PAM) there. ``args`` may only be ``blocking=no``.
"""

from __future__ import annotations

from typing import ClassVar

from . import db_unix
from .passdb import AuthConfigError, Credentials, DriverContext, PassdbResult
from .request import AuthRequest

SCHEME = "CRYPT"


def is_valid_passwd(text: str) -> bool:
    """IS_VALID_PASSWD() of passdb.h."""
    return text != "" and text[0] not in "*!"


class PasswdPassdb:
    name: ClassVar[str] = "passwd"
    default_pass_scheme = SCHEME

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.blocking = args != "blocking=no"  # run by an auth-worker unless told not to
        if args and args != "blocking=no":
            raise AuthConfigError(f"passdb passwd: Unknown setting: {args}")
        self.resolver = ctx.resolver

    def _lookup(self, request: AuthRequest) -> tuple[PassdbResult, db_unix.Passwd | None]:
        request.db_log("Debug", "lookup")
        try:
            pw = db_unix.getpwnam(self.resolver, request.user or "")
        except OSError as exc:
            request.db_log("Error", f"getpwnam() failed: {exc}")
            return PassdbResult.INTERNAL_FAILURE, None
        if pw is None:
            request.log_login_failure("unknown user")
            return PassdbResult.USER_UNKNOWN, None
        if not is_valid_passwd(pw.passwd):
            request.db_log("Info", f"invalid password field '{pw.passwd}'")
            return PassdbResult.USER_DISABLED, None
        request.set_field("password", pw.passwd, SCHEME)
        return PassdbResult.OK, pw

    def verify_plain(self, request: AuthRequest, password: str) -> PassdbResult:
        result, pw = self._lookup(request)
        if pw is None:
            return result
        if request.password_verify(password, pw.passwd, SCHEME) <= 0:
            return PassdbResult.PASSWORD_MISMATCH
        request.set_field("user", pw.name)
        return PassdbResult.OK

    def lookup_credentials(self, request: AuthRequest
                           ) -> tuple[PassdbResult, Credentials | None]:
        result, pw = self._lookup(request)
        if pw is None:
            return result, None
        request.set_field("user", pw.name)
        return PassdbResult.OK, Credentials(pw.passwd, SCHEME)
