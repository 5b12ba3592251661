"""The events the command reader produces: one frozen dataclass per IMAP command.

Every command carries its ``tag`` (bytes, as the client sent it). Mailbox names are the raw
wire bytes (modified UTF-7, RFC 3501 §5.1.3); ``mailbox_name()`` decodes them. Commands that
have a UID form carry ``uid: bool``. Arguments are checked for syntax only: whether the
command is allowed in the current state, whether a message set is in range, whether a
mailbox exists is the session's business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import _utf7


class Event:
    """Anything ``CommandReader.next_event()`` returns besides ``NEED_DATA``."""

    __slots__ = ()


class Command(Event):
    __slots__ = ()
    #: The command name as Dovecot spells it in replies ("UID FETCH", "SELECT").
    name = ""


# --- message sets --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SequenceSet:
    """RFC 3501 sequence-set; ``None`` stands for "*" (the largest number in use)."""

    ranges: tuple[tuple[int | None, int | None], ...]

    def __str__(self) -> str:
        def one(n: int | None) -> str:
            return "*" if n is None else str(n)
        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.ranges)

    def resolved(self, largest: int) -> list[tuple[int, int]]:
        """Ranges with "*" replaced by ``largest`` and each range ordered low..high."""
        out = []
        for a, b in self.ranges:
            lo = largest if a is None else a
            hi = largest if b is None else b
            out.append((min(lo, hi), max(lo, hi)))
        return out

    def contains(self, n: int, largest: int) -> bool:
        return any(lo <= n <= hi for lo, hi in self.resolved(largest))

    def iter(self, largest: int) -> Iterator[int]:
        """Numbers of the set that are between 1 and ``largest``, ascending, once each."""
        seen: set[int] = set()
        for lo, hi in self.resolved(largest):
            seen.update(range(max(lo, 1), min(hi, largest) + 1))
        return iter(sorted(seen))

    def has_star(self) -> bool:
        return any(a is None or b is None for a, b in self.ranges)

    def max_number(self) -> int:
        return max((x for r in self.ranges for x in r if x is not None), default=0)


# --- FETCH ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Section:
    """The part of BODY[...]: ``part`` numbers, then HEADER, HEADER.FIELDS[.NOT], TEXT, MIME."""

    part: tuple[int, ...] = ()
    text: str | None = None  # None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"
    fields: tuple[bytes, ...] = ()
    # how each field was written (atom or quoted), for echoing it back as Dovecot does
    fields_quoted: tuple[bool, ...] = ()

    def spec(self) -> str:
        """The section as Dovecot echoes it: field names upper-cased, quoted when they were."""
        parts = [".".join(str(p) for p in self.part)] if self.part else []
        if self.text:
            parts.append(self.text)
        s = ".".join(parts)
        if self.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            names = []
            for f, q in zip(self.fields, self.fields_quoted or (False,) * len(self.fields),
                            strict=True):
                up = f.decode("latin-1").upper()
                names.append('"' + up.replace("\\", "\\\\").replace('"', '\\"') + '"'
                             if q else up)
            s += " (" + " ".join(names) + ")"
        return s


@dataclass(frozen=True, slots=True)
class FetchAtt:
    """One fetch item. ``name`` is FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY,
    BODYSTRUCTURE, RFC822, RFC822.HEADER, RFC822.TEXT, BODY[] (with ``section``), BINARY[]
    and BINARY.SIZE[] (with ``section``) or MODSEQ."""

    name: str
    section: Section | None = None
    partial: tuple[int, int | None] | None = None  # (origin, length or None)
    peek: bool = False

    def response_name(self) -> str:
        """The item name in the FETCH response, e.g. ``BODY[HEADER.FIELDS (FROM)]<0>``."""
        if self.section is None:
            return self.name
        base = self.name[:-2] if self.name.endswith("[]") else self.name
        s = f"{base}[{self.section.spec()}]"
        if self.partial is not None:
            s += f"<{self.partial[0]}>"
        return s

    @property
    def sets_seen(self) -> bool:
        """Fetching this sets \\Seen (BODY[...] without PEEK, RFC822, RFC822.TEXT)."""
        return (self.name in ("BODY[]", "BINARY[]") and not self.peek) or \
            self.name in ("RFC822", "RFC822.TEXT")


# --- SEARCH --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SearchKey:
    """A node of a search program.

    ``op`` is the RFC 3501 key upper-cased; ``args`` depend on it: "AND" (list of keys, also
    the parenthesised list), "OR" (two keys), "NOT" (one key), "SEQSET"/"UID" (SequenceSet),
    string keys (bytes), "HEADER" (field name, value), date keys (datetime.date), "LARGER" /
    "SMALLER" (int), "KEYWORD"/"UNKEYWORD" (str), flag keys and "ALL" (no args).
    """

    op: str
    args: tuple = ()


# --- commands ------------------------------------------------------------------------------

def _cmd(name: str):
    def deco(cls):
        cls.name = name
        return cls
    return deco


@_cmd("CAPABILITY")
@dataclass(frozen=True, slots=True)
class Capability(Command):
    tag: bytes


@_cmd("NOOP")
@dataclass(frozen=True, slots=True)
class Noop(Command):
    tag: bytes


@_cmd("LOGOUT")
@dataclass(frozen=True, slots=True)
class Logout(Command):
    tag: bytes


@_cmd("STARTTLS")
@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    tag: bytes


@_cmd("LOGIN")
@dataclass(frozen=True, slots=True)
class Login(Command):
    tag: bytes
    user: bytes
    password: bytes


@_cmd("AUTHENTICATE")
@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """SASL-IR (RFC 4959): ``initial_response`` is the base64 text, b"=" for an empty one."""

    tag: bytes
    mechanism: str
    initial_response: bytes | None = None


@_cmd("ID")
@dataclass(frozen=True, slots=True)
class Id(Command):
    """RFC 2971. ``params`` is None for NIL (or anything Dovecot ignores)."""

    tag: bytes
    params: tuple[tuple[bytes, bytes | None], ...] | None = None


@_cmd("ENABLE")
@dataclass(frozen=True, slots=True)
class Enable(Command):
    tag: bytes
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Select(Command):
    tag: bytes
    mailbox: bytes
    readonly: bool = False  # EXAMINE
    condstore: bool = False

    @property
    def name(self) -> str:  # type: ignore[override]
        return "EXAMINE" if self.readonly else "SELECT"


@_cmd("CREATE")
@dataclass(frozen=True, slots=True)
class Create(Command):
    tag: bytes
    mailbox: bytes


@_cmd("DELETE")
@dataclass(frozen=True, slots=True)
class Delete(Command):
    tag: bytes
    mailbox: bytes


@_cmd("RENAME")
@dataclass(frozen=True, slots=True)
class Rename(Command):
    tag: bytes
    old: bytes
    new: bytes


@_cmd("SUBSCRIBE")
@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    tag: bytes
    mailbox: bytes


@_cmd("UNSUBSCRIBE")
@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    tag: bytes
    mailbox: bytes


@_cmd("LIST")
@dataclass(frozen=True, slots=True)
class List(Command):
    """LIST, with RFC 5258 selection and RETURN options when given (as upper-case words)."""

    tag: bytes
    reference: bytes
    patterns: tuple[bytes, ...]
    selection: tuple[str, ...] = ()
    return_opts: tuple[str, ...] = ()


@_cmd("LSUB")
@dataclass(frozen=True, slots=True)
class Lsub(Command):
    tag: bytes
    reference: bytes
    pattern: bytes


@_cmd("STATUS")
@dataclass(frozen=True, slots=True)
class Status(Command):
    tag: bytes
    mailbox: bytes
    items: tuple[str, ...]


@_cmd("APPEND")
@dataclass(frozen=True, slots=True)
class Append(Command):
    """``date`` is the INTERNALDATE given (timezone-aware) or None; ``message`` the literal."""

    tag: bytes
    mailbox: bytes
    flags: tuple[str, ...] = ()
    date: dt.datetime | None = None
    message: bytes = b""


@_cmd("NAMESPACE")
@dataclass(frozen=True, slots=True)
class Namespace(Command):
    tag: bytes


@_cmd("IDLE")
@dataclass(frozen=True, slots=True)
class Idle(Command):
    tag: bytes


@_cmd("CHECK")
@dataclass(frozen=True, slots=True)
class Check(Command):
    tag: bytes


@_cmd("CLOSE")
@dataclass(frozen=True, slots=True)
class Close(Command):
    tag: bytes


@_cmd("UNSELECT")
@dataclass(frozen=True, slots=True)
class Unselect(Command):
    tag: bytes


@_cmd("EXPUNGE")
@dataclass(frozen=True, slots=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE (RFC 4315) when ``uid_set`` is given."""

    tag: bytes
    uid_set: SequenceSet | None = None

    @property
    def uid(self) -> bool:
        return self.uid_set is not None


