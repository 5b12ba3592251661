"""Evaluating a SEARCH program (RFC 3501 §6.4.4) against one message.

The message is seen through ``SearchableMessage``, a small protocol the session can satisfy
from storage; ``MessageView`` implements it from raw bytes. String keys match as Dovecot's
default does, roughly: case-insensitive substring search (Unicode case folding) after MIME
encoded-words in headers are decoded, and bodies are decoded from their transfer encoding and
charset. Dates: BEFORE/ON/SINCE use the internal date, the SENT* keys the Date: header, both
by calendar day in their own time zone, as RFC 3501 asks ("disregarding time and timezone").
"""

from __future__ import annotations

import datetime as dt
import email.header
import email.utils
from typing import Protocol

from ._commands import SearchKey
from ._message import MimePart, ParsedMessage


class SearchableMessage(Protocol):
    seq: int
    uid: int
    flags: frozenset[str]  # system flags and keywords; "\\Recent" when the message is recent
    internaldate: dt.datetime
    size: int

    def header(self, name: str) -> list[str]:
        """Decoded values of every header field called ``name`` (case-insensitive)."""

    def header_text(self) -> str:
        """The whole header, decoded."""

    def body_text(self) -> str:
        """The decoded text of the body (all text parts)."""


def decode_header_value(raw: bytes) -> str:
    """Unfold and decode RFC 2047 encoded-words; undecodable bytes are replaced."""
    text = raw.replace(b"\r\n", b"").replace(b"\n", b"").decode("utf-8", "replace")
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


def _decode_body(part_bytes: bytes, encoding: bytes | None, charset: str) -> str:
    enc = (encoding or b"7bit").lower()
    data = part_bytes
    if enc == b"base64":
        import base64
        import binascii
        try:
            data = base64.b64decode(b"".join(data.split()), validate=False)
        except (binascii.Error, ValueError):
            pass
    elif enc == b"quoted-printable":
        import quopri
        data = quopri.decodestring(data)
    try:
        return data.decode(charset or "us-ascii", "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


class MessageView:
    """``SearchableMessage`` for a message held in memory."""

    def __init__(self, raw: bytes | ParsedMessage, *, seq: int = 1, uid: int = 1,
                 flags: frozenset[str] = frozenset(),
                 internaldate: dt.datetime | None = None) -> None:
        self.parsed = raw if isinstance(raw, ParsedMessage) else ParsedMessage(raw)
        self.seq, self.uid, self.flags = seq, uid, frozenset(flags)
        self.internaldate = internaldate or dt.datetime.now(dt.UTC)
        self.size = self.parsed.size

    def header(self, name: str) -> list[str]:
        lname = name.lower().encode("latin-1")
        return [decode_header_value(h.value) for h in self.parsed.headers
                if h.name.lower() == lname]

    def header_text(self) -> str:
        return "\r\n".join(f"{h.name.decode('latin-1')}: {decode_header_value(h.value)}"
                           for h in self.parsed.headers if h.name)

    def body_text(self) -> str:
        out: list[str] = []
        self._collect(self.parsed.root, out, top=True)
        return "\n".join(out)

    def _collect(self, part: MimePart, out: list[str], top: bool = False) -> None:
        d = self.parsed.data
        if part.kind == "multipart":
            for ch in part.children:
                self._collect(ch, out)
        elif part.kind == "rfc822":
            msg = part.children[0]
            out.append("\n".join(f"{h.name.decode('latin-1')}: {decode_header_value(h.value)}"
                                 for h in msg.headers if h.name))
            self._collect(msg, out)
        elif part.kind == "text":
            charset = next((v.decode("latin-1") for k, v in part.params
                            if k.lower() == b"charset"), "us-ascii")
            out.append(_decode_body(d[part.body_start:part.end], part.encoding, charset))


def _contains(haystack: str, needle: bytes) -> bool:
    return needle.decode("utf-8", "replace").casefold() in haystack.casefold()


def _sent_date(msg: SearchableMessage) -> dt.date | None:
    values = msg.header("Date")
    if not values:
        return None
    try:
        return email.utils.parsedate_to_datetime(values[-1]).date()
    except (TypeError, ValueError, IndexError):
        return None


_FLAG_OF = {"ANSWERED": "\\Answered", "DELETED": "\\Deleted", "DRAFT": "\\Draft",
            "FLAGGED": "\\Flagged", "SEEN": "\\Seen", "RECENT": "\\Recent"}


def search_matches(key: SearchKey, msg: SearchableMessage, *, max_seq: int,
                   max_uid: int) -> bool:
    """Whether ``msg`` satisfies ``key``; ``max_seq``/``max_uid`` give "*" its value."""
    op, args = key.op, key.args
    if op == "ALL":
        return True
    if op == "AND":
        return all(search_matches(k, msg, max_seq=max_seq, max_uid=max_uid) for k in args)
    if op == "OR":
        return any(search_matches(k, msg, max_seq=max_seq, max_uid=max_uid) for k in args)
    if op == "NOT":
        return not search_matches(args[0], msg, max_seq=max_seq, max_uid=max_uid)
    if op in _FLAG_OF:
        return _FLAG_OF[op] in msg.flags
    if op.startswith("UN") and op[2:] in _FLAG_OF:
        return _FLAG_OF[op[2:]] not in msg.flags
    if op == "NEW":
        return "\\Recent" in msg.flags and "\\Seen" not in msg.flags
    if op == "OLD":
        return "\\Recent" not in msg.flags
    if op == "KEYWORD":
        return any(f.lower() == args[0].lower() for f in msg.flags)
    if op == "UNKEYWORD":
        return not any(f.lower() == args[0].lower() for f in msg.flags)
    if op == "SEQSET":
        return args[0].contains(msg.seq, max_seq)
    if op == "UID":
        return args[0].contains(msg.uid, max_uid)
    if op == "LARGER":
        return msg.size > args[0]
    if op == "SMALLER":
        return msg.size < args[0]
    if op in ("BEFORE", "ON", "SINCE"):
        day = msg.internaldate.date()
        return _compare(op, day, args[0])
    if op in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        day = _sent_date(msg)
        return day is not None and _compare(op[4:], day, args[0])
    if op in ("FROM", "TO", "CC", "BCC", "SUBJECT"):
        return any(_contains(v, args[0]) for v in msg.header(op.capitalize()))
    if op == "HEADER":
        name, value = args
        values = msg.header(name.decode("latin-1"))
        if not value:
            return bool(values)
        return any(_contains(v, value) for v in values)
    if op == "BODY":
        return _contains(msg.body_text(), args[0])
    if op == "TEXT":
        return _contains(msg.header_text(), args[0]) or _contains(msg.body_text(), args[0])
    raise ValueError(f"unknown search key {op}")


def _compare(op: str, day: dt.date, ref: dt.date) -> bool:
    if op == "BEFORE":
        return day < ref
    if op == "ON":
        return day == ref
    return day >= ref  # SINCE
