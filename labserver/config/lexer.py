"""One line of dovecot.conf to one token, as Dovecot 2.3's config parser reads it.

The language is line based: ``key = value``, ``type [name] {``, ``}``,
``!include[_try] pattern``, with ``#`` comments, trailing-backslash continuation
lines, quoting with ``"`` or ``'`` and three value forms that are resolved later:
``<file`` (read a file), ``$setting`` (a reference) and plain text. Quirks that a
learner can trip over are kept on purpose, because the course teaches what real
Dovecot does: a ``#`` inside a word still starts a comment (with a warning), a
quoted value loses its backslashes, and a lone word is "Expecting '{'".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

WHITE = " \t"


class LineType(enum.Enum):
    SKIP = "skip"
    CONTINUE = "continue"
    KEYVALUE = "keyvalue"
    KEYFILE = "keyfile"
    KEYVARIABLE = "keyvariable"
    SECTION_BEGIN = "section_begin"
    SECTION_END = "section_end"
    INCLUDE = "include"
    INCLUDE_TRY = "include_try"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Token:
    """What one logical line says; ``value`` is the error text for ``ERROR``."""

    type: LineType
    key: str = ""
    value: str = ""
    ambiguous_hash: bool = False


def unescape(text: str) -> str:
    """Drop each backslash and keep the character after it (Dovecot's str_unescape)."""
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 1
            if i == len(text):
                break
            ch = text[i]
        out.append(ch)
        i += 1
    return "".join(out)


def escape(text: str) -> str:
    """Backslash-escape quotes and backslashes (Dovecot's str_escape)."""
    return "".join("\\" + ch if ch in "\"'\\" else ch for ch in text)


_SPECIAL = re.compile(r"""['"#]""")


def _strip_comment(line: str) -> tuple[str, bool]:
    pos = 0
    while (m := _SPECIAL.search(line, pos)) is not None:
        i = m.start()
        ch = line[i]
        if ch == "#":
            return line[:i], line[i - 1] not in WHITE
        # skip a quoted part; a backslash escapes the next character
        j = i + 1
        while True:
            k = line.find(ch, j)
            if k < 0:
                return line, False
            backslashes = 0
            while k - 1 - backslashes >= j and line[k - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2 == 0:
                break
            j = k + 1
        pos = k + 1
    return line, False


class LineReader:
    """Turns physical lines into tokens, joining backslash-continued lines."""

    def __init__(self) -> None:
        self._continued: list[str] = []

    def feed(self, raw: str) -> Token:
        """Read one physical line (without its newline)."""
        line = raw.split("\0", 1)[0].lstrip(WHITE)
        if not line or line[0] == "#":
            # Dovecot drops a pending continuation when a blank or comment line follows.
            self._continued = []
            return Token(LineType.SKIP)
        line, ambiguous = _strip_comment(line)
        line = line.rstrip(WHITE)
        if line.endswith("\\"):
            part = line[:-1].rstrip(WHITE)
            if part:
                self._continued.append(part + " ")
            return Token(LineType.CONTINUE, ambiguous_hash=ambiguous)
        token = self._finish(line)
        if ambiguous:
            token = Token(token.type, token.key, token.value, True)
        return token

    def _finish(self, line: str) -> Token:
        if self._continued:
            line = "".join(self._continued) + line
            self._continued = []
        return split_line(line)


def split_line(line: str) -> Token:
    """Classify a complete, comment-free, trimmed logical line."""
    i = 0
    n = len(line)
    while i < n and line[i] not in WHITE and line[i] != "=":
        i += 1
    key = line[:i]
    while i < n and line[i] in WHITE:
        i += 1
    rest = line[i:]
    if key == "!include":
        return Token(LineType.INCLUDE, key, rest)
    if key == "!include_try":
        return Token(LineType.INCLUDE_TRY, key, rest)
    if rest.startswith("="):
        value = rest[1:].lstrip(WHITE)
        if value.startswith("<"):
            return Token(LineType.KEYFILE, key, value[1:].lstrip(WHITE))
        if value[:1] not in ("'", '"') and "$" in value:
            return Token(LineType.KEYVARIABLE, key, value)
        if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
            value = unescape(value[1:-1])
        elif value in ("'", '"'):
            # A lone quote is both the opening and the closing one in Dovecot.
            value = ""
        return Token(LineType.KEYVALUE, key, value)
    if key == "}" and rest == "":
        return Token(LineType.SECTION_END, key)
    return _section_begin(key, rest)


def _section_begin(key: str, rest: str) -> Token:
    if rest.startswith("{"):
        name = ""
    else:
        if not rest.startswith('"'):
            j = 0
            while j < len(rest) and rest[j] not in WHITE:
                j += 1
            name = rest[:j]
            rest = rest[j:].lstrip(WHITE)
        else:
            end = rest.find('"', 1)
            if end < 0:
                name = rest
                rest = rest[len(rest):]
            else:
                name = unescape(rest[1:end])
                rest = rest[end + 1:].lstrip(WHITE)
        if not rest.startswith("{"):
            return Token(LineType.ERROR, key, "Expecting '{'")
    if rest != "{":
        return Token(LineType.ERROR, key, "Garbage after '{'")
    return Token(LineType.SECTION_BEGIN, key, name)
