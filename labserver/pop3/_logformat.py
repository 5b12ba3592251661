"""Dovecot's log texts for POP3: login lines, the mail process prefix, logout stats.

- pop3-login (login-common/client-common.c ``client_get_log_str``): each element of
  ``login_log_format_elements`` (split on spaces) is expanded; an element whose
  expansion equals its expansion with every variable empty is dropped, unless it
  contains ``%u`` or ``%n``; the rest are joined with ``", "`` and put into
  ``login_log_format`` as ``%s``, with the message as ``%$``.
- pop3 (``mail_log_prefix``, default ``%s(%u)<%{pid}><%{session}>: ``) and
  ``pop3_logout_format`` (pop3/pop3-client.c ``client_stats``).
- The session id (``client_get_session_id``): base64 of the lowest 48 bits of the
  microsecond clock, the remote port and the remote IP, all little-endian.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import zlib
from collections.abc import Mapping, Sequence

from labserver.config.varexpand import MAIL_USER_VARS, Var, expand

# login-common/client-common.c: login_var_expand_empty_tab, aliases included.
LOGIN_VARS = (
    Var("u", "user"), Var("n", "username"), Var("d", "domain"), Var("s", "service"),
    Var("h", "home"), Var("l", "lip"), Var("r", "rip"), Var("p", "pid"), Var("m", "mech"),
    Var("a", "lport"), Var("b", "rport"), Var("c", "secured"), Var("k", "ssl_security"),
    Var("e", "mail_pid"), Var(None, "session"), Var(None, "real_lip"),
    Var(None, "real_rip"), Var(None, "real_lport"), Var(None, "real_rport"),
    Var(None, "orig_user"), Var(None, "orig_username"), Var(None, "orig_domain"),
    Var(None, "auth_user"), Var(None, "auth_username"), Var(None, "auth_domain"),
    Var(None, "listener"), Var(None, "local_name"), Var(None, "local_ip"),
    Var(None, "remote_ip"), Var(None, "local_port"), Var(None, "remote_port"),
    Var(None, "real_local_ip"), Var(None, "real_remote_ip"), Var(None, "real_local_port"),
    Var(None, "real_remote_port"), Var(None, "mechanism"), Var(None, "original_user"),
    Var(None, "original_username"), Var(None, "original_domain"),
)

# pop3/pop3-client.c: logout_tab (merged in front of the mail user's table).
LOGOUT_VARS = (
    Var("p", "top_bytes"), Var("t", "top_count"), Var("b", "retr_bytes"),
    Var("r", "retr_count"), Var("d", "deleted_count"), Var("m", "message_count"),
    Var("s", "message_bytes"), Var("i", "input"), Var("o", "output"),
    Var("u", "uidl_change"), Var(None, "deleted_bytes"),
)

# pop3/pop3-commands.c pop3_get_uid: the variables of pop3_uidl_format.
UIDL_VARS = (
    Var("v", "uidvalidity"), Var("u", "uid"), Var("m", "md5"), Var("f", "filename"),
    Var("g", "guid"),
)

_USERNAME_KEY = re.compile(r"%-?[0-9]*(?:\.-?[0-9]*)?[LUEXRHNMDT]*(?:[un]|\{(?:user|username)\})")


def session_id(usecs: int, remote_ip: str, remote_port: int) -> str:
    """``client_get_session_id``: 48-bit clock, port, address; base64."""
    raw = bytearray((usecs >> shift) & 0xFF for shift in range(0, 48, 8))
    raw += bytes((remote_port & 0xFF, (remote_port >> 8) & 0xFF))
    try:
        raw += ipaddress.ip_address(remote_ip).packed
    except ValueError:
        raw += bytes(4)
    return base64.b64encode(bytes(raw)).decode("ascii")


def _users(prefix: str, user: str) -> dict[str, str]:
    user = user[:80]
    username, _, domain = user.partition("@")
    return {f"{prefix}user": user, f"{prefix}username": username,
            f"{prefix}domain": domain}


def login_values(*, user: str | None, mech: str | None, lip: str, rip: str, lport: int,
                 rport: int, pid: str, secured: str, ssl_security: str, mail_pid: str,
                 session: str, home: str = "", listener: str = "",
                 local_name: str = "") -> dict[str, str]:
    """The values table of ``get_var_expand_table`` for one login connection."""
    values = {v.name: "" for v in LOGIN_VARS}
    if user is not None:
        values.update(_users("", user))
        values.update(_users("orig_", user))
        values.update(_users("auth_", user))
        values.update({"original_user": values["orig_user"],
                       "original_username": values["orig_username"],
                       "original_domain": values["orig_domain"]})
    values.update({
        "service": "pop3", "home": home, "lip": lip, "local_ip": lip, "rip": rip,
        "remote_ip": rip, "pid": pid, "mech": mech or "", "mechanism": mech or "",
        "lport": str(lport), "local_port": str(lport), "rport": str(rport),
        "remote_port": str(rport), "secured": secured, "ssl_security": ssl_security,
        "mail_pid": mail_pid, "session": session, "real_lip": lip, "real_local_ip": lip,
        "real_rip": rip, "real_remote_ip": rip, "real_lport": str(lport),
        "real_local_port": str(lport), "real_rport": str(rport),
        "real_remote_port": str(rport), "listener": listener, "local_name": local_name,
    })
    return values


def login_log_message(message: str, values: Mapping[str, str], elements: str,
                      log_format: str) -> str:
    """``client_get_log_str``: the message with the connection's elements."""
    empty = {name: "" for name in values}
    parts: list[str] = []
    for element in elements.split(" "):
        text = expand(element, values, LOGIN_VARS).text
        if not _USERNAME_KEY.search(element):
            if text == expand(element, empty, LOGIN_VARS).text:
                continue
        parts.append(text)
    table = (Var("s", "elements"), Var("$", "message"))
    return expand(log_format, {"elements": ", ".join(parts), "message": message},
                  table).text


