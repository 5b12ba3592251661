"""One authentication request: who asks, what the databases said, and the log it left.

This is the lab's src/auth/auth-request.c in small. A request carries the user name
(after ``auth_username_format``), the connection (service, local and remote IP,
session id), the fields passdbs and userdbs set, and the log lines Dovecot's auth
process would write, with the same prefixes::

    auth: Info: passwd-file(alice,127.0.0.1,<sess>): Password mismatch

The prefix names the database (``passwd-file``), or the mechanism in lower case
(``plain``), then ``(user,remote-ip,<session>)``; ``?`` stands for a user not known yet.
Lines of blocking drivers (sql, pam, passwd, shadow) come from an auth-worker process,
which names the auth process's connection and numbers its requests::

    auth-worker(1234): Info: conn unix:auth-worker (pid=1233,uid=0): auth-worker<1>:
    sql(alice,127.0.0.1,<sess>): Password mismatch   (one line in the log)

Which levels reach the log follows ``auth_verbose``, ``auth_debug`` and a passdb's or
userdb's own ``auth_verbose``; errors and warnings always do.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from labserver.config.varexpand import expand, mail_user_values

from . import schemes

MAX_LOG_USERNAME_LEN = 64  # auth-request.c
# How an auth-worker names the auth process's connection that asked it (auth-worker-client.c)
WORKER_CONN = f"conn unix:auth-worker (pid={os.getpid()},uid={os.getuid()}):"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the auth log: ``str(line)`` is the log file form without a timestamp."""

    level: str  # "Debug", "Info", "Warning", "Error"
    message: str  # "passwd-file(alice,127.0.0.1): unknown user"
    process: str = "auth"

    def __str__(self) -> str:
        return f"{self.process}: {self.level}: {self.message}"


@dataclass
class LogPolicy:
    """Which levels are written: auth_debug implies auth_verbose, as in auth-settings.c."""

    verbose: bool = False
    debug: bool = False

    def shows(self, level: str, db_verbose: str = "default") -> bool:
        if level in ("Error", "Warning", "Fatal"):
            return True
        if db_verbose == "no":
            return False
        if level == "Info":
            return self.verbose or self.debug or db_verbose == "yes"
        return self.debug


