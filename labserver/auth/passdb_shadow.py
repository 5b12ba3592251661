"""``passdb { driver = shadow }``: the lab's ``/etc/shadow`` (passdb-shadow.c).

getspnam(), then the hash is checked as ``CRYPT``. A locked (``!``) or disabled
(``*``) or empty hash disables the user with "invalid password field". Expiry dates
in shadow are *not* checked by this driver (Dovecot does not either); PAM's account
stack is where they count. The lab reads only the sandbox's shadow file.
"""

from __future__ import annotations

from typing import ClassVar

from . import db_unix
from .passdb import AuthConfigError, Credentials, DriverContext, PassdbResult
from .passdb_passwd import is_valid_passwd
from .request import AuthRequest

SCHEME = "CRYPT"


class ShadowPassdb:
    name: ClassVar[str] = "shadow"
    default_pass_scheme = SCHEME

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.blocking = args != "blocking=no"  # run by an auth-worker unless told not to
        if args and args != "blocking=no":
            raise AuthConfigError(f"passdb shadow: Unknown setting: {args}")
        self.resolver = ctx.resolver

    def _lookup(self, request: AuthRequest) -> tuple[PassdbResult, db_unix.Shadow | None]:
        request.db_log("Debug", "lookup")
        sp = db_unix.getspnam(self.resolver, request.user or "")
        if sp is None:
            request.log_login_failure("unknown user")
            return PassdbResult.USER_UNKNOWN, None
        if not is_valid_passwd(sp.pwdp):
            request.db_log("Info", "invalid password field")
            return PassdbResult.USER_DISABLED, None
        request.set_field("password", sp.pwdp, SCHEME)
        return PassdbResult.OK, sp

    def verify_plain(self, request: AuthRequest, password: str) -> PassdbResult:
        result, sp = self._lookup(request)
        if sp is None:
            return result
        if request.password_verify(password, sp.pwdp, SCHEME) <= 0:
            return PassdbResult.PASSWORD_MISMATCH
        request.set_field("user", sp.name)
        return PassdbResult.OK

    def lookup_credentials(self, request: AuthRequest
                           ) -> tuple[PassdbResult, Credentials | None]:
        result, sp = self._lookup(request)
        if sp is None:
            return result, None
        request.set_field("user", sp.name)
        return PassdbResult.OK, Credentials(sp.pwdp, SCHEME)
