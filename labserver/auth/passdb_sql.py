"""``passdb { driver = sql }`` on SQLite: ``password_query`` (passdb-sql.c).

Every column of the one row the query returns becomes a passdb field, named by the
column (use ``AS``): ``password`` (``{SCHEME}`` prefix or ``default_pass_scheme``),
``password_noscheme`` (taken as is, for hashes that start with ``{``), ``user``
(Dovecot then uses that spelling), ``nopassword``, ``nologin``, ``allow_nets``, and
``userdb_home``, ``userdb_uid``... which the prefetch userdb would use. A NULL column
is skipped. No row: "unknown user"; two rows: "Password query returned multiple
matches"; no ``password`` column: "Password query must return a field named 'password'".
"""

from __future__ import annotations

import sqlite3
from typing import ClassVar

from . import schemes
from .db_sql import SqlConnection, expand_query, text
from .passdb import Credentials, DriverContext, PassdbResult
from .request import AuthRequest


class SqlPassdb:
    name: ClassVar[str] = "sql"

    blocking = True  # SQLite is synchronous: Dovecot runs it in an auth-worker

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.conn = SqlConnection(args, ctx.resolver)
        self.default_pass_scheme = self.conn.set["default_pass_scheme"]

    def _lookup(self, request: AuthRequest) -> PassdbResult:
        template = self.conn.set["password_query"]
        query, error = expand_query(template, request)
        if error:
            request.db_log("Debug", f"Failed to expand password_query={template}: {error}")
            return PassdbResult.INTERNAL_FAILURE
        request.db_log("Debug", f"query: {query}")
        try:
            names, rows = self.conn.query(query)
        except sqlite3.Error as exc:
            msg = f"Password query failed: {exc}"
            if self.conn.set.is_default("password_query"):
                msg += f" (using built-in default password_query: {template})"
            request.db_log("Error", msg)
            return PassdbResult.INTERNAL_FAILURE
        if not rows:
            request.log_login_failure("unknown user")
            return PassdbResult.USER_UNKNOWN
        for name, raw in zip(names, rows[0], strict=False):
            value = text(raw)
            if not name or value is None:
                continue
            if name == "password_noscheme":
                # taken as is: a hash that itself starts with "{" keeps it
                request.set_password("{" + self.default_pass_scheme + "}" + value,
                                     self.default_pass_scheme)
            else:
                request.set_field(name, value, self.default_pass_scheme)
        if "password" not in names and "password_noscheme" not in names:
            request.db_log("Error", "Password query must return a field named 'password'")
            return PassdbResult.INTERNAL_FAILURE
        if len(rows) > 1:
            request.db_log("Error", "Password query returned multiple matches")
            return PassdbResult.INTERNAL_FAILURE
        if request.passdb_password is None and "nopassword" not in request.extra_fields:
            request.db_log("Info", "No password returned (and no nopassword)")
            return PassdbResult.PASSWORD_MISMATCH
        return PassdbResult.OK

    def verify_plain(self, request: AuthRequest, password: str) -> PassdbResult:
        result = self._lookup(request)
        if result is not PassdbResult.OK:
            return result
        if request.passdb_password is None:  # nopassword
            return PassdbResult.OK
        scheme, data = schemes.split_scheme(request.passdb_password)
        ret = request.password_verify(password, data, scheme or self.default_pass_scheme)
        return PassdbResult.OK if ret > 0 else PassdbResult.PASSWORD_MISMATCH

    def lookup_credentials(self, request: AuthRequest
                           ) -> tuple[PassdbResult, Credentials | None]:
        result = self._lookup(request)
        if result is not PassdbResult.OK:
            return result, None
        if request.passdb_password is None:
            return PassdbResult.OK, Credentials(None, self.default_pass_scheme)
        scheme, data = schemes.split_scheme(request.passdb_password)
        return PassdbResult.OK, Credentials(data, scheme or self.default_pass_scheme)