@dataclass
class AuthRequest:
    """The state of one login attempt as the passdbs and userdbs see it."""

    user: str | None
    service: str = "imap"
    local_ip: str = ""
    remote_ip: str = ""
    session: str = ""
    mech: str = ""
    secured: bool = False
    original_user: str = ""
    password: str | None = None  # the password the client gave (verify_plain)
    log_policy: LogPolicy = field(default_factory=LogPolicy)
    extra_fields: dict[str, str] = field(default_factory=dict)
    userdb_fields: dict[str, str] = field(default_factory=dict)
    passdb_password: str | None = None  # "{SCHEME}data" from the current passdb
    failed: bool = False
    successful: bool = False
    userdb_lookup: bool = False
    db_name: str = ""  # the passdb/userdb whose lookup runs, for the log prefix
    db_verbose: str = "default"
    # "auth-worker<N>" while a blocking driver (sql, pam, passwd, shadow) runs: Dovecot
    # hands those lookups to an auth-worker process, which writes the lines it logs.
    worker_tag: str = ""
    log: list[LogLine] = field(default_factory=list)

    # --- logging -------------------------------------------------------------------

    def identifier(self) -> str:
        user = "?" if self.user is None else sanitize(self.user, MAX_LOG_USERNAME_LEN)
        parts = [user]
        if self.remote_ip:
            parts.append(self.remote_ip)
        if self.session:
            parts.append(f"<{self.session}>")
        return ",".join(parts)

    def _emit(self, level: str, name: str, text: str, db_verbose: str = "default") -> None:
        if not self.log_policy.shows(level, db_verbose):
            return
        message = f"{name}({self.identifier()}): {text}"
        if self.worker_tag:
            self.log.append(LogLine(level, f"{WORKER_CONN} {self.worker_tag}: {message}",
                                    f"auth-worker({os.getpid()})"))
        else:
            self.log.append(LogLine(level, message))

    def db_log(self, level: str, text: str) -> None:
        """A line from the running passdb/userdb (authdb_event in Dovecot)."""
        self._emit(level, self.db_name or "auth", text, self.db_verbose)

    def mech_log(self, level: str, text: str) -> None:
        """A line from the mechanism: its name in lower case, ``plain(?): invalid input``."""
        self._emit(level, (self.mech or "none").lower(), text)

    def auth_log(self, level: str, text: str) -> None:
        self._emit(level, "auth", text)

    def raw_log(self, level: str, text: str) -> None:
        """A line without a request prefix (the auth process's own events)."""
        if self.log_policy.shows(level):
            self.log.append(LogLine(level, text))

    def log_login_failure(self, message: str) -> None:
        self.db_log("Info", message)

    # --- variables -----------------------------------------------------------------

    def var_values(self, user: str | None = None) -> dict[str, str]:
        """The %-variable table of this request (auth-request-var-expand.c, in part)."""
        name = self.user if user is None else user
        values = mail_user_values(
            name or "", home=self.userdb_fields.get("home", ""), service=self.service,
            lip=self.local_ip, rip=self.remote_ip, session=self.session, mech=self.mech,
            secured="secured" if self.secured else "",
            password=self.password or "",
        )
        orig = self.original_user or name or ""
        o_name, _, o_dom = orig.partition("@")
        values.update(orig_user=orig, orig_username=o_name, orig_domain=o_dom)
        for key in ("uid", "gid"):
            if key in self.userdb_fields:
                values[key] = self.userdb_fields[key]
        return values

    def expand(self, template: str) -> str:
        return expand(template, self.var_values()).text

    # --- fields (auth_request_set_field) -------------------------------------------

    def set_password(self, value: str, default_scheme: str) -> None:
        if self.passdb_password is not None:
            self.db_log("Error", "Multiple password values not supported")
            return
        if value.startswith("{") and "}" in value:
            self.passdb_password = value
        else:
            self.passdb_password = f"{{{default_scheme}}}{value}"

    def set_field(self, name: str, value: str, default_scheme: str = "PLAIN") -> None:
        """A passdb field: user changes, allow_nets, userdb_* prefetch, nopassword..."""
        if name == "password":
            self.set_password(value, default_scheme)
        elif name in ("user", "username", "domain"):
            self._update_username(name, value)
        elif name == "allow_nets":
            self._validate_networks(name, value)
        elif name.startswith("userdb_"):
            self.set_userdb_field(name[len("userdb_"):], value)
        elif name == "nopassword":
            stored = self.passdb_password
            if stored is not None and "noauthenticate" not in self.extra_fields:
                if schemes.split_scheme(stored)[1] != "":
                    self.db_log("Error", "nopassword set but password is non-empty")
                    return
            self.passdb_password = None
            self.extra_fields[name] = value
        elif name == "noauthenticate":
            self.extra_fields[name] = value
            self.extra_fields["nopassword"] = ""
        else:
            self.extra_fields[name] = value

    def set_userdb_field(self, name: str, value: str) -> None:
        self.userdb_fields[name] = value

    def _update_username(self, name: str, value: str) -> None:
        old = self.user or ""
        if name == "user":
            new = value
        elif name == "username":
            new = value if "@" in value else value + ("@" + old.split("@", 1)[1]
                                                      if "@" in old else "")
        else:
            new = f"{old.split('@', 1)[0]}@{value}"
        if not new:
            self.db_log("Error", "username attempted to be changed to empty")
            self.failed = True
            return
        if new != old:
            self.db_log("Debug", f"username changed {old} -> {new}")
            self.user = new

    def _validate_networks(self, name: str, networks: str) -> None:
        found = False
        remote = _ip(self.remote_ip)
        for net in networks.replace(",", " ").split():
            self.db_log("Debug", f"{name}: Matching for network {net}")
            if net == "local":
                if remote is None:
                    found = True
                    break
                continue
            try:
                network = ipaddress.ip_network(net, strict=False)
            except ValueError:
                self.db_log("Info", f"{name}: Invalid network '{net}'")
                continue
            if remote is not None and remote.version == network.version and remote in network:
                found = True
                break
        if found:
            return
        if remote is None:
            self.db_log("Info", f"{name} check failed: Remote IP not known and 'local' missing")
        else:
            self.db_log("Info", f"{name} check failed: IP {self.remote_ip} "
                                "not in allowed networks")
        self.failed = True

    # --- password verification (auth_request_password_verify) ----------------------

    def password_verify(self, plain: str, stored: str, scheme: str) -> int:
        """1 on a match, 0 on a mismatch (logged), -1 when the stored data is unusable."""
        if "nopassword" in self.extra_fields:
            self.db_log("Debug", "Allowing any password")
            return 1
        try:
            raw = schemes.decode(stored, scheme)
        except schemes.UnknownScheme:
            self.db_log("Error", f"Unknown scheme {scheme}")
            return -1
        except schemes.SchemeError as exc:
            self.db_log("Error", f"Password data is not valid for scheme {scheme}: {exc}")
            return -1
        params = schemes.GenerateParams(user=self.original_user or self.user or "")
        try:
            ok = schemes.verify_raw(plain, scheme, raw, params)
        except schemes.SchemeError as exc:
            self.db_log("Error", f"Invalid password in passdb: {exc}")
            return -1
        if not ok:
            self.log_login_failure(schemes.PASSWORD_MISMATCH)
        return 1 if ok else 0


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None


def sanitize(text: str, limit: int) -> str:
    """str_sanitize_append() (lib/str-sanitize.c): control characters and bytes that are not
    UTF-8 (surrogate escapes here) become '?'; a name over ``limit`` bytes, or one that ends
    inside a UTF-8 sequence, is cut and ends in "...". Ported byte for byte: the log
    lines must be Dovecot's for any input."""
    src = text.encode("utf-8", "surrogateescape").split(b"\0", 1)[0]
    out = bytearray()
    i = 0
    while i < limit and i < len(src):
        size = _utf8_char_len(src[i:min(len(src), limit)])
        if size == 0:
            break  # the input ended inside a character
        if size < 0:
            out += b"?"
            i += 1
            continue
        out += b"?" if src[i] < 32 else src[i:i + size]
        i += size
    if i < len(src):
        if limit < 3:
            out.clear()
        else:
            while len(out) > limit - 3:
                out = bytearray(out[:-1].decode("utf-8", "ignore").encode())
        out += b"..."
    return out.decode("utf-8")


def _utf8_char_len(data: bytes) -> int:
    """uni_utf8_get_char_n(): the length of the character at the start of ``data``, 0 when
    ``data`` ends inside it, -1 when it is not valid UTF-8."""
    lead = data[0]
    if lead < 0x80:
        return 1
    size = 8 - (lead ^ 0xFF).bit_length()  # the number of leading one bits
    if size < 2 or size > 6:
        return -1
    value = lead & (0x7F >> size)
    if size > len(data):
        wanted, ret = len(data), 0
    else:
        wanted, ret = size, size
    for byte in data[1:wanted]:
        if byte & 0xC0 != 0x80:
            return -1
        value = (value << 6) | (byte & 0x3F)
    if ret == 0:
        return 0
    lowest = (0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000)[size]
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF or value < lowest:
        return -1
    return ret
