"""HMAC-MD5 with its intermediate state exposed: what ``{CRAM-MD5}`` hashes store.

Dovecot's CRAM-MD5 scheme (lib/hmac-cram-md5.c) does not store a digest but the two
MD5 states an HMAC is left in after hashing the key XOR ipad and the key XOR opad
blocks (RFC 2104): 4 words each, outer first, little-endian, 32 bytes in all. With
those a server can answer a CRAM-MD5 challenge without knowing the password.
``hashlib`` does not expose MD5's state, so the compression function (RFC 1321 §3.4)
lives here, in plain Python; it only ever runs over a few blocks.
"""

from __future__ import annotations

import hashlib
import math
import struct

_BLOCK = 64
_INIT = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
_SHIFTS = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_K = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
CONTEXT_LEN = 32


def _rotl(x: int, c: int) -> int:
    return ((x << c) | (x >> (32 - c))) & 0xFFFFFFFF


def _compress(state: tuple[int, int, int, int], block: bytes) -> tuple[int, int, int, int]:
    """RFC 1321 §3.4: one 64-byte block into the four-word state."""
    words = struct.unpack("<16I", block)
    a, b, c, d = state
    for i in range(64):
        if i < 16:
            f, g = (b & c) | (~b & d), i
        elif i < 32:
            f, g = (d & b) | (~d & c), (5 * i + 1) % 16
        elif i < 48:
            f, g = b ^ c ^ d, (3 * i + 5) % 16
        else:
            f, g = c ^ (b | ~d), (7 * i) % 16
        f = (f + a + _K[i] + words[g]) & 0xFFFFFFFF
        a, d, c = d, c, b
        b = (b + _rotl(f, _SHIFTS[i])) & 0xFFFFFFFF
    return ((state[0] + a) & 0xFFFFFFFF, (state[1] + b) & 0xFFFFFFFF,
            (state[2] + c) & 0xFFFFFFFF, (state[3] + d) & 0xFFFFFFFF)


def _md5_continue(state: tuple[int, int, int, int], data: bytes, done: int) -> bytes:
    """Finish an MD5 whose first ``done`` bytes (a multiple of 64) gave ``state``."""
    total = done + len(data)
    data = data + b"\x80" + b"\0" * ((55 - total) % 64) + struct.pack("<Q", (total * 8) % 2**64)
    for i in range(0, len(data), _BLOCK):
        state = _compress(state, data[i:i + _BLOCK])
    return struct.pack("<4I", *state)


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.md5(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(k ^ 0x36 for k in key), bytes(k ^ 0x5C for k in key)


def cram_context(secret: bytes) -> bytes:
    """The 32-byte context Dovecot stores for ``{CRAM-MD5}`` (outer state, inner state)."""
    ipad, opad = _pads(secret)
    inner = _compress(_INIT, ipad)
    outer = _compress(_INIT, opad)
    return struct.pack("<4I", *outer) + struct.pack("<4I", *inner)


def hmac_from_context(context: bytes, message: bytes) -> bytes:
    """HMAC-MD5 of ``message`` keyed by the password that ``context`` was made from."""
    if len(context) != CONTEXT_LEN:
        raise ValueError(f"CRAM-MD5 context must be {CONTEXT_LEN} bytes")
    outer = struct.unpack("<4I", context[:16])
    inner = struct.unpack("<4I", context[16:])
    inner_digest = _md5_continue(inner, message, _BLOCK)  # type: ignore[arg-type]
    return _md5_continue(outer, inner_digest, _BLOCK)  # type: ignore[arg-type]
