"""Drives the POP3 engine for one connection (see ``session_driver``)."""

from __future__ import annotations

import asyncio
import os
import socket

from .. import pop3
from ..auth import AuthResult
from ..pop3 import Pop3Connection, Pop3Settings, SessionFailure
from ..storage.model import MailStorage, StorageError
from . import pop3_lock
from .context import LabContext
from .server import Channel
from .session_driver import SessionDriver

IDLE_TIMEOUT = 600.0


class Pop3Driver(SessionDriver):
    protocol = "pop3"
    TLS_FAILED = b"-ERR [SYS/TEMP] TLS initialization failed.\r\n"
    AUTH_BROKEN = b"-ERR Auth process broken\r\n"
    events = pop3
    session_lock: pop3_lock.SessionLock | None = None

    async def read(self) -> bytes | None:
        try:
            return await asyncio.wait_for(self.ch.read(), IDLE_TIMEOUT)
        except TimeoutError:
            await self.ch.send(self.conn.timed_out())
            return None

    async def start_session(self, result: AuthResult, user: str) -> bool:
        try:
            storage = self.ctx.storage_for(result)
        except (StorageError, OSError) as exc:  # the namespaces: mail_location
            await self.ch.send(self.conn.session_failed(SessionFailure.INTERNAL, str(exc),
                                                        user=user, mail_pid=self.mail_pid))
            return False
        if self.conn.settings.pop3_lock_session and not await self._lock(storage, user):
            return False
        try:
            mailbox = storage.open("INBOX")
        except (StorageError, OSError) as exc:
            self._unlock()
            await self.ch.send(self.conn.session_failed(SessionFailure.STORAGE, str(exc),
                                                        user=user, mail_pid=self.mail_pid))
            return False
        await self.ch.send(self.conn.auth_succeeded(user, mailbox, mail_pid=self.mail_pid))
        return True

    async def _lock(self, storage: MailStorage, user: str) -> bool:
        """Take the POP3 session lock before ``+OK Logged in.`` (see ``pop3_lock``)."""
        # pop3-login logs the login now; the mail process then waits for the lock.
        await self.ch.send(self.conn.mail_starting(user, mail_pid=self.mail_pid))
        self._drain_logs()
        try:
            self.session_lock = await pop3_lock.acquire(storage)
        except pop3_lock.LockCreateError as exc:
            await self.ch.send(self.conn.session_failed(
                SessionFailure.LOCK_ERROR, str(exc), user=user, mail_pid=self.mail_pid))
            return False
        if self.session_lock is None:
            await self.ch.send(self.conn.session_failed(SessionFailure.LOCKED, user=user,
                                                        mail_pid=self.mail_pid))
            return False
        return True

    def _unlock(self) -> None:
        if self.session_lock is not None:
            self.session_lock.release()
            self.session_lock = None

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self._unlock()


async def serve_pop3(ch: Channel, ctx: LabContext) -> None:
    """Run one POP3 session until the client quits or the connection breaks."""
    conn = Pop3Connection(
        ctx.personalize(Pop3Settings.from_config(ctx.config, local=ch.local_ip,
                                                 remote=ch.remote_ip)),
        local_ip=ch.local_ip, local_port=ch.local_port, remote_ip=ch.remote_ip,
        remote_port=ch.remote_port, tls=ch.tls, tls_available=ctx.tls_offered("pop3"),
        secured=ctx.secured(ch.local_ip, ch.remote_ip, ch.tls, "pop3"),
        session_id=ch.transcript.session, hostname=socket.gethostname(), pid=os.getpid())
    await Pop3Driver(ch, ctx, conn).run()
