"""Serialising server responses the way Dovecot writes them (lib-imap ``imap-quote.c``).

Strings are written as an atom, a quoted string or a literal by Dovecot's rules:
- ``nstring``: NIL for None; a literal when the value has CR, LF, an 8-bit octet or more than
  four quoted-specials ('"' and "\\"), otherwise a quoted string;
- ``astring``: an atom when every octet is an ASTRING-CHAR and the value is neither empty nor
  "NIL" in any case, otherwise as ``nstring``;
- ``string_for_humans`` (subjects and display names in ENVELOPE): if the value has nothing to
  tidy it is quoted as is; otherwise runs of white space (SP, TAB, CR, LF) become one space,
  leading and trailing white space go, NUL becomes 0x80, and the result is sent as a literal;
  all-white-space becomes "";
- ``nstring_nolf``: line ends are removed first (a space is put in when the next line does not
  start with white space).
All functions return bytes; every response line ends with CRLF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from ._parser import MONTHS

_QUOTED_MAX_ESCAPE_CHARS = 4


def _is_astring_char(b: int) -> bool:
    # ATOM-CHAR or "]" (Dovecot treats 8-bit octets as atom-specials too)
    return 0x20 < b < 0x7F and b not in b'(){%*"\\'


def literal(value: bytes) -> bytes:
    return b"{%d}\r\n" % len(value) + value


def quoted(value: bytes) -> bytes:
    """Dovecot's imap_append_quoted(): CR, LF and 8-bit octets are dropped."""
    out = bytearray(b'"')
    for b in value:
        if b in (13, 10) or b >= 0x80:
            continue
        if b in (0x22, 0x5C):
            out.append(0x5C)
        out.append(b)
    out.append(0x22)
    return bytes(out)


def nstring(value: bytes | None) -> bytes:
    if value is None:
        return b"NIL"
    escapes = 0
    for b in value:
        if b in (0x22, 0x5C):
            escapes += 1
            if escapes > _QUOTED_MAX_ESCAPE_CHARS:
                return literal(value)
        elif b in (13, 10) or b >= 0x80:
            return literal(value)
    return quoted(value)


string = nstring


def astring(value: bytes) -> bytes:
    if value and value.upper() != b"NIL" and all(_is_astring_char(b) for b in value):
        return value
    return nstring(value)


def nstring_nolf(value: bytes | None) -> bytes:
    if value is None or (b"\r" not in value and b"\n" not in value):
        return nstring(value)
    out = bytearray()
    n = len(value)
    for i, b in enumerate(value):
        if b not in (13, 10):
            out.append(b)
        elif i + 1 < n and value[i + 1] not in b" \t\r\n":
            out.append(0x20)
    return nstring(bytes(out))


def string_for_humans(value: bytes) -> bytes:
    modify = False
    remove = 0
    last_lwsp = True
    ws_prefix = True
    for b in value:
        if b == 0:
            last_lwsp = False
            modify = True
        elif b in (13, 10, 9, 32):
            if b != 32:
                modify = True
            if last_lwsp:
                modify = True
                remove += 1
            last_lwsp = True
        elif b in (0x22, 0x5C) or b >= 0x80:
            modify = True
            last_lwsp = False
        else:
            last_lwsp = False
        if not last_lwsp:
            ws_prefix = False
    if last_lwsp and value and not ws_prefix:
        modify = True
        remove += 1
    if not modify:
        return b'"' + value + b'"'
    if len(value) == remove:
        return b'""'
    out = bytearray()
    last_lwsp = True
    for b in value:
        if b == 0:
            out.append(0x80)
            last_lwsp = False
        elif b in (13, 10, 9, 32):
            if not last_lwsp:
                out.append(0x20)
            last_lwsp = True
        else:
            out.append(b)
            last_lwsp = False
    if last_lwsp and out and out[-1] == 0x20:
        del out[-1]
    return literal(bytes(out))


def flag_list(flags: Iterable[str]) -> bytes:
    return b"(" + " ".join(flags).encode("utf-8") + b")"


