"""OpenSSL errors as Dovecot's log shows them (``error:0A0000C1:SSL routines::no shared
cipher``). Python's ``ssl.SSLError`` keeps the library and reason names but not the packed
error code, so the code comes from a table of the reasons a TLS lab meets; other reasons
are shown without it."""

from __future__ import annotations

import asyncio
import re
import ssl

# OpenSSL 3 reason codes of the SSL library (ssl/sslerr.h); packed as 0x0A000000 | code.
SSL_REASONS = {
    "NO_SHARED_CIPHER": 0xC1, "UNSUPPORTED_PROTOCOL": 0x102, "NO_PROTOCOLS_AVAILABLE": 0xBF,
    "WRONG_VERSION_NUMBER": 0x10B, "HTTP_REQUEST": 0x9C, "VERSION_TOO_LOW": 0x18C,
    "UNEXPECTED_EOF_WHILE_READING": 0x126, "NO_SUITABLE_SIGNATURE_ALGORITHM": 0x76,
    "NO_SUITABLE_KEY_SHARE": 0x65, "INAPPROPRIATE_FALLBACK": 0x175,
    "SSLV3_ALERT_HANDSHAKE_FAILURE": 0x410, "TLSV1_ALERT_PROTOCOL_VERSION": 0x42E,
    "TLSV1_ALERT_INTERNAL_ERROR": 0x438, "SSLV3_ALERT_BAD_CERTIFICATE": 0x412,
    "TLSV1_ALERT_UNKNOWN_CA": 0x418, "PEER_DID_NOT_RETURN_A_CERTIFICATE": 0xC7,
    "CERTIFICATE_VERIFY_FAILED": 0x86, "RECORD_LAYER_FAILURE": 0x13A,
    "DH_KEY_TOO_SMALL": 0x18A, "INTERNAL_ERROR": 0xC0103, "BAD_KEY_SHARE": 0x6C,
    "PACKET_LENGTH_TOO_LONG": 0xC6,
}


def openssl_error(exc: ssl.SSLError) -> str:
    """``error:0A0000C1:SSL routines::no shared cipher`` for an SSLError."""
    reason = getattr(exc, "reason", None)
    text = str(exc)
    m = re.match(r"\[[^\]]*\]\s*(.*?)(\s*\(_ssl\.c:\d+\))?$", text)
    words = m.group(1) if m else (reason or text).lower().replace("_", " ")
    reason = reason or words.upper().replace(" ", "_")
    if reason in SSL_REASONS:
        return f"error:{0x0A000000 | SSL_REASONS[reason]:08X}:SSL routines::{words}"
    library = getattr(exc, "library", None)
    return f"error:{library or 'SSL'} routines::{words}"


def handshake_failure(exc: BaseException) -> str:
    """The text Dovecot logs after ``Disconnected: `` for a failed TLS handshake."""
    if isinstance(exc, asyncio.TimeoutError):
        return "Connection closed: SSL handshaking timed out"
    if isinstance(exc, ssl.SSLError) and (getattr(exc, "reason", None)
                                          or str(exc).startswith("[")):
        return f"Connection closed: SSL_accept() failed: {openssl_error(exc)}"
    if isinstance(exc, ssl.SSLEOFError | ConnectionError | EOFError):
        return "Connection closed"
    return f"Connection closed: {exc}" if str(exc) else "Connection closed"
