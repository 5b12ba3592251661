"""``passdb { driver = static }``: one password for every user (passdb-static.c).

``args = password=SECRET [nopassword] [field=value ...]``: ``password`` is %-expanded per
request and may carry a ``{SCHEME}`` prefix (PLAIN otherwise); the other words are
passdb fields (``nopassword``, ``allow_nets``, ``userdb_home``...). Without a password
and without ``nopassword`` every login fails with "No password returned (and no
nopassword)". Useful with a static password for a test account, or behind a passdb that
has already checked the password (``skip``).
"""

from __future__ import annotations

from typing import ClassVar

from . import schemes
from .passdb import Credentials, DriverContext, PassdbResult
from .request import AuthRequest
from .userdb import parse_template

STATIC_PASS_SCHEME = "PLAIN"


class StaticPassdb:
    name: ClassVar[str] = "static"
    default_pass_scheme = STATIC_PASS_SCHEME

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.password: str | None = None
        self.template: list[tuple[str, str | None]] = []
        for key, value in parse_template(args):
            if key == "password" and self.password is None:
                self.password = value or ""
            else:
                self.template.append((key, value))

    def _save_fields(self, request: AuthRequest) -> tuple[PassdbResult, str | None]:
        """static_save_fields(): the template's fields, then the stored ``{SCHEME}data``."""
        request.db_log("Debug", "lookup")
        for key, value in self.template:
            request.set_field(key, "" if value is None else request.expand(value))
        if self.password is not None:
            stored = request.expand(self.password)
        elif "nopassword" in request.extra_fields:
            stored = ""
        else:
            request.db_log("Info", "No password returned (and no nopassword)")
            return PassdbResult.PASSWORD_MISMATCH, None
        scheme, data = schemes.split_scheme(stored)
        full = f"{{{scheme or STATIC_PASS_SCHEME}}}{data}"
        request.set_password(full, STATIC_PASS_SCHEME)
        return PassdbResult.OK, full

    def verify_plain(self, request: AuthRequest, password: str) -> PassdbResult:
        result, stored = self._save_fields(request)
        if result is not PassdbResult.OK or stored is None:
            return result
        scheme, data = schemes.split_scheme(stored)
        ret = request.password_verify(password, data, scheme or STATIC_PASS_SCHEME)
        return PassdbResult.OK if ret > 0 else PassdbResult.PASSWORD_MISMATCH

    def lookup_credentials(self, request: AuthRequest
                           ) -> tuple[PassdbResult, Credentials | None]:
        result, stored = self._save_fields(request)
        if result is not PassdbResult.OK or stored is None:
            return result, None
        scheme, data = schemes.split_scheme(stored)
        return PassdbResult.OK, Credentials(data, scheme or STATIC_PASS_SCHEME)