def mail_log_prefix(template: str, *, user: str, pid: str, session: str, lip: str,
                    rip: str) -> str:
    """``mail_log_prefix`` expanded for the post-login process."""
    username, _, domain = user.partition("@")
    values = {"user": user, "username": username, "domain": domain, "service": "pop3",
              "pid": pid, "session": session, "lip": lip, "rip": rip,
              "orig_user": user, "orig_username": username, "orig_domain": domain,
              "auth_user": user, "auth_username": username, "auth_domain": domain}
    return expand(template, values, MAIL_USER_VARS).text


def logout_stats(template: str, counters: Mapping[str, str], user_values: Mapping[str, str]
                 ) -> str:
    """``pop3_logout_format``: the logout table shadows the mail user's keys."""
    logout_keys = {v.key for v in LOGOUT_VARS if v.key}
    logout_names = {v.name for v in LOGOUT_VARS}
    user_vars = tuple(v for v in MAIL_USER_VARS
                      if v.key not in logout_keys and v.name not in logout_names)
    values = dict(user_values)
    values.update(counters)
    return expand(template, values, user_vars + LOGOUT_VARS).text


def uidl_change(uidls: Sequence[str], deleted: Sequence[bool], lowest_retr: int) -> str:
    """``client_build_uidl_change_string``: CRC32s of the UIDLs before and after."""
    count = len(uidls)
    old_count = lowest_retr - 1 if lowest_retr > 0 else count
    old_hash = 0
    for uidl in uidls[:old_count]:
        old_hash ^= zlib.crc32(uidl.encode("utf-8", "surrogateescape"))
    new_hash = 0
    for uidl, gone in zip(uidls, deleted, strict=True):
        if not gone:
            new_hash ^= zlib.crc32(uidl.encode("utf-8", "surrogateescape"))
    new_count = count - sum(deleted)
    if old_hash == new_hash and old_count == new_count:
        return f"{old_count}/{old_hash:08x}"
    return f"{old_count}/{old_hash:08x} -> {new_count}/{new_hash:08x}"


def uses_variable(template: str, key: str, name: str) -> bool:
    """``var_has_key``: does the template use ``%key`` or ``%{name}``?"""
    pattern = r"%-?[0-9]*(?:\.-?[0-9]*)?[LUEXRHNMDT]*(?:" + re.escape(key) + r"|\{" + \
        re.escape(name) + r"\})"
    return re.search(pattern, template) is not None
