"""A raw IMAP and POP3 client for hostile input: bytes as they are, literals for names.

imaplib and poplib refuse to send NUL, CR or LF inside a name; these helpers send
any bytes (IMAP names go as ``{n+}`` literals) and give back the reply's class:
``OK``, ``NO``, ``BAD``, ``BYE`` (the server said goodbye) or ``CLOSED`` (it hung up).
"""

from __future__ import annotations

import socket

TIMEOUT = 30.0


class RawImap:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), TIMEOUT)
        self.buf = b""
        self.transcript = b""
        self.count = 0
        self.greeting = self._line()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
            self.transcript += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self, *parts: bytes | str) -> tuple[str, bytes]:
        """Send a command; ``bytes`` parts go as literals, ``str`` parts as they are.

        Returns the reply's class and everything the server said for the command."""
        self.count += 1
        tag = f"h{self.count}".encode()
        wire = tag
        for part in parts:
            if isinstance(part, bytes):
                wire += b" {%d+}\r\n" % len(part) + part
            else:
                wire += b" " + part.encode()
        said = b""
        try:
            self.sock.sendall(wire + b"\r\n")
            while True:
                line = self._line()
                said += line + b"\r\n"
                if line.startswith(tag + b" "):
                    return line.split(b" ", 2)[1].decode("ascii", "replace"), said
                if line.startswith(b"* BYE"):
                    return "BYE", said
        except (ConnectionError, OSError):
            return "CLOSED", said

    def close(self) -> None:
        self.sock.close()


class RawPop3:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), TIMEOUT)
        self.buf = b""
        self.greeting = self._line()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self, line: bytes) -> tuple[str, bytes]:
        """Send one line (as given) and read one status line: ``+OK``/``-ERR``/``CLOSED``."""
        try:
            self.sock.sendall(line + b"\r\n")
            reply = self._line()
        except (ConnectionError, OSError):
            return "CLOSED", b""
        return reply.split(b" ", 1)[0].decode("ascii", "replace"), reply

    def close(self) -> None:
        self.sock.close()