def internaldate(when: dt.datetime) -> bytes:
    """``"17-Jul-1996 02:44:25 -0700"`` (quoted), in the datetime's own offset."""
    off = when.utcoffset() or dt.timedelta(0)
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    text = (f'"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year:04d} '
            f'{when.hour:02d}:{when.minute:02d}:{when.second:02d} '
            f'{sign}{minutes // 60:02d}{minutes % 60:02d}"')
    return text.encode("ascii")


# --- response lines ------------------------------------------------------------------------

def _text(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else text


def with_timing(text: str, timing: str) -> str:
    """Dovecot's tagged-reply suffix: ``"Select completed (0.001 + 0.000 secs)."``."""
    if text.endswith("."):
        text = text[:-1]
    return f"{text} ({timing} secs)."


def tagged(tag: bytes, status: str, text: str, code: str | None = None,
           timing: str | None = None) -> bytes:
    """``a1 OK [READ-WRITE] Select completed.`` (``timing`` as in "0.001 + 0.000")."""
    if timing is not None:
        text = with_timing(text, timing)
    body = f"[{code}] {text}" if code else text
    return tag + b" " + status.encode("ascii") + b" " + _text(body) + b"\r\n"


def untagged(text: str | bytes) -> bytes:
    return b"* " + _text(text) + b"\r\n"


def untagged_status(status: str, text: str, code: str | None = None) -> bytes:
    body = f"[{code}] {text}" if code else text
    return untagged(f"{status} {body}")


def bad(tag: bytes, text: str, timing: str | None = None) -> bytes:
    return tagged(tag, "BAD", text, timing=timing)


def bye(text: str, code: str | None = None) -> bytes:
    return untagged_status("BYE", text, code)


def continuation(text: str = "OK") -> bytes:
    return b"+ " + _text(text) + b"\r\n" if text else b"+\r\n"


def capability(caps: Sequence[str]) -> bytes:
    return untagged("CAPABILITY " + " ".join(caps))


def exists(n: int) -> bytes:
    return untagged(f"{n} EXISTS")


def recent(n: int) -> bytes:
    return untagged(f"{n} RECENT")


def expunge(seq: int) -> bytes:
    return untagged(f"{seq} EXPUNGE")


def flags(names: Iterable[str]) -> bytes:
    return b"* FLAGS " + flag_list(names) + b"\r\n"


def search(numbers: Iterable[int]) -> bytes:
    nums = " ".join(str(n) for n in numbers)
    return untagged("SEARCH" + (" " + nums if nums else ""))


def list_line(kind: str, attributes: Iterable[str], delimiter: str | None, name: bytes) -> bytes:
    """``* LIST (\\HasNoChildren) "." INBOX``; ``name`` is the mUTF-7 wire form."""
    delim = b"NIL" if delimiter is None else quoted(delimiter.encode("ascii"))
    return (b"* " + kind.encode("ascii") + b" " + flag_list(attributes) + b" " + delim + b" "
            + astring(name) + b"\r\n")


def status_line(mailbox: bytes, items: Sequence[tuple[str, int]]) -> bytes:
    inner = " ".join(f"{k} {v}" for k, v in items).encode("ascii")
    return b"* STATUS " + astring(mailbox) + b" (" + inner + b")\r\n"


def fetch(seq: int, items: Sequence[tuple[str, bytes]]) -> bytes:
    """``* 3 FETCH (UID 7 FLAGS (\\Seen))``: ``items`` are (name, already formatted value)."""
    inner = b" ".join(name.encode("ascii") + b" " + value for name, value in items)
    return b"* %d FETCH (" % seq + inner + b")\r\n"


def id_line(params: Sequence[tuple[str, str | None]] | None) -> bytes:
    if not params:
        return untagged("ID NIL")
    inner = b" ".join(quoted(k.encode()) + b" " + nstring(None if v is None else v.encode())
                      for k, v in params)
    return b"* ID (" + inner + b")\r\n"
