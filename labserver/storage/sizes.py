"""Message sizes: physical (as stored) and virtual (as sent, with CRLF line ends).

Mail is usually stored with bare LF line ends, but IMAP's RFC822.SIZE and POP3's
LIST count CRLF octets (RFC 3501 §2.3.4, RFC 1939 §11). Dovecot calls the stored
count the physical size and the CRLF count the virtual size; Maildir file names
carry both as ``,S=<physical>`` and ``,W=<virtual>``.
"""

from __future__ import annotations


def virtual_size(data: bytes) -> int:
    """Octets of ``data`` once every bare LF has become CRLF."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def to_crlf(data: bytes) -> bytes:
    """``data`` with every line ending in CRLF (existing CRLFs are kept)."""
    if b"\n" not in data:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def to_lf(data: bytes) -> bytes:
    """``data`` with CRLF line ends turned into LF, as Dovecot stores saved mail."""
    return data.replace(b"\r\n", b"\n")
