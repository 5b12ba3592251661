"""A small SASL client for tests: drives any lab mechanism over IMAP or POP3 on a socket.

It speaks just enough protocol to authenticate and returns the server's lines, so the
same exchange can be run against the lab and against real Dovecot and compared.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import ssl

from labserver.auth.sasl import cram_md5, digest_md5
from labserver.auth.sasl.scram import ScramClient

CNONCE = "fyko+d2lbbFgONRv9qkxdawL"  # RFC 5802's example client nonce


class _Lines:
    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self.sock = sock
        self.buf = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def send(self, data: bytes) -> None:
        self.sock.sendall(data + b"\r\n")


def respond(mech: str, user: str, password: str, challenge: bytes, step: int,
            client: dict) -> bytes:
    """The client's answer (raw, before base64) to the ``step``-th challenge."""
    if mech == "PLAIN":
        return b"\0" + user.encode() + b"\0" + password.encode()
    if mech == "LOGIN":
        return user.encode() if step == 0 else password.encode()
    if mech == "CRAM-MD5":
        return cram_md5.response(user, password, challenge)
    if mech == "DIGEST-MD5":
        if step == 0:
            return digest_md5.client_response(user, password, challenge, CNONCE)
        return b""
    if mech.startswith("SCRAM-"):
        if "scram" not in client:
            client["scram"] = ScramClient("sha256" if mech.endswith("256") else "sha1",
                                          user, password, CNONCE)
            return client["scram"].first()
        if challenge.startswith(b"r="):
            return client["scram"].final(challenge)
        return b""
    raise ValueError(mech)


def _drain(conn: _Lines, last: bytes) -> None:
    """Read the goodbye (up to a line starting with ``last``, or the end) before closing,
    so that the server, not a race with the client's close, ends the connection."""
    for _ in range(5):
        try:
            line = conn.line()
        except OSError:
            return
        if not line or line.startswith(last):
            return


def _starttls(conn: _Lines, command: bytes, out: list[bytes]) -> None:
    """``STARTTLS``/``STLS``, then the handshake (no certificate check: a test server)."""
    conn.send(command)
    reply = conn.line()
    out.append(reply)
    if not reply.startswith((b"s OK", b"+OK")):
        return
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    conn.sock = ctx.wrap_socket(conn.sock)


def imap_authenticate(host: str, port: int, mech: str, user: str, password: str,
                      timeout: float = 10, source: str | None = None,
                      tls: bool = False) -> list[bytes]:
    """``a AUTHENTICATE mech`` (after ``s STARTTLS`` when ``tls``), then answer
    challenges until the tagged reply."""
    with socket.create_connection((host, port), timeout,
                                  (source, 0) if source else None) as sock:
        conn = _Lines(sock)
        out = [conn.line()]
        if tls:
            _starttls(conn, b"s STARTTLS", out)
        conn.send(b"a AUTHENTICATE " + mech.encode())
        client: dict = {}
        step = 0
        while True:
            line = conn.line()
            out.append(line)
            if not line.startswith(b"+ ") and line != b"+":
                break
            challenge = base64.b64decode(line[2:])
            conn.send(base64.b64encode(respond(mech, user, password, challenge, step, client)))
            step += 1
        conn.send(b"b LOGOUT")
        _drain(conn, b"b ")
        return out


def pop3_authenticate(host: str, port: int, mech: str, user: str, password: str,
                      timeout: float = 10, source: str | None = None,
                      tls: bool = False) -> list[bytes]:
    """``AUTH mech`` (or ``APOP user digest``), after ``STLS`` when ``tls``, and the
    server's lines."""
    with socket.create_connection((host, port), timeout,
                                  (source, 0) if source else None) as sock:
        conn = _Lines(sock)
        greeting = conn.line()
        out = [greeting]
        if tls:
            _starttls(conn, b"STLS", out)
        if mech == "APOP":
            stamp = re.search(rb"<[^>]*>", greeting)
            ts = stamp.group(0).decode() if stamp else ""
            digest = hashlib.md5((ts + password).encode()).hexdigest()
            conn.send(f"APOP {user} {digest}".encode())
            out.append(conn.line())
            conn.send(b"QUIT")
            _drain(conn, b"")
            return out
        conn.send(b"AUTH " + mech.encode())
        client: dict = {}
        step = 0
        while True:
            line = conn.line()
            out.append(line)
            if not line.startswith(b"+ ") and line != b"+":
                break
            challenge = base64.b64decode(line[2:])
            conn.send(base64.b64encode(respond(mech, user, password, challenge, step, client)))
            step += 1
        conn.send(b"QUIT")
        _drain(conn, b"")
        return out
