"""``userdb { driver = sql }`` on SQLite: ``user_query`` (userdb-sql.c).

Each non-NULL column of the first row becomes a userdb field named by the column:
``home``, ``uid``, ``gid``, ``mail``, ``quota_rule``... No row: "unknown user".
``iterate_query`` lists users (``doveadm user '*'``): a ``user`` column, or
``username`` and ``domain`` joined with ``@``.
"""

from __future__ import annotations

import sqlite3
from typing import ClassVar

from .db_sql import SqlConnection, expand_query, text
from .passdb import DriverContext
from .request import AuthRequest
from .userdb import UserdbResult


class SqlUserdb:
    name: ClassVar[str] = "sql"

    blocking = True  # SQLite is synchronous: Dovecot runs it in an auth-worker

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.conn = SqlConnection(args, ctx.resolver)

    def lookup(self, request: AuthRequest) -> UserdbResult:
        template = self.conn.set["user_query"]
        query, error = expand_query(template, request)
        if error:
            request.db_log("Error", f"Failed to expand user_query={template}: {error}")
            return UserdbResult.INTERNAL_FAILURE
        request.db_log("Debug", query)
        try:
            names, rows = self.conn.query(query)
        except sqlite3.Error as exc:
            msg = f"User query failed: {exc}"
            if self.conn.set.is_default("user_query"):
                msg += f" (using built-in default user_query: {template})"
            request.db_log("Error", msg)
            return UserdbResult.INTERNAL_FAILURE
        if not rows:
            request.log_login_failure("unknown user")
            return UserdbResult.USER_UNKNOWN
        for name, raw in zip(names, rows[0], strict=False):
            value = text(raw)
            if name and value is not None:
                request.set_userdb_field(name, value)
        return UserdbResult.OK

    def iterate(self) -> list[str]:
        names, rows = self.conn.query(self.conn.set["iterate_query"])
        out = []
        for row in rows:
            fields = {n: text(v) for n, v in zip(names, row, strict=False)}
            if fields.get("user"):
                out.append(str(fields["user"]))
            elif fields.get("username"):
                dom = fields.get("domain")
                out.append(f"{fields['username']}@{dom}" if dom else str(fields["username"]))
        return out