@_cmd("SEARCH")
@dataclass(frozen=True, slots=True)
class Search(Command):
    tag: bytes
    charset: str | None
    key: SearchKey
    uid: bool = False


@_cmd("FETCH")
@dataclass(frozen=True, slots=True)
class Fetch(Command):
    tag: bytes
    seqset: SequenceSet
    items: tuple[FetchAtt, ...]
    uid: bool = False
    macro: str | None = None  # "ALL", "FAST" or "FULL" when one was used
    changedsince: int | None = None  # RFC 7162 FETCH modifier


@_cmd("STORE")
@dataclass(frozen=True, slots=True)
class Store(Command):
    """``mode`` is "+" (add), "-" (remove) or "" (replace)."""

    tag: bytes
    seqset: SequenceSet
    mode: str
    silent: bool
    flags: tuple[str, ...]
    uid: bool = False


@_cmd("COPY")
@dataclass(frozen=True, slots=True)
class Copy(Command):
    tag: bytes
    seqset: SequenceSet
    mailbox: bytes
    uid: bool = False


@_cmd("MOVE")
@dataclass(frozen=True, slots=True)
class Move(Command):
    tag: bytes
    seqset: SequenceSet
    mailbox: bytes
    uid: bool = False


# --- other events --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Done(Event):
    """The "DONE" line that ends IDLE (after ``CommandReader.expect_done()``)."""

    tag: bytes  # the IDLE command's tag


