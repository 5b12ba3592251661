"""Whatever a client sends, the reader answers with events and never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from labserver.imap import NEED_DATA, CommandReader, Event, LiteralPending

TOKENS = [b"a1 ", b"UID ", b"FETCH ", b"SEARCH ", b"APPEND ", b"LOGIN ", b"STORE ", b"SELECT ",
          b"{5}\r\n", b"{3+}\r\n", b"~{2}\r\n", b"(", b")", b'"', b"\\", b"[", b"]", b"<1.2>",
          b"1:*", b"BODY[", b"HEADER.FIELDS ", b"NIL", b"\r\n", b"\n", b"\r", b" ", b"\x00",
          b"\xff", b"*", b"%", b"OR ", b"NOT ", b"+FLAGS ", b"\\Seen", b"INBOX"]


def drive(chunks: list[bytes], accept: list[bool]) -> None:
    reader = CommandReader(max_line_length=300)
    decisions = iter(accept * 50)
    for chunk in [*chunks, b""]:
        reader.receive_data(chunk)
        for _ in range(10_000):
            ev = reader.next_event()
            if ev is NEED_DATA:
                break
            assert isinstance(ev, Event)
            if isinstance(ev, LiteralPending):
                if next(decisions, True):
                    reader.accept_literal()
                else:
                    reader.reject_literal()
        else:
            raise AssertionError("the reader does not make progress")
        if reader.pending_literal is None and chunk == b"":
            break


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=12), st.lists(st.booleans(), min_size=1))
def test_arbitrary_bytes(chunks, accept):
    drive(chunks, accept)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=20).map(b"".join), max_size=8),
       st.lists(st.booleans(), min_size=1))
def test_imap_like_bytes(chunks, accept):
    drive(chunks, accept)
