"""Reply texts in another server's words: a hook of the IMAP and POP3 engines.

The engines answer in Dovecot's words. A personality that imitates another server on
the same engines (``labserver.courier``) gives a table from Dovecot's reply line to its
own, e.g. ``"OK Logout completed." -> "OK LOGOUT completed"``. A key may start with a
command name and a space to apply to that command only (POP3's bare ``+OK`` means
different things after ``USER`` and ``NOOP``: ``"USER +OK" -> "+OK Password
required."``), and ``{}`` in a key matches one word that the replacement can repeat
(``"+OK {} octets" -> "+OK {} octets follow."``). An empty table changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rewording:
    """A table of reply lines and the lines that replace them."""

    table: Mapping[str, str] = field(default_factory=dict)
    _patterns: tuple[tuple[re.Pattern[str], str], ...] = field(default=(), init=False,
                                                               repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = []
        for key, value in self.table.items():
            if "{}" in key:
                regex = "^" + re.escape(key).replace(r"\{\}", r"(\S+)") + "$"
                patterns.append((re.compile(regex), value))
        object.__setattr__(self, "_patterns", tuple(patterns))

    def __bool__(self) -> bool:
        return bool(self.table)

    def __call__(self, line: str, command: str = "") -> str:
        """``line`` in the other server's words (unchanged when the table has none)."""
        if not self.table:
            return line
        for key in ((f"{command} {line}", line) if command else (line,)):
            found = self.table.get(key)
            if found is not None:
                return found
            for pattern, value in self._patterns:
                match = pattern.match(key)
                if match:
                    return value.format(*match.groups())
        return line

    def reword_bytes(self, data: bytes, command: str = "") -> bytes:
        """The first line of a reply (up to CRLF) reworded, the rest kept."""
        if not self.table:
            return data
        end = data.find(b"\r\n")
        first = data if end < 0 else data[:end]
        text = first.decode("utf-8", "surrogateescape")
        new = self(text, command)
        if new == text:
            return data
        return new.encode("utf-8", "surrogateescape") + (b"" if end < 0 else data[end:])
