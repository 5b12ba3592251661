"""Base64 as Dovecot's lib/base64.c decodes it: the one decoder auth shares.

SASL responses (``AUTHENTICATE``, ``AUTH``) and ``.b64`` password hashes are decoded
the same way: whitespace (space, tab, CR, LF) is skipped anywhere, the input must end
on a four-character boundary or carry ``=`` padding, and nothing but whitespace may
follow the padding. Python's ``base64.b64decode`` is laxer or stricter in places, so
this is a small decoder of its own. It never raises: invalid input gives ``None``.
"""

from __future__ import annotations

import base64

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DECMAP = {c: i for i, c in enumerate(_ALPHABET)}
_WHITESPACE = frozenset(b" \t\r\n")


def decode(data: bytes | str) -> bytes | None:
    """The decoded bytes, or None when Dovecot would say "Invalid base64 data"."""
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            return None
    out = bytearray()
    buf = 0
    sub = 0
    pos = 0
    n = len(data)
    while pos < n:
        ch = data[pos]
        value = _DECMAP.get(ch)
        if value is None:
            if ch in _WHITESPACE:
                pos += 1
                continue
            break
        if sub == 0:
            buf = value
        elif sub == 1:
            out.append(((buf << 2) | (value >> 4)) & 0xFF)
            buf = value
        elif sub == 2:
            out.append((((buf << 4) & 0xFF) | (value >> 2)) & 0xFF)
            buf = value
        else:
            out.append(((buf << 6) & 0xC0) | value)
        sub = (sub + 1) % 4
        pos += 1
    if pos == n:
        # lib/base64.c base64_decode_finish(): a partial quantum without padding fails.
        return bytes(out) if sub == 0 else None
    # A character outside the alphabet: only the padding may stand here.
    if sub < 2 or data[pos] != ord("="):
        return None
    pos += 1
    if sub == 2:
        while pos < n and data[pos] in _WHITESPACE:
            pos += 1
        if pos == n or data[pos] != ord("="):
            return None
        pos += 1
    while pos < n and data[pos] in _WHITESPACE:
        pos += 1
    return bytes(out) if pos == n else None


def encode(data: bytes) -> str:
    """Standard base64 with padding, as Dovecot writes it."""
    return base64.b64encode(data).decode("ascii")
