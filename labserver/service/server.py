"""The one place with sockets: asyncio listeners in a background thread.

A ``Server`` binds every listener of a configuration before ``start()`` returns,
then serves from its own thread and event loop, so a notebook kernel stays free
and a crash in a session never reaches the caller. Each accepted connection gets a
``Channel`` (bytes in and out, STARTTLS, the transcript) and is handed to the
protocol handler registered for it; the handlers drive the sans-I/O engines.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import ssl
import threading
import traceback
from asyncio import sslproto
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .listeners import ListenerSpec
from .log import LogBook
from .rawlog import Transcript

READ_SIZE = 65536


def new_session_id() -> str:
    """A Dovecot-style session id: 12 random bytes in base64 (16 characters)."""
    return base64.b64encode(os.urandom(12)).decode("ascii")


@dataclass
class Channel:
    """One client connection as the protocol handlers see it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    spec: ListenerSpec
    transcript: Transcript
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int
    tls: bool = False
    closed: bool = False

    async def read(self) -> bytes:
        """Up to READ_SIZE bytes; b"" when the client closed or the connection broke."""
        try:
            data = await self.reader.read(READ_SIZE)
        except (ConnectionError, ssl.SSLError, OSError):
            data = b""
        self.transcript.add("C", data)
        return data

    async def send(self, data: bytes) -> None:
        if not data or self.closed:
            return
        self.transcript.add("S", data)
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True

    def ssl_object(self) -> ssl.SSLObject | None:
        """The connection's TLS state (the client's certificate...), None in plaintext."""
        return self.writer.get_extra_info("ssl_object") if self.tls else None

    async def start_tls(self, context: ssl.SSLContext) -> bool:
        """Upgrade the connection (STARTTLS/STLS); False if the handshake failed."""
        try:
            await self.writer.start_tls(context)
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True
            return False
        self.tls = True
        self.transcript.tls = True
        return True

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.transcript.closed = True
        with contextlib.suppress(Exception):
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)


Handler = Callable[[Channel], Awaitable[None]]


@dataclass
class Bound:
    """A listening socket: what was asked for and where it really listens."""

    spec: ListenerSpec
    port: int
    server: asyncio.base_events.Server | None = None


