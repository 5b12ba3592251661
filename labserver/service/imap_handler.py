"""Drives the IMAP engine for one connection: auth, storage, TLS, limits, IDLE, logs.

The same shape as ``pop3_handler``. While the client idles the handler looks at the
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
from ..auth.sasl import Challenge, Credentials, Failure
from ..imap.session import (
    NEED_DATA,
    PAUSED,
    AuthCancelled,
    AuthRequest,
    AuthResponse,
    Close,
    ImapConnection,
    ImapSettings,
    LogLine,
    SendData,
    StartTLS,
)
from .context import LabContext
from .server import Channel

IDLE_POLL = 0.25


async def serve_imap(ch: Channel, ctx: LabContext) -> None:
    """Run one IMAP session until the client logs out or the connection breaks."""
    cfg = ctx.config
    secured = ctx.secured(ch.local_ip, ch.remote_ip, ch.tls, "imap")
    conn = ImapConnection(
        ImapSettings.from_config(cfg, local=ch.local_ip, remote=ch.remote_ip),
        local_ip=ch.local_ip, local_port=ch.local_port, remote_ip=ch.remote_ip,
        remote_port=ch.remote_port, tls=ch.tls, tls_available=ctx.tls("imap") is not None,
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
                data = await _read(ch, conn)
                if data is None:
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
                context = ctx.tls("imap")
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
                    event.mechanism, event.initial_response, protocol="imap",
                    local_ip=ch.local_ip, remote_ip=ch.remote_ip, session=event.session_id,
                    secured=event.secured, apop_challenge=None)
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
            ctx.leave("imap", user, ch.remote_ip)


async def _read(ch: Channel, conn: ImapConnection) -> bytes | None:
    """The client's next bytes; None when a poll or a timeout was handled instead."""
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


def _drain_logs(conn: ImapConnection, ctx: LabContext) -> None:
    while conn.state.name != "CLOSED" or conn._events:
        event = conn.next_event()
        if isinstance(event, LogLine):
            ctx.log.log(event.prefix, event.level, event.message)
        elif event is NEED_DATA or event is PAUSED or isinstance(event, Close):
            return


async def _sasl_step(ch: Channel, ctx: LabContext, conn: ImapConnection, event: object,
                     request: AuthRequest) -> str | None:
    if isinstance(event, Challenge):
        await ch.send(conn.auth_continue(event.base64.encode()))
        return None
    if isinstance(event, Failure):
        if event.code not in ("aborted", "invalid_base64"):
            await asyncio.sleep(ctx.failure_delay("imap"))
        await ch.send(conn.auth_failed(event.reply, code=event.code))
        return None
    if isinstance(event, AuthResult):
        return await _logged_in(ch, ctx, conn, event, event.user or "")
    assert isinstance(event, Credentials)
    return await _login(ch, ctx, conn, event.authcid, event.password, request.mechanism,
                        request, authzid=event.authzid)


async def _login(ch: Channel, ctx: LabContext, conn: ImapConnection, username: str,
                 password: str | bytes, mech: str, request: AuthRequest,
                 authzid: str = "") -> str | None:
    result = await ctx.authenticate(username, password, protocol="imap", local_ip=ch.local_ip,
                                    remote_ip=ch.remote_ip, session=request.session_id,
                                    mech=mech, secured=request.secured, authzid=authzid)
    return await _logged_in(ch, ctx, conn, result, username)


async def _logged_in(ch: Channel, ctx: LabContext, conn: ImapConnection, result: AuthResult,
                     username: str) -> str | None:
    """The end of a login: the failure reply, or the session with its storage."""
    if not result.success or result.user is None:
        await asyncio.sleep(ctx.failure_delay("imap"))
        await ch.send(conn.auth_failed(result.reason, user=username or None))
        return None
    user = result.user
    limit = ctx.enter("imap", user, ch.remote_ip)
    if limit is not None:
        await ch.send(conn.too_many_connections(limit))
        return None
    try:
        storage = ctx.storage_for(result)
    except Exception as exc:  # noqa: BLE001 - StorageError, OSError: the session can't start
        ctx.leave("imap", user, ch.remote_ip)
        await ch.send(conn.session_failed(str(exc), user=user, mail_pid=os.getpid()))
        return None
    ch.transcript.user = user
    await ch.send(conn.auth_succeeded(user, storage, mail_pid=os.getpid()))
    return user
