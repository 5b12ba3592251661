"""The load generator: raw IMAP and POP3 clients on asyncio, in worker processes.

imaplib and poplib parse every response in Python and share one interpreter lock with
the threads that drive them, so at a few hundred sessions a second the client, not the
server, sets the pace. These clients send fixed command lines and read until the tagged
reply (IMAP) or the status line (POP3), and concurrent clients are spread over worker
processes, so every server, the lab, Dovecot, pymap and the echo baseline, meets the
same cheap and identical load. A reply that is not OK raises: a figure is only printed
for sessions that really logged in, selected and fetched.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

USER, PASSWORD = "bench", "secret"
HOST = "127.0.0.1"
SESSION = (b"LOGIN " + USER.encode() + b" " + PASSWORD.encode(), b"SELECT INBOX",
           b"FETCH 1:10 (FLAGS RFC822.SIZE ENVELOPE)", b"LOGOUT")


class ReplyError(RuntimeError):
    """A server answered a command with anything but OK."""


def tls_client() -> ssl.SSLContext:
    """A client context without verification and without session resumption, so every
    connection pays a full handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.options |= ssl.OP_NO_TICKET
    return ctx


class Imap:
    """One IMAP connection: ``command`` sends a tagged line and reads up to its reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.tag = reader, writer, 0

    @classmethod
    async def connect(cls, port: int, tls: ssl.SSLContext | None = None) -> Imap:
        reader, writer = await asyncio.open_connection(HOST, port, ssl=tls, limit=1 << 24)
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise ReplyError(f"no greeting: {greeting!r}")
        return cls(reader, writer)

    async def command(self, line: bytes, literal: bytes | None = None) -> list[bytes]:
        """Send ``line`` (and a synchronising literal after the server's ``+``); returns
        every line up to the tagged reply, which must be OK."""
        self.tag += 1
        tag = b"a%d " % self.tag
        if literal is None:
            self.writer.write(tag + line + b"\r\n")
        else:
            self.writer.write(tag + line + b" {%d}\r\n" % len(literal))
            go = await self.reader.readline()
            if not go.startswith(b"+"):
                raise ReplyError(f"{line[:40]!r}: {go!r}")
            self.writer.write(literal + b"\r\n")
        lines = []
        while True:
            got = await self.reader.readline()
            if not got:
                raise ReplyError(f"{line[:40]!r}: connection closed")
            if got.startswith(tag):
                if not got.startswith(tag + b"OK"):
                    raise ReplyError(f"{line[:40]!r}: {got!r}")
                return lines
            lines.append(got)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


async def imap_session(port: int, tls: ssl.SSLContext | None = None) -> None:
    """connect, LOGIN, SELECT INBOX, FETCH 1:10 (FLAGS RFC822.SIZE ENVELOPE), LOGOUT."""
    client = await Imap.connect(port, tls)
    for line in SESSION:
        await client.command(line)
    await client.close()


async def tls_handshake(port: int, tls: ssl.SSLContext) -> None:
    """A full TLS handshake on an implicit-TLS port, then the greeting."""
    client = await Imap.connect(port, tls)
    await client.close()


async def _loop(what: str, port: int, clients: int, seconds: float) -> int:
    tls = tls_client() if what in ("tls-session", "handshake") else None
    stop = time.monotonic() + seconds
    done = 0

    async def one() -> None:
        nonlocal done
        while time.monotonic() < stop or (seconds <= 0 and not done):
            if what == "handshake":
                assert tls is not None
                await tls_handshake(port, tls)
            else:
                await imap_session(port, tls)
            done += 1

    await asyncio.gather(*(one() for _ in range(clients)))
    return done


def _worker(what: str, port: int, clients: int, seconds: float) -> int:
    return asyncio.run(_loop(what, port, clients, seconds))


def rate(what: str, port: int, clients: int, seconds: float) -> float:
    """Completed units per second: ``what`` is ``session`` (plain IMAP sessions),
    ``tls-session`` (the same over implicit TLS) or ``handshake`` (TLS handshake and
    greeting). ``clients`` concurrent clients in up to ``os.cpu_count()`` processes."""
    return measure(what, port, clients, seconds)[0]


def measure(what: str, port: int, clients: int, seconds: float,
            probe: Callable[[], float] = time.monotonic) -> tuple[float, float]:
    """``rate()``, and how much ``probe()`` (a CPU-time counter) grew per unit."""
    procs = max(1, min(clients, os.cpu_count() or 1))
    shares = [clients // procs + (i < clients % procs) for i in range(procs)]
    with ProcessPoolExecutor(procs, mp_context=get_context("spawn")) as pool:
        # A first session on each worker (``seconds`` 0: exactly one): imports and the
        # server's first-use costs are not counted.
        list(pool.map(_worker, [what] * procs, [port] * procs, [1] * procs, [0.0] * procs))
        start, before = time.monotonic(), probe()
        units = sum(pool.map(_worker, [what] * procs, [port] * procs, shares,
                             [seconds] * procs))
        elapsed, used = time.monotonic() - start, probe() - before
        return units / elapsed, used / max(units, 1)


# -- one client, timed steps ---------------------------------------------------------------


def _timed(coro_fn) -> float:  # noqa: ANN001 - an async function without arguments
    async def run() -> float:
        start = time.perf_counter()
        await coro_fn()
        return time.perf_counter() - start
    return asyncio.run(run())


def mailbox_steps(port: int) -> dict[str, float]:
    """Seconds for each step on a big INBOX: login, SELECT, UID FETCH 1:* (FLAGS
    RFC822.SIZE), SEARCH on a header; ``select+fetch`` is the sum of the two."""
    out: dict[str, float] = {}

    async def run() -> None:
        client = await Imap.connect(port)
        await client.command(SESSION[0])
        t = time.perf_counter()
        exists = [x for x in await client.command(b"SELECT INBOX") if x.endswith(b"EXISTS\r\n")]
        out["select"] = time.perf_counter() - t
        t = time.perf_counter()
        lines = await client.command(b"UID FETCH 1:* (FLAGS RFC822.SIZE)")
        out["fetch"] = time.perf_counter() - t
        if not exists or len(lines) != int(exists[0].split()[1]):
            raise ReplyError(f"UID FETCH 1:* gave {len(lines)} lines for {exists!r}")
        t = time.perf_counter()
        found = await client.command(b'SEARCH HEADER Subject "message number 4242"')
        out["search"] = time.perf_counter() - t
        if not any(b" 4243" in x for x in found if x.startswith(b"* SEARCH")):
            raise ReplyError(f"SEARCH did not find message 4243: {found[:3]!r}")
        await client.command(b"LOGOUT")
        await client.close()

    asyncio.run(run())
    out["select+fetch"] = out["select"] + out["fetch"]
    return out


def append_rate(port: int, count: int, size: int = 4096) -> float:
    """APPENDs per second of ``count`` messages of ``size`` bytes, one client."""
    head = b"From: a@example.com\r\nTo: bench@example.com\r\nSubject: append\r\n\r\n"
    body = head + b"x" * (size - len(head) - 2) + b"\r\n"

    async def run() -> None:
        client = await Imap.connect(port)
        await client.command(SESSION[0])
        for _ in range(count):
            await client.command(b"APPEND INBOX", body)
        await client.command(b"LOGOUT")
        await client.close()

    return count / _timed(run)


class Pop3:
    """One POP3 connection: ``command`` sends a line and reads the status line, and for
    a multi-line answer everything up to the lone dot."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Pop3:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 24)
        greeting = await reader.readline()
        if not greeting.startswith(b"+OK"):
            raise ReplyError(f"no greeting: {greeting!r}")
        return cls(reader, writer)

    async def command(self, line: bytes, multi: bool = False) -> list[bytes]:
        self.writer.write(line + b"\r\n")
        status = await self.reader.readline()
        if not status.startswith(b"+OK"):
            raise ReplyError(f"{line!r}: {status!r}")
        lines = [status]
        while multi:
            got = await self.reader.readline()
            if got in (b".\r\n", b""):
                break
            lines.append(got)
        return lines


def pop3_steps(port: int) -> dict[str, float]:
    """Seconds for USER/PASS+STAT+LIST+UIDL, and then for RETR of every message."""
    out: dict[str, float] = {}

    async def run() -> None:
        t = time.perf_counter()
        client = await Pop3.connect(port)
        await client.command(b"USER " + USER.encode())
        await client.command(b"PASS " + PASSWORD.encode())
        count = int((await client.command(b"STAT"))[0].split()[1])
        listed = await client.command(b"LIST", multi=True)
        await client.command(b"UIDL", multi=True)
        out["list+uidl"] = time.perf_counter() - t
        if len(listed) != count + 1:
            raise ReplyError(f"LIST gave {len(listed) - 1} of {count} messages")
        t = time.perf_counter()
        for number in range(1, count + 1):
            await client.command(b"RETR %d" % number, multi=True)
        out["retr-all"] = time.perf_counter() - t
        await client.command(b"QUIT")
        client.writer.close()

    asyncio.run(run())
    return out
