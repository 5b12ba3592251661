"""Drives the IMAP engine for one connection: auth, storage, TLS, limits, IDLE, logs.

The shared loop is ``session_driver``. While the client idles the handler looks at the
selected folder every ``IDLE_POLL`` seconds (``conn.poll()``), the lab's stand-in for
Dovecot's inotify watch, so a delivery by another session or an MDA shows up as
``* n EXISTS`` within that time.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

from ..auth import AuthResult
from ..auth.sasl import Failure
from ..imap import session as imap_session
from ..imap.session import ImapConnection, ImapSettings
from .context import LabContext
from .server import Channel
from .session_driver import SessionDriver

IDLE_POLL = 0.25


class ImapDriver(SessionDriver):
    protocol = "imap"
    TLS_FAILED = b"* BYE [UNAVAILABLE] TLS initialization failed.\r\n"
    AUTH_BROKEN = b"* BYE Auth process broken\r\n"
    events = imap_session

    async def read(self) -> bytes | None:
        ch, conn = self.ch, self.conn
        if conn.idling:
            try:
                return await asyncio.wait_for(ch.read(), IDLE_POLL)
            except TimeoutError:
                await ch.send(conn.poll())
                return None
        deadline = conn.deadline()
        wait = None if deadline is None else max(0.0, deadline - time.time())
        try:
            return await asyncio.wait_for(ch.read(), wait)
        except TimeoutError:
            await ch.send(conn.timed_out())
            return None

    def drained(self) -> bool:
        return self.conn.state.name == "CLOSED" and not self.conn._events

    async def sasl_failed(self, failure: Failure) -> None:
        if failure.code not in ("aborted", "invalid_base64"):
            await asyncio.sleep(self.ctx.failure_delay("imap"))
        await self.ch.send(self.conn.auth_failed(failure.reply, code=failure.code,
                                                 user=failure.user))

    async def start_session(self, result: AuthResult, user: str) -> bool:
        try:
            storage = self.ctx.storage_for(result)
        except Exception as exc:  # noqa: BLE001 - StorageError, OSError: the session can't start
            await self.ch.send(self.conn.session_failed(str(exc), user=user,
                                                        mail_pid=self.mail_pid))
            return False
        self.ch.transcript.user = user
        await self.ch.send(self.conn.auth_succeeded(user, storage, mail_pid=self.mail_pid))
        return True


async def serve_imap(ch: Channel, ctx: LabContext) -> None:
    """Run one IMAP session until the client logs out or the connection breaks."""
    conn = ImapConnection(
        ctx.personalize(ImapSettings.from_config(ctx.config, local=ch.local_ip,
                                                 remote=ch.remote_ip)),
        local_ip=ch.local_ip, local_port=ch.local_port, remote_ip=ch.remote_ip,
        remote_port=ch.remote_port, tls=ch.tls, tls_available=ctx.tls_offered("imap"),
        secured=ctx.secured(ch.local_ip, ch.remote_ip, ch.tls, "imap"),
        session_id=ch.transcript.session, hostname=socket.gethostname(), pid=os.getpid())
    await ImapDriver(ch, ctx, conn).run()
