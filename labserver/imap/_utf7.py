"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3).

Printable US-ASCII other than "&" stands for itself, "&" is written "&-", and every other run
of characters is UTF-16BE in modified base64 ("," instead of "/", no padding) between "&" and
"-". Decoding is strict, as Dovecot's ``imap_utf7_to_utf8()`` is: a name that is not in the
canonical encoding (a shift that encodes printable ASCII, a redundant "&-" sequence split,
non-zero padding bits, a lone surrogate) is rejected, so every name has exactly one spelling.
"""

from __future__ import annotations

import base64


class UTF7Error(ValueError):
    """The bytes are not valid modified UTF-7."""


def _b64encode(chars: str) -> bytes:
    raw = chars.encode("utf-16-be")
    return base64.b64encode(raw).rstrip(b"=").replace(b"/", b",")


def encode(name: str) -> bytes:
    """A Unicode mailbox name in modified UTF-7 as it goes on the wire."""
    out = bytearray()
    pending: list[str] = []
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            if pending:
                out += b"&" + _b64encode("".join(pending)) + b"-"
                pending.clear()
            out += b"&-" if ch == "&" else ch.encode("ascii")
        else:
            pending.append(ch)
    if pending:
        out += b"&" + _b64encode("".join(pending)) + b"-"
    return bytes(out)


_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


def decode(data: bytes) -> str:
    """The Unicode name for modified UTF-7 ``data``; ``UTF7Error`` when it is not canonical."""
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c != 0x26:  # "&"
            if not 0x20 <= c <= 0x7E:
                raise UTF7Error("8bit or control character in mailbox name")
            out.append(chr(c))
            i += 1
            continue
        end = data.find(b"-", i + 1)
        if end < 0:
            raise UTF7Error("unterminated shift sequence")
        chunk = data[i + 1:end]
        i = end + 1
        if not chunk:
            out.append("&")
            continue
        if any(b not in _B64_CHARS for b in chunk):
            raise UTF7Error("invalid base64 character")
        if len(chunk) % 4 == 1:
            raise UTF7Error("truncated base64")
        padded = chunk.replace(b",", b"/") + b"=" * (-len(chunk) % 4)
        raw = base64.b64decode(padded)
        if len(raw) % 2:
            raise UTF7Error("odd number of UTF-16 octets")
        if base64.b64encode(raw).rstrip(b"=").replace(b"/", b",") != chunk:
            raise UTF7Error("non-zero padding bits")
        try:
            text = raw.decode("utf-16-be")
        except UnicodeDecodeError as exc:
            raise UTF7Error("invalid UTF-16 surrogate") from exc
        if any(0x20 <= ord(ch) <= 0x7E for ch in text):
            raise UTF7Error("printable US-ASCII in a shift sequence")
        if out and i - len(chunk) - 2 > 0 and data[i - len(chunk) - 3:i - len(chunk) - 2] == b"-" \
                and _prev_was_shift(data, i - len(chunk) - 2):
            raise UTF7Error("two adjacent shift sequences")
        out.append(text)
    return "".join(out)


def _prev_was_shift(data: bytes, amp: int) -> bool:
    """Whether the "-" just before ``data[amp]`` closes a non-empty base64 shift."""
    j = amp - 1  # the "-"
    k = data.rfind(b"&", 0, j)
    if k < 0:
        return False
    between = data[k + 1:j]
    return bool(between) and all(b in _B64_CHARS for b in between) and b"-" not in between


def is_valid(data: bytes) -> bool:
    try:
        decode(data)
    except UTF7Error:
        return False
    return True
