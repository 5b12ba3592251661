"""UIDVALIDITY values and GUIDs, as Dovecot makes them.

A new folder needs a UIDVALIDITY that no earlier folder of the same name had.
Dovecot keeps a counter file ``dovecot-uidvalidity`` (8 hex digits) in the
mail root, beside an empty marker ``dovecot-uidvalidity.<hex>`` that it renames
forward with each value (src/lib-storage/mailbox-uidvalidity.c); the next value
is the current time, or the last value plus one when that is not larger. The lab
keeps the same two files, under a dotlock of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time

from .locking import dotlocked

UIDVALIDITY_FILE = "dovecot-uidvalidity"


def new_guid() -> str:
    """A 128-bit GUID as 32 hex digits (Dovecot's guid_128_to_string format)."""
    return secrets.token_hex(16)


def next_uidvalidity(root_real: str) -> int:
    """The next UIDVALIDITY for a folder under the mail root ``root_real``."""
    os.makedirs(root_real, exist_ok=True)
    path = os.path.join(root_real, UIDVALIDITY_FILE)
    with dotlocked(path, timeout=30, stale_timeout=30):
        last = 0
        with contextlib.suppress(FileNotFoundError, ValueError):
            with open(path, "rb") as f:
                last = int(f.read(8).decode("ascii"), 16)
        markers = [n for n in os.listdir(root_real) if n.startswith(UIDVALIDITY_FILE + ".")
                   and len(n) == len(UIDVALIDITY_FILE) + 9]
        for name in markers:
            with contextlib.suppress(ValueError):
                last = max(last, int(name[-8:], 16))
        value = int(time.time()) & 0xFFFFFFFF
        if value <= last:
            value = (last + 1) & 0xFFFFFFFF or 1
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"%08x" % value)
        os.replace(tmp, path)
        marker = os.path.join(root_real, f"{UIDVALIDITY_FILE}.{value:08x}")
        if markers:
            with contextlib.suppress(FileNotFoundError):
                os.rename(os.path.join(root_real, markers[0]), marker)
            for extra in markers[1:]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(root_real, extra))
        if not os.path.exists(marker):
            open(marker, "wb").close()
        return value
