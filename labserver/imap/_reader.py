"""The incremental IMAP command reader: bytes in, command events out, no I/O.

    reader = CommandReader(max_line_length=65536)
    reader.receive_data(b"a1 LOGIN {5}\\r\\n")
    ev = reader.next_event()        # LiteralPending(tag=b"a1", size=5, synchronizing=True)
    reader.accept_literal()         # ... and the caller sends b"+ OK\\r\\n"
    reader.receive_data(b"alice secret\\r\\n")
    reader.next_event()             # Login(tag=b"a1", user=b"alice", password=b"secret")
    reader.next_event()             # NEED_DATA

It follows the order in which Dovecot's imap process (``imap-client.c``) handles input: read
the tag, then the command name ("UID" adds a second word), look the command up ("Unknown
command." before any argument is read), then read as many arguments as the command needs.
Errors become ``BadCommand`` events with Dovecot's texts; the reader then skips to the end
of the offending line and carries on, as Dovecot does. Before login Dovecot's imap-login
answers every such error with ``PRELOGIN_BAD_TEXT`` instead.
"""

from __future__ import annotations

import dataclasses

from . import _commands as c
from ._lexer import LexError, LiteralStart, SegmentTokenizer, Stop, read_word
from ._parser import COMMANDS, UID_COMMANDS, CommandError, append_prefix

DEFAULT_MAX_LINE_LENGTH = 64 * 1024  # imap_max_line_length = 64k
PRELOGIN_BAD_TEXT = "Error in IMAP command received by server."


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


class LocalProtocolError(Exception):
    """The caller used the reader wrongly (our fault, not the client's)."""


def bad_text(tag_ok: bool, name: str | None, reason: str) -> str:
    """Dovecot's client_send_command_error() wording (imap-client.c)."""
    if not reason.endswith("."):
        reason += "."
    if not tag_ok:
        return "Error in IMAP tag: " + reason
    if name is None:
        return "Error in IMAP command: " + reason
    return f"Error in IMAP command {name}: {reason}"


