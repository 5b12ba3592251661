"""The SQL connection file shared by the sql passdb and userdb (db-sql.c), on SQLite.

``args = /etc/dovecot/dovecot-sql.conf.ext`` names a file of ``key = value`` lines
(``#`` comments, ``\\`` continues a line, double quotes around a value are removed)::

    driver = sqlite
    connect = /etc/dovecot/users.sqlite
    default_pass_scheme = SHA512-CRYPT
    password_query = SELECT username AS user, password FROM users WHERE username = '%u'
    user_query = SELECT home, uid, gid FROM users WHERE username = '%u'
    iterate_query = SELECT username AS user FROM users

Only ``driver = sqlite`` exists in the lab; ``connect`` is the database file, mapped
into the lab root and opened read-only with Python's sqlite3. Queries are expanded
with the shared %-variable expander after every value has been escaped the way
Dovecot's sqlite driver escapes (driver_sqlite_escape_string(): each ``'`` doubled),
so a user name such as ``x' OR '1'='1`` stays inside its string literal. As in
Dovecot, the escaping happens before ``%Nx`` truncation: a template that cuts a value
short (``'%3u'``) can split a doubled quote, so do not truncate values inside quotes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from labserver.config.resolve import PathResolver
from labserver.config.varexpand import expand

from .passdb import AuthConfigError
from .request import AuthRequest

# db-sql.c's defaults (they assume a table the learner rarely has).
DEFAULTS = {
    "driver": "",
    "connect": "",
    "password_query": "SELECT username, domain, password FROM users "
                      "WHERE username = '%n' AND domain = '%d'",
    "user_query": "SELECT home, uid, gid FROM users WHERE username = '%n' AND domain = '%d'",
    "update_query": "UPDATE users SET password = '%w' WHERE username = '%n' "
                    "AND domain = '%d'",
    "iterate_query": "SELECT username, domain FROM users",
    "default_pass_scheme": "MD5",
    "userdb_warning_disable": "no",
}


@dataclass
class SqlSettings:
    path: str
    values: dict[str, str] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, DEFAULTS[key])

    def is_default(self, key: str) -> bool:
        return key not in self.explicit


def parse_settings(text: str, path: str) -> SqlSettings:
    """settings_read_nosection(): AuthConfigError ``sql PATH: Line N: ...`` on errors."""
    out = SqlSettings(path)
    pending = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = (pending + raw.strip()) if pending else raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not eq:
            raise AuthConfigError(f"sql {path}: Line {number}: Missing value")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        if key not in DEFAULTS:
            raise AuthConfigError(f"sql {path}: Line {number}: Unknown setting: {key}")
        out.values[key] = value
        out.explicit.add(key)
    return out


def sql_escape(value: str) -> str:
    """driver_sqlite_escape_string(): double every single quote."""
    return value.replace("'", "''")


def expand_query(template: str, request: AuthRequest) -> tuple[str, str | None]:
    """The query text with escaped values, and an expansion error (unknown variable)."""
    values = {k: sql_escape(v) for k, v in request.var_values().items()}
    exp = expand(template, values)
    return exp.text, exp.error


class SqlConnection:
    """One ``dovecot-sql.conf.ext``: its settings and the SQLite file it names."""

    def __init__(self, args: str, resolver: PathResolver) -> None:
        path = args.strip()
        if not path:
            raise AuthConfigError("sql: Configuration file path not given")
        try:
            with open(resolver.real(path), encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise AuthConfigError(f"sql {path}: open({path}) failed: "
                                  f"{exc.strerror}") from exc
        self.set = parse_settings(text, path)
        if not self.set["driver"]:
            raise AuthConfigError(f"sql: driver not set in configuration file {path}")
        if not self.set["connect"]:
            raise AuthConfigError(
                f"sql: connect string not set in configuration file {path}")
        if self.set["driver"] != "sqlite":
            raise AuthConfigError(f"sql: Unknown database driver '{self.set['driver']}' "
                                  "(the lab has only sqlite)")
        self.resolver = resolver
        self.db_path = self.set["connect"]

    def query(self, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
        """(column names, rows); sqlite3.Error on failure. Read-only, one statement."""
        real = Path(self.resolver.real(self.db_path))
        uri = real.absolute().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            cursor = conn.execute(sql)
            names = [d[0] for d in cursor.description or ()]
            return names, cursor.fetchall()
        finally:
            conn.close()


def text(value: object) -> str | None:
    """A column value as Dovecot's sql_result_get_field_value() gives it."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