@dataclass(frozen=True, slots=True)
class ContinuationLine(Event):
    """A line sent in answer to a "+" (after ``expect_line()``), e.g. a SASL response."""

    data: bytes


@dataclass(frozen=True, slots=True)
class BadCommand(Event):
    """A command the server answers with ``<tag> BAD <text>``; ``tag`` is b"*" when the tag
    itself was unusable. ``text`` is Dovecot's text as it appears without the timing
    suffix, e.g. "Error in IMAP command SELECT: Missing ')'."; ``reason`` is the part after
    the colon; ``command`` the upper-cased command name when it was known."""

    tag: bytes
    text: str
    reason: str = ""
    command: str | None = None


@dataclass(frozen=True, slots=True)
class FatalError(Event):
    """The connection cannot go on: answer ``* BYE <text>`` and close (Dovecot does so for a
    literal larger than ``imap_max_line_length`` allows)."""

    text: str


@dataclass(frozen=True, slots=True)
class LiteralPending(Event):
    """A literal was announced and the reader waits for the caller's decision.

    For a synchronizing literal (``{N}``) the caller sends ``+ OK`` and calls
    ``accept_literal()``, or answers the command itself and calls ``reject_literal()``; for
    the message of APPEND (``append`` set: mailbox, flags and date parsed so far) the same
    holds for ``{N+}`` too, so that a size or quota limit can be enforced before the octets
    are stored.
    """

    tag: bytes
    command: str
    size: int
    synchronizing: bool
    append: Append | None = None


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed its side (``receive_data(b"")``)."""

    unfinished: bytes = field(default=b"")


def mailbox_name(raw: bytes) -> str:
    """The Unicode mailbox name for wire bytes; raises ``UTF7Error`` for invalid mUTF-7."""
    return _utf7.decode(raw)
