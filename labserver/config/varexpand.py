"""Dovecot's %-variables: one expander the whole lab shares.

Settings such as ``mail_location = maildir:/var/mail/%d/%n`` or passdb queries
contain variables that are filled in per user and per connection. Dovecot's syntax
is ``%[offset.][width][modifiers]key`` for one-letter keys and ``%{name}`` for long
names; ``%%`` is a percent sign. Modifiers: L lower case, U upper case, E escape, X
decimal to hex, R reverse, H and N hashes, M md5, D ``a.b`` to ``a,dc=b``, T trim.
An unknown variable expands to ``UNSUPPORTED_VARIABLE_x`` and is reported, as
Dovecot does, so a learner sees which letter was wrong.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Var:
    """One variable: its short key (or None) and long name."""

    key: str | None
    name: str


# The variables of a mail user, as Dovecot's mail-storage and login code define them.
MAIL_USER_VARS = (
    Var("u", "user"), Var("n", "username"), Var("d", "domain"), Var("s", "service"),
    Var("h", "home"), Var("l", "lip"), Var("r", "rip"), Var("p", "pid"), Var("i", "uid"),
    Var(None, "gid"), Var(None, "session"), Var(None, "auth_user"), Var(None, "auth_username"),
    Var(None, "auth_domain"), Var(None, "orig_user"), Var(None, "orig_username"),
    Var(None, "orig_domain"), Var(None, "lport"), Var(None, "rport"), Var(None, "real_lip"),
    Var(None, "real_rip"), Var(None, "real_lport"), Var(None, "real_rport"),
    Var(None, "hostname"), Var(None, "userdb:home"), Var("c", "secured"), Var("m", "mech"),
    Var("a", "lport"), Var("b", "rport"), Var("w", "password"),
)


@dataclass
class Expansion:
    """The result text and the first error (unknown variable), if any."""

    text: str
    error: str | None = None
    unknown: list[str] = field(default_factory=list)


def mail_user_values(user: str, home: str = "", service: str = "", lip: str = "",
                     rip: str = "", **extra: str) -> dict[str, str]:
    """The values table for a user: ``%u``, ``%n``, ``%d`` and friends."""
    username, _, domain = user.partition("@")
    values = {"user": user, "username": username, "domain": domain, "service": service,
              "home": home, "lip": lip, "rip": rip, "pid": str(os.getpid()),
              "uid": str(os.geteuid()), "gid": str(os.getegid()),
              "orig_user": user, "orig_username": username, "orig_domain": domain,
              "auth_user": user, "auth_username": username, "auth_domain": domain}
    values.update(extra)
    return values


def _elf_hash(text: str) -> int:
    h = 0
    for byte in text.encode("utf-8", "surrogateescape"):
        b = byte - 256 if byte >= 128 else byte
        h = ((h << 4) + b) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
            h ^= g
    return h


def _hex_of(text: str) -> str:
    return f"{int(text):x}" if text.isascii() and text.isdigit() else "0"


def _pad_hash(value: int, state: dict[str, int]) -> str:
    if state["width"]:
        value %= state["width"]
        state["width"] = 0
    out = f"{value & 0xFFFFFFFF:x}"
    if len(out) < state["offset"]:
        out = "0" * (state["offset"] - len(out)) + out
    state["offset"] = 0
    return out


def _modify(mod: str, value: str, state: dict[str, int]) -> str:
    match mod:
        case "L":
            return value.lower()
        case "U":
            return value.upper()
        case "E":
            return "".join("\\" + c if c in "\"'\\" else c for c in value)
        case "X":
            return _hex_of(value)
        case "R":
            return value[::-1]
        case "H":
            return _pad_hash(_elf_hash(value), state)
        case "N":
            digest = hashlib.md5(value.encode("utf-8", "surrogateescape")).digest()
            return _pad_hash(int.from_bytes(digest[:8], "big"), state)
        case "M":
            return hashlib.md5(value.encode("utf-8", "surrogateescape")).hexdigest()
        case "D":
            return value.replace(".", ",dc=")
        case "T":
            return value.rstrip()
    return value


_HASHES = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}


def expand(template: str, values: Mapping[str, str],
           variables: tuple[Var, ...] = MAIL_USER_VARS) -> Expansion:
    """Expand ``template`` with ``values`` keyed by long variable name."""
    short = {v.key: v.name for v in variables if v.key}
    out: list[str] = []
    error: str | None = None
    unknown: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        ch = template[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        i += 1
        state = {"offset": 0, "width": 0}
        zero = False
        sign = 1
        if i < n and template[i] == "-":
            sign = -1
            i += 1
        if i < n and template[i] == "0":
            zero = True
            i += 1
        while i < n and template[i].isdigit() and template[i].isascii():
            state["width"] = state["width"] * 10 + int(template[i])
            i += 1
        if i < n and template[i] == ".":
            state["offset"] = sign * state["width"]
            sign = 1
            state["width"] = 0
            i += 1
            zero = False
            if i < n and template[i] == "0":
                zero = True
                i += 1
            if i < n and template[i] == "-":
                sign = -1
                i += 1
            while i < n and template[i].isdigit() and template[i].isascii():
                state["width"] = state["width"] * 10 + int(template[i])
                i += 1
            state["width"] *= sign
        mods: list[str] = []
        while len(mods) < 10 and i < n and template[i] in "LUEXRHNMDT":
            mods.append(template[i])
            i += 1
        if i >= n:
            break
        ok = True
        if template[i] == "{" and "}" in template[i:]:
            depth = 1
            j = i + 1
            escaped = False
            while j < n and depth > 0:
                c = template[j]
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                j += 1
            name = template[i + 1:j - 1] if depth == 0 else template[i + 1:]
            i = j
            value = _long(name, values)
            if value is None:
                ok = False
                error = error or f"Unknown variable '%{name}'"
                unknown.append(name)
                value = f"UNSUPPORTED_VARIABLE_{name}"
        else:
            key = template[i]
            i += 1
            if key in short and short[key] in values:
                value = values[short[key]]
            elif key in short:
                value = ""
            elif key == "%":
                value = "%"
            else:
                ok = False
                error = error or f"Unknown variable '%{key}'"
                unknown.append(key)
                value = f"UNSUPPORTED_VARIABLE_{key}"
        if not ok:
            out.append(value)
            continue
        for mod in mods:
            value = _modify(mod, value, state)
        offset, width = state["offset"], state["width"]
        if offset < 0:
            if len(value) > -offset:
                value = value[len(value) + offset:]
        else:
            value = value[offset:]
        if width == 0:
            out.append(value)
        elif not zero:
            if width < 0:
                width = len(value) + width
            out.append(value[:max(width, 0)])
        else:
            out.append(value.rjust(width, "0"))
    return Expansion("".join(out), error, unknown)


def _long(name: str, values: Mapping[str, str]) -> str | None:
    if name in values:
        return values[name]
    if name == "hostname":
        import socket

        return socket.gethostname()
    if name in ("pid", "uid", "gid"):
        return {"pid": str(os.getpid()), "uid": str(os.geteuid()),
                "gid": str(os.getegid())}[name]
    key, _, data = name.partition(":")
    if key == "env":
        return os.environ.get(data, "")
    algo = key.split(";", 1)[0]
    if algo in _HASHES and data:
        inner = _long(data, values)
        if inner is None:
            return None
        return hashlib.new(algo, inner.encode("utf-8", "surrogateescape")).hexdigest()
    if any(v.name == name for v in MAIL_USER_VARS):
        return ""
    return None
