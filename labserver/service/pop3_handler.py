"""Drives the POP3 engine for one connection: auth, storage, TLS, limits, logs."""

from __future__ import annotations

import asyncio
import os
import socket

from ..auth import AuthResult
from ..auth.sasl import Challenge, Credentials, Failure
from ..pop3 import (
    NEED_DATA,
    PAUSED,
    AuthCancelled,
    AuthRequest,
    AuthResponse,
    Close,
    LogLine,
    Pop3Connection,
    Pop3Settings,
    SendData,
    SessionFailure,
    StartTLS,
)
from ..storage.model import StorageError
from .context import LabContext
from .server import Channel

IDLE_TIMEOUT = 600.0


async def serve_pop3(ch: Channel, ctx: LabContext) -> None:
    """Run one POP3 session until the client quits or the connection breaks."""
    cfg = ctx.config
    secured = ctx.secured(ch.local_ip, ch.remote_ip, ch.tls, "pop3")
    conn = Pop3Connection(
        Pop3Settings.from_config(cfg, local=ch.local_ip, remote=ch.remote_ip),
        local_ip=ch.local_ip, local_port=ch.local_port, remote_ip=ch.remote_ip,
        remote_port=ch.remote_port, tls=ch.tls, tls_available=ctx.tls("pop3") is not None,
        secured=secured, session_id=ch.transcript.session, hostname=socket.gethostname(),
        pid=os.getpid())
    await ch.send(conn.start())
    mech = None
    request: AuthRequest | None = None
    user: str | None = None
    try:
        while True:
            event = conn.next_event()
            if (event is NEED_DATA or event is PAUSED) and ch.closed:
                # The client went away while replies were being written.
                conn.receive_data(b"")
                _drain_logs(conn, ctx)
                break
            if event is NEED_DATA or event is PAUSED:
                try:
                    data = await asyncio.wait_for(ch.read(), IDLE_TIMEOUT)
                except TimeoutError:
                    await ch.send(conn.timed_out())
                    continue
                conn.receive_data(data)
                if not data:
                    _drain_logs(conn, ctx)
                    break
                continue
            if isinstance(event, SendData):
                await ch.send(event.data)
            elif isinstance(event, LogLine):
                ctx.log.log(event.prefix, event.level, event.message)
            elif isinstance(event, Close):
                break
            elif isinstance(event, StartTLS):
                context = ctx.tls("pop3")
                if context is None or not await ch.start_tls(context):
                    break
                await ch.send(conn.tls_started())
            elif isinstance(event, AuthRequest):
                request = event
                if event.username is not None and event.password is not None:
                    user = await _login(ch, ctx, conn, event.username, event.password,
                                        event.mechanism, event)
                    continue
                mech, first = ctx.start_sasl(
                    event.mechanism, event.initial_response, protocol="pop3",
                    local_ip=ch.local_ip, remote_ip=ch.remote_ip, session=event.session_id,
                    secured=event.secured, apop_challenge=event.apop_challenge)
                if mech is not None:
                    first = await ctx.sasl_resolve(mech, first)
                user = await _sasl_step(ch, ctx, conn, first, event)
            elif isinstance(event, AuthResponse) and mech is not None and request is not None:
                user = await _sasl_step(ch, ctx, conn, await ctx.sasl_continue(mech, event.data),
                                        request)
            elif isinstance(event, AuthCancelled):
                mech = None
    finally:
        if user is not None:
            ctx.leave("pop3", user, ch.remote_ip)


def _drain_logs(conn: Pop3Connection, ctx: LabContext) -> None:
    while True:
        event = conn.next_event()
        if isinstance(event, LogLine):
            ctx.log.log(event.prefix, event.level, event.message)
        elif event is NEED_DATA or event is PAUSED or isinstance(event, Close):
            return


async def _sasl_step(ch: Channel, ctx: LabContext, conn: Pop3Connection, event: object,
                     request: AuthRequest) -> str | None:
    if isinstance(event, Challenge):
        await ch.send(conn.auth_continue(event.base64.encode()))
        return None
    if isinstance(event, Failure):
        await asyncio.sleep(ctx.failure_delay("pop3"))
        await ch.send(conn.auth_failed(event.reply))
        return None
    if isinstance(event, AuthResult):
        return await _logged_in(ch, ctx, conn, event, event.user or "")
    assert isinstance(event, Credentials)
    return await _login(ch, ctx, conn, event.authcid, event.password, request.mechanism,
                        request, authzid=event.authzid)


async def _login(ch: Channel, ctx: LabContext, conn: Pop3Connection, username: str,
                 password: str | bytes, mech: str, request: AuthRequest,
                 authzid: str = "") -> str | None:
    result = await ctx.authenticate(username, password, protocol="pop3", local_ip=ch.local_ip,
                                    remote_ip=ch.remote_ip, session=request.session_id,
                                    mech=mech, secured=request.secured, authzid=authzid)
    return await _logged_in(ch, ctx, conn, result, username)


async def _logged_in(ch: Channel, ctx: LabContext, conn: Pop3Connection, result: AuthResult,
                     username: str) -> str | None:
    """The end of a login: the failure reply, or the session with its storage."""
    if not result.success or result.user is None:
        await asyncio.sleep(ctx.failure_delay("pop3"))
        await ch.send(conn.auth_failed(result.reason, user=username or None))
        return None
    user = result.user
    limit = ctx.enter("pop3", user, ch.remote_ip)
    if limit is not None:
        await ch.send(conn.too_many_connections(limit))
        return None
    try:
        mailbox = ctx.storage_for(result).open("INBOX")
    except (StorageError, OSError) as exc:
        ctx.leave("pop3", user, ch.remote_ip)
        await ch.send(conn.session_failed(SessionFailure.STORAGE, str(exc)))
        return None
    await ch.send(conn.auth_succeeded(user, mailbox, mail_pid=os.getpid()))
    return user
