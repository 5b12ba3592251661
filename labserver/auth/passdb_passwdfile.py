"""``passdb { driver = passwd-file }``: passwords from a passwd-file (passdb-passwd-file.c).

``args = [scheme=SCHEME] [username_format=FORMAT] PATH``. ``scheme`` is the
``default_pass_scheme`` for passwords without a ``{SCHEME}`` prefix (default CRYPT);
``username_format`` (default ``%u``) is the key looked up; PATH may contain
%-variables (``/etc/dovecot/%d/passwd``). The line's extra fields are set on the
request (expanded), before the password is checked: ``allow_nets``, ``nologin``,
``reason``, ``nopassword``, ``userdb_*``...
"""

from __future__ import annotations

from typing import ClassVar

from labserver.config.varexpand import expand

from . import db_passwdfile
from .passdb import AuthConfigError, Credentials, DriverContext, PassdbResult
from .request import AuthRequest


class PasswdFilePassdb:
    name: ClassVar[str] = "passwd-file"

    def __init__(self, args: str, ctx: DriverContext) -> None:
        scheme = db_passwdfile.DEFAULT_SCHEME
        fmt = db_passwdfile.DEFAULT_USERNAME_FORMAT
        rest = args
        while rest and not rest.startswith("/"):
            word, _, rest = rest.partition(" ")
            key, _, value = word.partition("=")
            if key == "scheme":
                scheme = value
            elif key == "username_format":
                fmt = value
            else:
                raise AuthConfigError(f"passdb passwd-file: Unknown setting: {key}")
        if not rest:
            raise AuthConfigError("passdb passwd-file: Missing args")
        self.default_pass_scheme = scheme
        self.username_format = fmt
        self.db = db_passwdfile.PasswdFileDb(rest, ctx.resolver, userdb=False)
        self.startup_log: list[tuple[str, str]] = []
        if not self.db.has_vars:
            ok, _, lines = self.db.load(self.db.path)
            self.startup_log = [line for line in lines if ok >= 0 or line[0] == "Error"]

    def _lookup(self, request: AuthRequest) -> tuple[int, db_passwdfile.PasswdUser | None]:
        return lookup(self.db, request, self.username_format)

    def _save_results(self, request: AuthRequest, pu: db_passwdfile.PasswdUser
                      ) -> tuple[str, str]:
        from . import schemes

        crypted = pu.password or ""
        scheme, crypted = schemes.split_scheme(crypted)
        scheme = scheme or self.default_pass_scheme
        request.set_field("password", f"{{{scheme}}}{crypted}", scheme)
        add_extra_fields(request, pu.extra_fields, userdb=False)
        return crypted, scheme

    def verify_plain(self, request: AuthRequest, password: str) -> PassdbResult:
        found, pu = self._lookup(request)
        if found <= 0 or pu is None:
            return PassdbResult.INTERNAL_FAILURE if found < 0 else PassdbResult.USER_UNKNOWN
        crypted, scheme = self._save_results(request, pu)
        ret = request.password_verify(password, crypted, scheme)
        return PassdbResult.OK if ret > 0 else PassdbResult.PASSWORD_MISMATCH

    def lookup_credentials(self, request: AuthRequest
                           ) -> tuple[PassdbResult, Credentials | None]:
        found, pu = self._lookup(request)
        if found <= 0 or pu is None:
            result = PassdbResult.INTERNAL_FAILURE if found < 0 else PassdbResult.USER_UNKNOWN
            return result, None
        crypted, scheme = self._save_results(request, pu)
        return PassdbResult.OK, Credentials(crypted, scheme)


def lookup(db: db_passwdfile.PasswdFileDb, request: AuthRequest, username_format: str
           ) -> tuple[int, db_passwdfile.PasswdUser | None]:
    """db_passwd_file_lookup(): 1 found, 0 unknown (logged), -1 internal failure."""
    path = db.path
    if db.has_vars:
        # path_fix(): a '/' inside a variable's value is cut off with what follows, so a
        # user name cannot walk the path elsewhere.
        values = {k: v.split("/", 1)[0] for k, v in request.var_values().items()}
        exp = expand(db.path, values)
        if exp.error:
            request.db_log("Error", f"Failed to expand passwd-file path {db.path}: {exp.error}")
            return -1, None
        path = exp.text
    ok, users, lines = db.load(path)
    for level, text in lines:
        if text.startswith("passwd-file "):
            request.raw_log(level, text)  # the file's own event: no request prefix
        else:
            request.db_log(level, text)
    if ok <= 0:
        return ok, None
    exp = expand(username_format, request.var_values())
    if exp.error:
        request.db_log("Error",
                       f"Failed to expand username_format={username_format}: {exp.error}")
        return -1, None
    request.db_log("Debug", f"lookup: user={exp.text} file={path}")
    pu = users.get(exp.text)
    if pu is None:
        request.log_login_failure("unknown user")
        return 0, None
    return 1, pu


def add_extra_fields(request: AuthRequest, fields: tuple[str, ...], *, userdb: bool) -> None:
    """The line's extra fields, each value %-expanded; userdb takes only ``userdb_*``."""
    for item in fields:
        if userdb:
            if not item.startswith("userdb_"):
                continue
            item = item[len("userdb_"):]
        key, eq, value = item.partition("=")
        value = request.expand(value) if eq else ""
        if userdb:
            request.set_userdb_field(key, value)
        else:
            request.set_field(key, value)