class CommandReader:
    """Turns the client's byte stream into ``Event`` objects; see the module docstring."""

    def __init__(self, max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        self.max_line_length = max_line_length
        self._buf = bytearray()
        self._eof = False
        self._phase = "tag"
        self._reset_command()

    # -- feeding ---------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the client; ``b""`` means the client closed the connection."""
        if self._phase == "closed":
            raise LocalProtocolError("the reader stopped after a fatal error")
        if data:
            if self._eof:
                raise LocalProtocolError("data after end of stream")
            self._buf += data
        else:
            self._eof = True

    @property
    def pending_literal(self) -> c.LiteralPending | None:
        return self._pending if self._phase == "decide" else None

    def accept_literal(self) -> None:
        """Go on reading the announced literal (send ``+ OK`` first if it is synchronizing)."""
        if self._phase != "decide":
            raise LocalProtocolError("no literal is waiting for a decision")
        self._phase = "literal"

    def reject_literal(self) -> None:
        """Drop the command whose literal was announced; the caller answers it (e.g. NO).

        The client of a synchronizing literal sends no literal octets then. Octets of a
        refused non-synchronizing literal are read as the next command, as Dovecot does.
        """
        if self._phase != "decide":
            raise LocalProtocolError("no literal is waiting for a decision")
        self._reset_command()
        self._phase = "tag"

    def expect_done(self, tag: bytes) -> None:
        """After ``+ idling``: the next line must be DONE (``Done``), else "Expected DONE."."""
        self._require_idle_state()
        self._switch("done", tag)

    def expect_line(self) -> None:
        """After a ``+`` challenge (AUTHENTICATE): the next line is a ``ContinuationLine``."""
        self._require_idle_state()
        self._switch("line", None)

    def _require_idle_state(self) -> None:
        if self._phase not in ("tag", "skip") or self._tag is not None:
            raise LocalProtocolError("a command is being read")

    def _switch(self, phase: str, tag: bytes | None) -> None:
        # The command that asked for it may still have its line end unread ("skip").
        if self._phase == "skip":
            self._after_skip = (phase, tag)
        else:
            self._phase, self._tag = phase, tag

    # -- reading ---------------------------------------------------------------------------

    def next_event(self) -> c.Event | _NeedData:
        while True:
            phase = self._phase
            if phase == "closed":
                return NEED_DATA
            if phase == "decide":
                raise LocalProtocolError("call accept_literal() or reject_literal() first")
            if phase == "skip":
                lf = self._buf.find(b"\n")
                if lf < 0:
                    self._buf.clear()
                    return self._starved()
                del self._buf[:lf + 1]
                after = self._after_skip
                self._reset_command()
                self._phase = "tag"
                if after is not None:
                    self._phase, self._tag = after
                continue
            if phase in ("done", "line"):
                ev = self._read_plain_line()
                if ev is not None:
                    return ev
                return self._starved()
            if phase == "tag":
                if not self._buf:
                    return self._starved()
                word, pos, ok = read_word(self._buf, 0, tag=True)
                if word is None:
                    return self._too_long() or self._starved()
                if len(word) > self.max_line_length:
                    return self._fail_line(c.BadCommand(
                        b"*", bad_text(False, None, "Too long argument"), "Too long argument."))
                if not ok:
                    return self._fail_line(c.BadCommand(b"*", bad_text(False, None, "Invalid tag"),
                                                        "Invalid tag."))
                self._tag = word
                del self._buf[:pos]
                self._line_size = pos
                self._phase = "name"
                continue
            if phase == "name":
                word, pos, ok = read_word(self._buf, 0, tag=False)
                if word is None:
                    return self._too_long() or self._starved()
                if len(word) > self.max_line_length:
                    return self._fail_line(self._bad("Too long argument", named=False))
                if not ok:
                    return self._fail_line(self._bad("Invalid command name", named=False))
                del self._buf[:pos]
                self._line_size += pos
                upper = word.decode("ascii").upper()
                if not self._uid and upper == "UID":
                    self._uid = True
                    continue
                self._name = ("UID " + upper) if self._uid else upper
                entry = (UID_COMMANDS if self._uid else COMMANDS).get(self._name)
                if entry is None:
                    return self._fail_line(self._bad("Unknown command"))
                limit, self._builder = entry
                if limit is None:
                    return self._finish_line(self._build([]))
                self._tok = SegmentTokenizer(limit)
                self._phase = "args"
                continue
            if phase == "args":
                lf = self._buf.find(b"\n")
                if lf < 0:
                    return self._too_long() or self._starved()
                seg = bytes(self._buf[:lf + 1])
                del self._buf[:lf + 1]
                before = self._line_size
                self._line_size += len(seg)
                try:
                    result = self._tok.feed(seg)
                except LexError as exc:
                    if exc.fatal:
                        return self._fatal(exc.text)
                    return self._end(self._bad(exc.text))
                too_long = self._length_error(before, self._tok.spans)
                if too_long:
                    return self._end(self._bad(too_long))
                if isinstance(result, Stop):
                    return self._end(self._complete())
                ev = self._literal_announced(result)
                if ev is not None:
                    return ev
                continue
            if phase == "literal":
                size = self._literal.size
                if len(self._buf) < size:
                    return self._starved()
                data = bytes(self._buf[:size])
                del self._buf[:size]
                if self._message_literal:
                    self._message = data
                    self._message_index = len(self._tok.args)
                else:
                    self._tok.add_literal(data)
                    self._line_size += size
                self._phase = "args"
                continue
            raise AssertionError(phase)

    # -- helpers ---------------------------------------------------------------------------

    def _reset_command(self) -> None:
        self._tag: bytes | None = None
        self._name: str | None = None
        self._uid = False
        self._tok = SegmentTokenizer()
        self._builder = None
        self._line_size = 0
        self._literal: LiteralStart | None = None
        self._message_literal = False
        self._message: bytes | None = None
        self._message_index = 0
        self._append: c.Append | None = None
        self._pending: c.LiteralPending | None = None
        self._after_skip: tuple[str, bytes | None] | None = None

    def _starved(self) -> c.Event | _NeedData:
        if self._eof:
            unfinished = bytes(self._buf)
            self._buf.clear()
            self._phase = "closed"
            return c.ConnectionClosed(unfinished)
        return NEED_DATA

    def _bad(self, reason: str, named: bool = True) -> c.BadCommand:
        name = self._name if named else None
        text = bad_text(True, name, reason)
        return c.BadCommand(self._tag or b"*", text, reason if reason.endswith(".")
                            else reason + ".", name)

    def _fail_line(self, ev: c.Event) -> c.Event:
        """Report ``ev`` and skip the rest of the current line."""
        self._reset_command()
        self._phase = "skip"
        return ev

    def _finish_line(self, ev: c.Event) -> c.Event:
        """The command is complete before its line end: ignore the rest of the line."""
        return self._fail_line(ev)

    def _end(self, ev: c.Event) -> c.Event:
        """The line was consumed up to its LF: start afresh with the next one."""
        self._reset_command()
        self._phase = "tag"
        return ev

    def _fatal(self, text: str) -> c.Event:
        self._reset_command()
        self._buf.clear()
        self._phase = "closed"
        return c.FatalError(text)

    def _length_error(self, before: int, spans: list[tuple[int, int]]) -> str | None:
        """Dovecot reads arguments through a buffer of ``imap_max_line_length`` octets: one
        argument longer than that is "Too long argument", and a line that grows past it
        after a complete argument is "IMAP command line too large"."""
        limit = self.max_line_length
        if self._line_size <= limit:
            return None
        for start, end in spans:
            if end - start > limit:
                return "Too long argument"
            if before + end > limit:
                return "IMAP command line too large"
        return "IMAP command line too large"

    def _too_long(self) -> c.Event | None:
        """No line end yet and more than a buffer's worth of input: give up on the line."""
        if len(self._buf) <= self.max_line_length:
            return None
        reason = "Too long argument"
        if self._phase == "args":
            longest = max(len(w) for w in bytes(self._buf).split(b" "))
            if longest <= self.max_line_length:
                reason = "IMAP command line too large"
        ev = c.BadCommand(self._tag or b"*",
                          bad_text(self._tag is not None,
                                   self._name if self._phase == "args" else None, reason),
                          reason + ".", self._name)
        self._buf.clear()
        return self._fail_line(ev)

    def _build(self, args: list) -> c.Event:
        try:
            return self._builder(self._tag, self._uid, args)
        except CommandError as exc:
            return self._bad(exc.text)

    def _complete(self) -> c.Event:
        args = self._tok.args
        if self._name == "APPEND" and self._append is not None:
            if self._message is None or len(args) > self._message_index:
                return self._bad("Invalid arguments.")
            return dataclasses.replace(self._append, message=self._message)
        return self._build(args)

    def _literal_announced(self, lit: LiteralStart) -> c.Event | None:
        self._literal = lit
        is_message = self._name == "APPEND" and lit.depth == 0 and len(self._tok.args) >= 1
        self._message_literal = is_message
        if is_message:
            if self._message is not None:
                return self._end(self._bad("Invalid arguments."))
            try:
                self._append = append_prefix(self._tag, list(self._tok.args))
            except CommandError as exc:
                return self._end(self._bad(exc.text))
        elif self._line_size >= self.max_line_length or \
                lit.size > self.max_line_length - self._line_size:
            return self._fatal("Literal size too large")
        if lit.synchronizing or is_message:
            self._pending = c.LiteralPending(self._tag, self._name, lit.size,
                                             lit.synchronizing, self._append)
            self._phase = "decide"
            return self._pending
        self._phase = "literal"
        return None

    def _read_plain_line(self) -> c.Event | None:
        lf = self._buf.find(b"\n")
        if lf < 0:
            if len(self._buf) > self.max_line_length:
                tag = self._tag or b"*"
                self._buf.clear()
                phase = self._phase
                self._reset_command()
                self._phase = "skip"
                if phase == "done":
                    return c.BadCommand(tag, "Expected DONE.", "Expected DONE.", "IDLE")
                return c.BadCommand(tag, bad_text(False, None, "Too long argument"),
                                    "Too long argument.")
            return None
        line = bytes(self._buf[:lf])
        del self._buf[:lf + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        phase, tag = self._phase, self._tag
        self._reset_command()
        self._phase = "tag"
        if phase == "line":
            return c.ContinuationLine(line)
        if line.upper() == b"DONE":
            return c.Done(tag)
        return c.BadCommand(tag, "Expected DONE.", "Expected DONE.", "IDLE")
