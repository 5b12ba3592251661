"""RETR and TOP bodies: pop3/pop3-commands.c ``fetch_callback``, byte for byte.

Dovecot streams the stored message and fixes it on the way out: a LF without CR
gets a CR, a line starting with ``.`` gets another ``.`` (RFC 1939 §3
byte-stuffing), and a message not ending in a line end gets CR LF before the
final ``.``. For TOP it counts body lines; the empty line that ends the header
counts as one, which is why ``body_lines`` starts one higher. The header ends at
the first CR or LF that follows a LF (or starts the message). Applied to data
that already has CRLF line ends (what ``Mailbox.read`` returns) the loop is the
same as Dovecot's on the raw file.
"""

from __future__ import annotations

CHUNK = 4096  # Dovecot reads and writes in blocks of this size


def fetch_body(data: bytes, body_lines: int | None, *, no_nuls: bool = False,
               add_eoh: bool = False) -> bytes:
    """The bytes after ``+OK ...`` up to, not including, the final ``.\\r\\n``.

    ``body_lines`` is None for RETR (everything) or TOP's line count.
    ``no_nuls`` and ``add_eoh`` are the ``outlook-no-nuls`` and ``oe-ns-eoh``
    workarounds of ``pop3_client_workarounds``.
    """
    out = bytearray()
    lines = -1 if body_lines is None else body_lines + 1
    in_body = False
    last = 0
    pos = 0
    size_total = len(data)
    while (lines != 0 or not in_body) and pos < size_total:
        chunk = data[pos:pos + CHUNK]
        size = len(chunk)
        add = None
        i = 0
        while i < size:
            c = chunk[i]
            if c in (0x0D, 0x0A) and not in_body:
                if i == 0 and last in (0, 0x0A):
                    in_body = True
                elif i > 0 and chunk[i - 1] == 0x0A:
                    in_body = True
            if c == 0x0A:
                prev = last if i == 0 else chunk[i - 1]
                if prev != 0x0D:
                    add = 0x0D  # missing CR
                    break
                if in_body and lines > 0:
                    lines -= 1
                    if lines == 0:
                        i += 1
                        break
            elif c == 0x2E and (last if i == 0 else chunk[i - 1]) == 0x0A:
                add = 0x2E  # escape the dot
                break
            elif c == 0 and no_nuls:
                add = 0x80
                break
            i += 1
        if i > 0:
            out += chunk[:i]
            last = chunk[i - 1]
            pos += i
        if add is not None:
            out.append(add)
            last = add
            if add == 0x80:
                pos += 1
    if last != 0x0A:
        out += b"\r\n"
    if not in_body and add_eoh:
        out += b"\r\n"
    return bytes(out)


def header_field(data: bytes, name: bytes) -> bytes | None:
    """The first header field ``name`` (unfolded, trimmed), or None."""
    end = data.find(b"\r\n\r\n")
    header = data if end < 0 else data[:end + 2]
    lines = header.split(b"\r\n")
    want = name.lower() + b":"
    for index, line in enumerate(lines):
        if line.lower().startswith(want):
            value = line[len(want):]
            for more in lines[index + 1:]:
                if more[:1] in (b" ", b"\t"):
                    value += more
                else:
                    break
            return value.strip()
    return None