@dataclass
class Server:
    """Listeners and sessions of one lab, served from a background thread."""

    log: LogBook
    handlers: dict[str, Handler]
    tls_contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    tls_errors: dict[str, str] = field(default_factory=dict)
    transcripts: list[Transcript] = field(default_factory=list)
    max_transcripts: int = 1000
    bound: list[Bound] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _sessions: set[asyncio.Task[Any]] = field(default_factory=set)

    # -- lifecycle (called from the user's thread) ------------------------------

    def start(self, specs: list[ListenerSpec]) -> None:
        """Bind every listener, then serve in the background; raises OSError on bind failure."""
        if self._loop is not None:
            raise RuntimeError("server already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready: list[BaseException | None] = []
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind_all(specs))
                ready.append(None)
            except BaseException as exc:  # reported to the caller below
                ready.append(exc)
            started.set()
            if ready[0] is None:
                loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="labserver", daemon=True)
        self._thread.start()
        started.wait()
        if ready[0] is not None:
            self._thread.join()
            self._loop = None
            raise ready[0]

    def stop(self) -> None:
        """Close the listeners, end every session, stop the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            fut.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def call(self, coro: Awaitable[Any], timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop from another thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    async def rebind(self, specs: list[ListenerSpec]) -> None:
        """Replace the listeners (on reload); sessions already open keep running."""
        await self._close_listeners()
        await self._bind_all(specs)

    # -- inside the loop -------------------------------------------------------

    async def _bind_all(self, specs: list[ListenerSpec]) -> None:
        bound: list[Bound] = []
        try:
            for spec in specs:
                # Implicit TLS (imaps, pop3s): the handshake happens in _accept_tls, so that a
                # failed one is logged as Dovecot's login process logs it.
                family = socket.AF_INET6 if ":" in spec.address else socket.AF_INET
                if spec.ssl:
                    loop = asyncio.get_running_loop()
                    server = await loop.create_server(
                        lambda s=spec: _TLSPending(self, s), host=spec.address,
                        port=spec.port, reuse_address=True, family=family)
                else:
                    server = await asyncio.start_server(
                        lambda r, w, s=spec: self._accept(r, w, s),
                        host=spec.address, port=spec.port, reuse_address=True, family=family)
                port = server.sockets[0].getsockname()[1]
                bound.append(Bound(spec, port, server))
        except BaseException:
            for b in bound:
                if b.server is not None:
                    b.server.close()
            raise
        self.bound = bound

    async def _close_listeners(self) -> None:
        for b in self.bound:
            if b.server is not None:
                b.server.close()
                with contextlib.suppress(Exception):
                    await b.server.wait_closed()
        self.bound = []

    async def _shutdown(self) -> None:
        for b in self.bound:
            if b.server is not None:
                b.server.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=5)
        self.bound = []

    async def _accept_tls(self, transport: asyncio.BaseTransport, spec: ListenerSpec) -> None:
        """Implicit TLS (imaps, pop3s): the handshake, then the session; a failed handshake
        is logged as Dovecot's login process logs it."""
        from ..tls.errors import handshake_failure

        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        context = self.tls_contexts.get(spec.protocol)
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        error = None
        if context is None and spec.protocol in self.tls_errors:
            self.log.error(f"{spec.protocol}-login: ",
                           f"{self.tls_errors[spec.protocol]}: user=<>, rip={peer[0]}, "
                           f"lip={sock[0]}, session=<{new_session_id()}>")
            transport.close()
            return
        if context is None:
            error = "Connection closed: SSL is not available for this protocol"
            transport.close()
        else:
            # loop.start_tls(), but with call_connection_made=True: the session's
            # protocol must be connected before the first bytes after the handshake arrive
            # (clients such as openssl s_client send them with their Finished message).
            waiter = loop.create_future()
            ssl_protocol = sslproto.SSLProtocol(loop, protocol, context, waiter,
                                                server_side=True, ssl_handshake_timeout=30,
                                                call_connection_made=True)
            transport.set_protocol(ssl_protocol)
            ssl_protocol.connection_made(transport)
            transport.resume_reading()  # type: ignore[attr-defined]
            try:
                await waiter
            except (ConnectionError, ssl.SSLError, OSError, TimeoutError) as exc:
                error = handshake_failure(exc)
                transport.close()
        if error is not None:
            # with verbose_ssl (the only debug output of the login processes) Dovecot's
            # ssl-iostream also logs the error itself, when it happens and when the
            # connection is closed
            ssl_error = f"SSL error: {error.removeprefix('Connection closed: ')}"
            self.log.log(f"{spec.protocol}-login: ", "Debug", ssl_error)
            self.log.info(f"{spec.protocol}-login: ",
                          f"Disconnected: {error} (no auth attempts in 0 secs): user=<>, "
                          f"rip={peer[0]}, lip={sock[0]}, TLS handshaking: "
                          f"{error.removeprefix('Connection closed: ')}, "
                          f"session=<{new_session_id()}>")
            self.log.log(f"{spec.protocol}-login: ", "Debug", ssl_error)
            return
        tls = ssl_protocol._get_app_transport()
        writer = asyncio.StreamWriter(tls, protocol, reader, loop)
        await self._accept(reader, writer, spec)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      spec: ListenerSpec) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        sock = writer.get_extra_info("sockname") or ("?", 0)
        transcript = Transcript(session=new_session_id(), protocol=spec.protocol,
                                remote=f"{peer[0]}:{peer[1]}", local=f"{sock[0]}:{sock[1]}",
                                tls=spec.ssl)
        self.transcripts.append(transcript)
        if len(self.transcripts) > self.max_transcripts:
            del self.transcripts[0]
        channel = Channel(reader, writer, spec, transcript, sock[0], sock[1], peer[0], peer[1],
                          tls=spec.ssl)
        try:
            await self.handlers[spec.protocol](channel)
        except asyncio.CancelledError:
            pass
        except Exception:  # a session's crash must never take the server down
            self.log.error(f"{spec.protocol}: ", "Panic: session crashed: "
                           + traceback.format_exc().strip().replace("\n", " | "))
        finally:
            # a second cancel (the lab stopping) must not end the task as cancelled:
            # asyncio's stream callback would then log a traceback for it
            with contextlib.suppress(asyncio.CancelledError):
                await channel.close()
            self._sessions.discard(task)


class _TLSPending(asyncio.Protocol):
    """Holds a new implicit-TLS connection, not reading, until the handshake starts."""

    def __init__(self, server: Server, spec: ListenerSpec) -> None:
        self.server, self.spec = server, spec

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.pause_reading()  # type: ignore[attr-defined]
        task = asyncio.ensure_future(self.server._accept_tls(transport, self.spec))
        self.server._sessions.add(task)
        task.add_done_callback(self.server._sessions.discard)
