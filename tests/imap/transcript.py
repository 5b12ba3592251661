"""Drive a ``CommandReader`` from a transcript: "C:" lines are client input, the events
the reader gives back are compared with what the test expects."""

from __future__ import annotations

from labserver.imap import NEED_DATA, CommandReader, LiteralPending


def wire(line: str) -> bytes:
    """A transcript line as bytes: CRLF appended, ``\\r\\n`` inside splits literal lines."""
    return line.encode("utf-8").replace(b"\\r\\n", b"\r\n") + b"\r\n"


def events(data: bytes, reader: CommandReader | None = None, *, accept: bool = True,
           chunk: int = 0) -> list:
    """Feed ``data`` (all at once, or ``chunk`` bytes at a time) and collect the events;
    pending literals are accepted unless ``accept`` is False."""
    reader = reader or CommandReader()
    out: list = []
    pieces = [data] if chunk == 0 else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        reader.receive_data(piece)
        while True:
            ev = reader.next_event()
            if ev is NEED_DATA:
                break
            out.append(ev)
            if isinstance(ev, LiteralPending):
                if not accept:
                    return out
                reader.accept_literal()
    return out


def transcript(lines: list[str], **kw) -> list:
    return events(b"".join(wire(line[3:]) for line in lines if line.startswith("C: ")), **kw)
