"""The loop that drives a protocol engine for one connection, shared by IMAP and POP3.

Both engines are sans-I/O and speak the same events (``SendData``, ``LogLine``,
``Close``, ``StartTLS``, ``AuthRequest``, ``AuthResponse``, ``AuthCancelled``); this
class turns them into socket writes, TLS upgrades, SASL exchanges with the auth
layer and log lines. The protocol handlers say only what differs: how to wait for
the client, how a failed SASL exchange is answered, and what a logged-in session
gets from the storage.
"""

from __future__ import annotations

import asyncio
import os
from types import ModuleType
from typing import Any

from ..auth import AuthResult
from ..auth.request import sanitize
from ..auth.sasl import Challenge, Credentials, Failure
from ..pop3._logformat import login_log_message
from .context import SESSION_PROTOCOL, LabContext
from .server import Channel


class SessionDriver:
    """One connection: ``events`` is the engine's module (its event classes)."""

    protocol = ""
    TLS_FAILED = b""
    AUTH_BROKEN = b""
    events: ModuleType

    def __init__(self, ch: Channel, ctx: LabContext, conn: Any) -> None:
        self.ch, self.ctx, self.conn = ch, ctx, conn
        self.user: str | None = None
        # auth_ssl_username_from_cert: the name every mechanism's user is replaced with
        self.cert_user: str | None = None

    # -- what a protocol says -------------------------------------------------

    async def tls_failed(self, error: str | None) -> None:
        """STARTTLS accepted but TLS cannot start: Dovecot's reply and log lines."""
        ch, sid = self.ch, self.conn.session_id
        where = f"user=<>, rip={ch.remote_ip}, lip={ch.local_ip}, session=<{sid}>"
        prefix = f"{self.protocol}-login: "
        if error:
            self.ctx.log.error(prefix, f"{error}: {where}")
        await ch.send(self.TLS_FAILED)
        self.ctx.log.info(prefix, "Disconnected: TLS initialization failed. "
                          f"(no auth attempts in 0 secs): {where}")

    async def read(self) -> bytes | None:
        """The client's next bytes; None when a timeout or a poll was handled instead."""
        raise NotImplementedError

    def drained(self) -> bool:
        """True when the engine can have no more log lines to give."""
        return False

    async def sasl_failed(self, failure: Failure) -> None:
        if failure.code not in ("aborted", "invalid_base64"):
            await asyncio.sleep(self.ctx.failure_delay(self.protocol))
        # the fail code decides the disconnect reason ("sent invalid base64 in response");
        # a cancel is the client's own doing and has none
        code = None if failure.code == "aborted" else failure.code
        await self.ch.send(self.conn.auth_failed(failure.reply, code=code, user=failure.user))

    async def start_session(self, result: AuthResult, user: str) -> bool:
        """Open the user's mail and answer the login; False if the session cannot start."""
        raise NotImplementedError

    # -- the shared loop --------------------------------------------------------

    async def auth_broken(self) -> None:
        """The auth process cannot start (``auth_mechanisms`` it refuses): the greeting
        waits for it, then the client is told so and disconnected, as by Dovecot."""
        waited = await self.ctx.auth_process_start()
        conn = self.conn
        message = ("Disconnected: Auth process broken (disconnected before auth was ready, "
                   f"waited {round(waited)} secs)")
        self.ctx.log.info(f"{self.protocol}-login: ", login_log_message(
            message, conn._login_values(), conn.settings.login_log_format_elements,
            conn.settings.login_log_format))
        await self.ch.send(self.AUTH_BROKEN)

    async def run(self) -> None:
        ev, ch, ctx, conn = self.events, self.ch, self.ctx, self.conn
        if ctx.auth_fatal is not None:
            await self.auth_broken()
            return
        await ch.send(conn.start())
        mech = None
        request = None
        try:
            while True:
                event = conn.next_event()
                waiting = event is ev.NEED_DATA or event is ev.PAUSED
                if waiting and ch.closed:
                    # The client went away while replies were being written.
                    conn.receive_data(b"")
                    self._drain_logs()
                    break
                if waiting:
                    data = await self.read()
                    if data is None:
                        continue
                    conn.receive_data(data)
                    if not data:
                        self._drain_logs()
                        break
                    continue
                if isinstance(event, ev.SendData):
                    await ch.send(event.data)
                elif isinstance(event, ev.LogLine):
                    ctx.log.log(event.prefix, event.level, event.message)
                elif isinstance(event, ev.Close):
                    break
                elif isinstance(event, ev.StartTLS):
                    context = ctx.tls(self.protocol)
                    if context is None:
                        await self.tls_failed(ctx.tls_errors.get(self.protocol))
                        break
                    if not await ch.start_tls(context):
                        break
                    await ch.send(conn.tls_started())
                elif isinstance(event, ev.AuthRequest):
                    request = event
                    cert = ctx.client_cert(ch.ssl_object())
                    refusal = ctx.cert_refusal(
                        cert, protocol=self.protocol, mech=event.mechanism,
                        local_ip=ch.local_ip, remote_ip=ch.remote_ip,
                        session=event.session_id, secured=event.secured)
                    if refusal is not None:
                        mech = None
                        await self.sasl_failed(refusal)
                        continue
                    cert_user = self.cert_user = ctx.cert_username(cert)
                    if event.username is not None and event.password is not None:
                        await self._login(cert_user or event.username, event.password,
                                          event.mechanism, event)
                        continue
                    mech, first = ctx.start_sasl(
                        event.mechanism, event.initial_response, protocol=self.protocol,
                        local_ip=ch.local_ip, remote_ip=ch.remote_ip,
                        session=event.session_id, secured=event.secured,
                        apop_challenge=getattr(event, "apop_challenge", None),
                        cert_username=cert_user)
                    if mech is not None:
                        first = await ctx.sasl_resolve(mech, first)
                    await self._sasl_step(first, event)
                elif isinstance(event, ev.AuthResponse) and mech is not None and request:
                    await self._sasl_step(await ctx.sasl_continue(mech, event.data), request)
                elif isinstance(event, ev.AuthCancelled):
                    mech = None
        finally:
            if self.user is not None:
                ctx.leave(self.protocol, self.user, ch.remote_ip)

    def _drain_logs(self) -> None:
        ev = self.events
        while not self.drained():
            event = self.conn.next_event()
            if isinstance(event, ev.LogLine):
                self.ctx.log.log(event.prefix, event.level, event.message)
            elif event is ev.NEED_DATA or event is ev.PAUSED or isinstance(event, ev.Close):
                return

    async def _sasl_step(self, event: object, request: Any) -> None:
        if isinstance(event, Challenge):
            await self.ch.send(self.conn.auth_continue(event.base64.encode()))
        elif isinstance(event, Failure):
            await self.sasl_failed(event)
        elif isinstance(event, AuthResult):
            await self._logged_in(event, event.user or "")
        else:
            assert isinstance(event, Credentials)
            await self._login(self.cert_user or event.authcid, event.password,
                              request.mechanism, request, authzid=event.authzid)

    async def _login(self, username: str, password: str | bytes, mech: str, request: Any,
                     authzid: str = "") -> None:
        ch = self.ch
        result = await self.ctx.authenticate(
            username, password, protocol=self.protocol, local_ip=ch.local_ip,
            remote_ip=ch.remote_ip, session=request.session_id, mech=mech,
            secured=request.secured, authzid=authzid)
        await self._logged_in(result, username)

    async def _logged_in(self, result: AuthResult, username: str) -> None:
        """The end of a login: the failure reply, or the session with its storage."""
        ch, ctx, conn = self.ch, self.ctx, self.conn
        if not result.success or result.user is None:
            await asyncio.sleep(ctx.failure_delay(self.protocol))
            # the login process logs the name the auth process sent back (formatted by
            # auth_username_format), sanitized and cut at 80 bytes
            name = result.user or username
            await ch.send(conn.auth_failed(result.reason,
                                           user=sanitize(name, 80) if name else None))
            return
        user = result.user
        limit = ctx.enter(self.protocol, user, ch.remote_ip)
        if limit is not None:
            await ch.send(conn.too_many_connections(limit))
            return
        SESSION_PROTOCOL.set(self.protocol)
        if not await self.start_session(result, user):
            ctx.leave(self.protocol, user, ch.remote_ip)
            return
        self.user = user

    @property
    def mail_pid(self) -> int:
        return os.getpid()
