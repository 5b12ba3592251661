"""Tokens of an IMAP command line, read the way Dovecot's lib-imap ``imap-parser.c`` reads them.

A command line is cut into *segments*: the bytes up to and including a LF. A segment ends
either the command or a literal announcement ``{N}`` / ``{N+}``; the literal's octets then
follow, and the next segment continues the same argument list. ``SegmentTokenizer`` keeps the
open lists between segments, so no segment is ever read twice.

Lexical rules, as Dovecot applies them (the texts are Dovecot's error messages):
- arguments are separated by one or more spaces;
- an atom runs to a space, CR, LF or (inside a list) ")"; it may contain "[", "]", "%", "*"
  and "\\" (section specs, LIST patterns, flags) but not "(", "{", '"', controls, DEL
  ("Invalid characters in atom") or 8-bit octets ("8bit data in atom");
- a quoted string ends at the next unescaped '"'; a backslash escapes any octet;
  NUL gives "NULs not allowed in strings", a line end "Missing '\\"'";
- ``{N}`` and ``{N+}`` end the segment ("Invalid literal size", "Expecting '}' after '+'",
  "Missing LF after literal size"); ``~{N}`` (literal8) gives "literal8 not allowed here";
- "NIL" is an atom here; whether it means NIL is up to the grammar of the command.
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 3501 §9: tag = 1*<any ASTRING-CHAR except "+">. Dovecot's read_next_atom() refuses the
# atom-specials below plus controls and 8-bit octets for the tag and the command name.
_WORD_SPECIALS = frozenset(b'(){%*"\\]')
# Dovecot IS_ATOM_PARSER_INPUT(): characters that may not appear in an argument atom.
_ATOM_BAD = frozenset(b'({"') | frozenset(range(0, 33)) | {0x7F}


class LexError(Exception):
    """A syntax error in the command line; ``args`` is Dovecot's text, e.g. "Missing ')'"."""

    def __init__(self, text: str, fatal: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.fatal = fatal


@dataclass(frozen=True, slots=True)
class Atom:
    value: bytes

    @property
    def upper(self) -> str:
        return self.value.decode("latin-1").upper()


@dataclass(frozen=True, slots=True)
class String:
    """A quoted string (``literal=False``) or a literal, already unescaped."""

    value: bytes
    literal: bool = False


@dataclass(frozen=True, slots=True)
class ListArg:
    items: tuple

    def __len__(self) -> int:
        return len(self.items)


Token = Atom | String | ListArg


def is_nil(tok: object) -> bool:
    return isinstance(tok, Atom) and tok.value.upper() == b"NIL"


def read_word(buf: bytes | bytearray, pos: int, tag: bool) -> tuple[bytes | None, int, bool]:
    """Read a tag or command name at ``pos``.

    Returns ``(word, new_pos, ok)``: ``word is None`` means more data is needed (no space,
    CR or LF yet); ``ok`` is False for an invalid or empty word. The separating space is
    consumed, a CR/LF is left for the caller, exactly as Dovecot's ``read_next_atom()``.
    """
    i, n = pos, len(buf)
    while i < n:
        c = buf[i]
        if c in (0x20, 0x0D, 0x0A):
            word = bytes(buf[pos:i])
            return word, i + (1 if c == 0x20 else 0), i > pos
        if c in _WORD_SPECIALS or c < 0x20 or c >= 0x80 or (tag and c == 0x2B):
            return bytes(buf[pos:i]), i, False
        i += 1
    return None, pos, True


@dataclass(frozen=True, slots=True)
class LiteralStart:
    """The segment ended with a literal announcement."""

    size: int
    synchronizing: bool
    # position in the segment just after "}": the literal data begins after the line end
    depth: int  # list nesting depth where the literal will be stored (0 = top level)


class Stop:
    """Reading stopped: end of line, or enough top-level arguments were read."""

    __slots__ = ("eol",)

    def __init__(self, eol: bool) -> None:
        self.eol = eol


class SegmentTokenizer:
    """Accumulates the arguments of one command line across segments and literals.

    ``limit`` is Dovecot's ``count`` of ``imap_parser_read_args()``: reading stops as soon as
    that many top-level arguments are complete (0 means the whole line). What follows is never
    looked at, so a syntax error or a literal after them goes unnoticed, as in Dovecot.
    """

    def __init__(self, limit: int = 0) -> None:
        self.limit = limit
        self._stack: list[list[Token]] = [[]]
        #: (start, end) offsets of the top-level arguments read from the last segment
        self.spans: list[tuple[int, int]] = []

    @property
    def args(self) -> list[Token]:
        return self._stack[0]

    @property
    def depth(self) -> int:
        return len(self._stack) - 1

    def _done(self) -> bool:
        return self.limit > 0 and len(self._stack) == 1 and len(self._stack[0]) >= self.limit

    def add_literal(self, data: bytes) -> None:
        self._stack[-1].append(String(bytes(data), literal=True))

    def feed(self, seg: bytes) -> Stop | LiteralStart:
        """Tokenize one segment (ending with LF). Raises ``LexError``."""
        i, n = 0, len(seg)
        stack = self._stack
        self.spans = []
        arg_start = 0
        while True:
            if self._done():
                return Stop(eol=False)
            if len(stack) == 1 and i > arg_start:
                self.spans.append((arg_start, i))
            while i < n and seg[i] == 0x20:
                i += 1
            if len(stack) == 1:
                arg_start = i
            if i >= n:  # cannot happen: a segment ends with LF
                raise LexError("Missing LF")
            c = seg[i]
            if c == 0x0D or c == 0x0A:
                if c == 0x0D and (i + 1 >= n or seg[i + 1] != 0x0A):
                    raise LexError("CR sent without LF")
                if len(stack) > 1:
                    raise LexError("Missing ')'")
                return Stop(eol=True)
            if c == 0x22:  # quoted string
                i, value = self._quoted(seg, i + 1)
                stack[-1].append(String(value))
            elif c == 0x7B or (c == 0x7E and i + 1 < n and seg[i + 1] == 0x7B):
                if c == 0x7E:
                    raise LexError("literal8 not allowed here")
                return self._literal(seg, i + 1)
            elif c == 0x28:
                stack.append([])
                i += 1
            elif c == 0x29:
                if len(stack) == 1:
                    raise LexError("Unexpected ')'")
                done = stack.pop()
                stack[-1].append(ListArg(tuple(done)))
                i += 1
            else:
                i = self._atom(seg, i)

    def _quoted(self, seg: bytes, i: int) -> tuple[int, bytes]:
        out = bytearray()
        n = len(seg)
        while i < n:
            c = seg[i]
            if c == 0x22:
                return i + 1, bytes(out)
            if c == 0:
                raise LexError("NULs not allowed in strings")
            if c == 0x5C:
                i += 1
                if i >= n:
                    break
                c = seg[i]
            if c in (0x0D, 0x0A):
                raise LexError("Missing '\"'")
            out.append(c)
            i += 1
        raise LexError("Missing '\"'")

    def _atom(self, seg: bytes, i: int) -> int:
        start, n = i, len(seg)
        in_list = len(self._stack) > 1
        while i < n:
            c = seg[i]
            if c in (0x20, 0x0D, 0x0A):
                break
            if c == 0x29:
                if in_list:
                    break
                raise LexError("Unexpected ')'")
            if c in _ATOM_BAD:
                raise LexError("Invalid characters in atom")
            if c >= 0x80:
                raise LexError("8bit data in atom")
            i += 1
        self._stack[-1].append(Atom(bytes(seg[start:i])))
        return i

    def _literal(self, seg: bytes, i: int) -> LiteralStart:
        size, nonsync, n = 0, False, len(seg)
        while i < n:
            c = seg[i]
            if c == 0x7D:
                rest = seg[i + 1:]
                if rest not in (b"\r\n", b"\n"):
                    raise LexError("Missing LF after literal size")
                return LiteralStart(size, not nonsync, len(self._stack) - 1)
            if nonsync:
                raise LexError("Expecting '}' after '+'")
            if c == 0x2B:
                nonsync = True
            elif 0x30 <= c <= 0x39:
                size = size * 10 + (c - 0x30)
                if size >= 1 << 63:
                    raise LexError("Literal size too large", fatal=True)
            else:
                raise LexError("Invalid literal size")
            i += 1
        raise LexError("Invalid literal size")
