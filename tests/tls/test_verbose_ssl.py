"""``verbose_ssl = yes``: the handshake's debug lines, in the lab and in Dovecot 2.3.19.

Dovecot's ssl-iostream logs every state change OpenSSL reports (``SSL: where=0x2001,
ret=1: SSLv3/TLS read client hello``), alerts (``SSL alert: close notify``), a client
without SNI (``SSL_get_servername() failed``) and handshake errors (``SSL error: ...``).
The lab makes the same OpenSSL call (the info callback) through ``labserver.tls._openssl``.
Lines with ``ret=-1`` say only that OpenSSL waited for more bytes: how often depends on
how the bytes arrive, so they are left out of the comparison, and a line repeated at once
counts once.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Callable

import pytest

from labserver.tls import _openssl

from .harness import DOVECOT_FILES, LAB_FILES, self_signed, tls_dovecot, tls_lab

CERT, KEY = self_signed("imap.example.com")
SETTINGS = "ssl = yes\nverbose_ssl = yes\n"


def _full(port: int, version: ssl.TLSVersion) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.2", 0)) as raw, \
            ctx.wrap_socket(raw) as tls:
        tls.recv(300)
        tls.sendall(b"a LOGOUT\r\n")
        while tls.recv(300):
            pass


def _cut_short(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.3", 0)) as sock:
        sock.sendall(bytes.fromhex("1603010200010001fc0303"))  # a ClientHello cut short


CLIENTS: dict[str, Callable[[int], None]] = {
    "TLSv1.3": lambda port: _full(port, ssl.TLSVersion.TLSv1_3),
    "TLSv1.2": lambda port: _full(port, ssl.TLSVersion.TLSv1_2),
    "closed mid-handshake": _cut_short,
}


def _debug_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        m = re.search(r"imap-login: (?:Debug|Info): (.*)$", line)
        if not m or re.search(r"ret=-1\b", m.group(1)):
            continue
        if m.group(1).startswith("Disconnected"):
            if "rip=127.0.0.1," in m.group(1):
                continue  # the harness checking that Dovecot listens
            text = re.sub(r"session=<[^>]*>", "session=<S>", m.group(1))
            # a login process Dovecot has just started may not be connected to auth yet:
            # its words for the same event then differ
            out.append(text.replace("(disconnected before auth was ready, waited 0 secs)",
                                    "(no auth attempts in 0 secs)"))
            continue
        if not out or out[-1] != m.group(1):
            out.append(m.group(1))
    return out


def _run(logs: Callable[[], list[str]], port: int) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for name, client in CLIENTS.items():
        before = len(logs())
        client(port)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                "imap-login: Info: Disconnected" in x for x in logs()[before:]):
            time.sleep(0.05)
        time.sleep(0.3)
        seen[name] = _handshake_then_rest(_debug_lines(logs()[before:]))
    return seen


def _handshake_then_rest(lines: list[str]) -> list[str]:
    """The handshake's lines in order; what follows it (the session's end: an alert, the
    login process's line, an error at close) in any order, each line once, since the
    alert and the disconnect race each other. A handshake that never finished: its lines
    in any order, each once (how far OpenSSL got before the close was seen varies)."""
    end = next((i + 1 for i, x in enumerate(lines) if "negotiation finished" in x), 0)
    return lines[:end] + sorted(set(lines[end:]))


def test_verbose_ssl_lines_as_dovecot_writes_them() -> None:
    if not _openssl.available():
        pytest.skip("this Python cannot reach OpenSSL's info callback")
    lab = tls_lab(SETTINGS + LAB_FILES, CERT, KEY)
    try:
        ours = _run(lab.logs, lab.port("imaps"))
    finally:
        lab.cleanup()
    with tls_dovecot(SETTINGS + DOVECOT_FILES, {"cert.pem": CERT, "key.pem": KEY}) as dc:
        theirs = _run(lambda: dc.log().splitlines(), dc.imaps_port)
    assert ours == theirs
    assert "SSL: where=0x2001, ret=1: SSLv3/TLS read client hello" in ours["TLSv1.3"]
    finished = "SSL: where=0x2002, ret=1: SSL negotiation finished successfully"
    assert finished in ours["TLSv1.3"] and "SSL alert: close notify" in ours["TLSv1.3"]
    assert "SSL_get_servername() failed" in ours["TLSv1.2"]
    # a client that goes away mid-handshake: the error and the login process's line
    assert "SSL error: Connection closed" in ours["closed mid-handshake"]
    assert ("Disconnected: Connection closed (no auth attempts in 0 secs): user=<>, "
            "rip=127.0.0.3, lip=127.0.0.1, TLS handshaking: Connection closed, session=<S>"
            ) in ours["closed mid-handshake"]


def test_without_verbose_ssl_no_debug_lines() -> None:
    lab = tls_lab("ssl = yes\n" + LAB_FILES, CERT, KEY)
    try:
        _full(lab.port("imaps"), ssl.TLSVersion.TLSv1_3)
        time.sleep(0.2)
        assert not lab.logs(": Debug: ")
        assert lab.logs("imap-login: Info: Disconnected")
    finally:
        lab.cleanup()
