"""Courier's configuration files: shell variable assignments, read as ``/bin/sh`` would.

Courier's start scripts ``source`` ``/etc/courier/imapd``, ``imapd-ssl``, ``pop3d``,
``pop3d-ssl`` and ``authdaemonrc`` with ``set -a``, so each file is a list of
``NAME=value`` lines in shell syntax: values may be bare words, ``"double quoted"``
(where ``$NAME`` and ``${NAME}`` expand and a backslash escapes ``"``, ``\\``, ``$``
and a backquote), ``'single quoted'`` (literal), or a mix of these glued together.
A backslash at the end of a line continues it. Lines starting with ``#`` are comments
(``##NAME: X:0`` markers included). The shell does not care which names a file sets;
Courier's programs only read the names they know, so the lab rejects a name no Courier
file defines, because that is almost always a typing mistake. Anything else the lab
cannot read as an assignment is an error naming the file and line, where ``sh`` itself
would print a syntax error or run the line as a command.

Written by hand because the point is to read exactly this subset and to name lines
in errors; ``shlex`` neither expands variables nor reports positions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class CourierConfigError(Exception):
    """A Courier configuration file could not be read; names the file and line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path} line {line}: {message}" if line else message)
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True, slots=True)
class Assignment:
    """One ``NAME=value`` line, its value already expanded."""

    name: str
    value: str
    line: int


def parse(text: str, path: str, env: Mapping[str, str] | None = None,
          known: frozenset[str] | None = None) -> tuple[list[Assignment], dict[str, str]]:
    """The assignments of one file, and the environment after sourcing it.

    ``env`` holds the variables set before (files sourced earlier); ``known``, when
    given, is the set of names this file may set.
    """
    values = dict(env or {})
    out: list[Assignment] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        # A backslash before the newline joins the next line (outside single quotes).
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):
            line = line[:-1] + lines[i]
            i += 1
        match = _NAME.match(stripped)
        if match is None or stripped[match.end():match.end() + 1] != "=":
            raise CourierConfigError(path, start + 1,
                                     f"not a NAME=value assignment: {stripped[:60]}")
        name = match.group(0)
        if known is not None and name not in known:
            raise CourierConfigError(path, start + 1, f"unknown variable {name}")
        rest = line.strip()[match.end() + 1:]
        value = _word(rest, values, path, start + 1)
        values[name] = value
        out.append(Assignment(name, value, start + 1))
    return out, values


def _word(text: str, env: Mapping[str, str], path: str, line: int) -> str:
    """One shell word: quotes removed, variables expanded; trailing text is an error."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in " \t":
            tail = text[pos:].strip()
            if tail and not tail.startswith("#"):
                raise CourierConfigError(
                    path, line, f"unquoted space in value (quote it): {text.strip()[:60]}")
            break
        if ch == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                raise CourierConfigError(path, line, "unterminated ' quote")
            out.append(text[pos + 1:end])
            pos = end + 1
        elif ch == '"':
            pos += 1
            while True:
                if pos >= len(text):
                    raise CourierConfigError(path, line, 'unterminated " quote')
                ch = text[pos]
                if ch == '"':
                    pos += 1
                    break
                if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\$`':
                    out.append(text[pos + 1])
                    pos += 2
                elif ch == "$":
                    pos = _expand(text, pos, env, out, path, line)
                elif ch == "`":
                    raise CourierConfigError(path, line, "command substitution is not "
                                                         "supported in the lab")
                else:
                    out.append(ch)
                    pos += 1
        elif ch == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
        elif ch == "$":
            pos = _expand(text, pos, env, out, path, line)
        elif ch in "`;&|<>()":
            raise CourierConfigError(path, line, f"unexpected {ch!r}: only assignments are "
                                                 "read")
        else:
            out.append(ch)
            pos += 1
    return "".join(out)


def _expand(text: str, pos: int, env: Mapping[str, str], out: list[str], path: str,
            line: int) -> int:
    match = _VAR.match(text, pos)
    if match is None:
        if text.startswith("$(", pos) or text.startswith("${", pos):
            raise CourierConfigError(path, line, f"unsupported expansion: {text[pos:][:30]}")
        out.append("$")
        return pos + 1
    out.append(env.get(match.group(1) or match.group(2), ""))
    return match.end()


def assign(text: str, name: str, value: str) -> str:
    """``text`` with ``name`` set to ``value`` (the last assignment replaced, else added)."""
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if re.match(rf"\s*{re.escape(name)}=", lines[i]):
            lines[i] = f"{name}={quoted}"
            return "\n".join(lines)
    if lines and lines[-1] == "":
        lines.insert(len(lines) - 1, f"{name}={quoted}")
    else:
        lines.append(f"{name}={quoted}")
    return "\n".join(lines)
