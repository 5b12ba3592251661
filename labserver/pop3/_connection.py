"""The facade: one ``Pop3Connection`` per client, chaining pop3-login and pop3.

The service layer drives it with three verbs and a few answers::

    conn = Pop3Connection(settings, local_ip=..., remote_ip=..., ...)
    sock.sendall(conn.start())                  # the greeting
    conn.receive_data(sock.recv(4096))          # b"" when the peer closed
    while (event := conn.next_event()) not in (NEED_DATA, PAUSED):
        ...                                      # SendData, AuthRequest, LogLine, Close...

Answers the service gives, each returning bytes to send before it handles any
further event: ``auth_continue(challenge)``, ``auth_succeeded(user, mailbox)``,
``auth_failed(reason, code=..., user=...)``, ``mail_starting(user)`` (the login is
logged while the mail process still waits), ``session_failed(kind)``,
``too_many_connections()``, ``tls_started()``, ``tls_failed(reason)``,
``timed_out()`` and ``shutdown()``. After any of them, call ``next_event()`` again:
it may hold log lines, a ``Close``, or replies to commands the client pipelined.

Replies the engine can give by itself are coalesced: all replies to the commands
in one packet come out as a single ``SendData``, as Dovecot corks its output.

Bytes that arrive between ``STLS`` and the end of the TLS handshake are dropped
by ``tls_started()``: they were sent in plaintext and must not be read as if they
had been protected (the STARTTLS command-injection problem).
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

from labserver.engine_core import EngineCore

from ._events import (
    NEED_DATA,
    PAUSED,
    Close,
    Event,
    LocalProtocolError,
    LogLine,
    SendData,
)
from ._logformat import login_log_message, login_values, mail_log_prefix, session_id
from ._login import OK, Login, format_reply
from ._session import Session
from ._settings import Pop3Settings
from ._state import TRANSITIONS, WAITING_FOR_SERVICE, State

# login-common: CLIENT_LOGIN_TIMEOUT_MSECS (MASTER_LOGIN_TIMEOUT_SECS); pop3-client.c
LOGIN_TIMEOUT_SECS = 3 * 60
IDLE_TIMEOUT_SECS = 10 * 60
# lib-storage/mail-error.h
CRITICAL_MSG = "Internal error occurred. Refer to server log for more information."

_connect_uids = itertools.count(1)


class SessionFailure(Enum):
    """Why the mail session could not start after a successful authentication."""

    LOCKED = "-ERR [IN-USE] Mailbox is locked by another POP3 session."
    LOCK_ERROR = "-ERR [SYS/TEMP] Failed to create POP3 session lock."
    INTERNAL = "-ERR " + CRITICAL_MSG
    STORAGE = "-ERR [SYS/TEMP] Couldn't sync mailbox."


class Pop3Connection(EngineCore):
    """The POP3 protocol engine for one client connection. See the module docstring."""

    TRANSITIONS = TRANSITIONS
    CLOSED = State.CLOSED
    PROTOCOL_ERROR = LocalProtocolError
    SEND_DATA = SendData

    def __init__(self, settings: Pop3Settings | None = None, *,
                 local_ip: str = "127.0.0.1", local_port: int = 110,
                 remote_ip: str = "127.0.0.1", remote_port: int = 0,
                 tls: bool = False, tls_available: bool | None = None,
                 secured: bool | None = None, session_id: str | None = None,
                 hostname: str | None = None, pid: int | None = None,
                 clock: Callable[[], float] = time.time,
                 apop_challenge: str | None = None) -> None:
        self.settings = settings if settings is not None else Pop3Settings()
        self.local_ip, self.local_port = local_ip, local_port
        self.remote_ip, self.remote_port = remote_ip, remote_port
        self.tls = tls
        self.tls_available = (self.settings.ssl != "no" if tls_available is None
                              else tls_available)
        self.trusted = self._in_trusted_networks(remote_ip)
        # login-common client_alloc(): trusted, or the same address at both ends.
        self.secured = (tls or self.trusted or remote_ip == local_ip
                        if secured is None else secured)
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.pid = str(pid if pid is not None else os.getpid())
        self._clock = clock
        self.created = clock()
        self.last_input = self.created
        self.session_id = session_id or _make_session_id(
            self.created, remote_ip, remote_port)
        self.state = State.NEW
        self.virtual_user: str | None = None
        self.auth_mech_name: str | None = None
        self.mail_pid = ""
        self.login_logged = False  # pop3-login's "Login:" line is written
        self.tls_security = ""
        self.reply_command = ""  # the command being answered (Pop3Settings.replies)
        self._apop_challenge = apop_challenge
        self._inbuf = bytearray()
        self._out = bytearray()
        self._events: deque[Event] = deque()
        self._eof = False
        self._direct = False  # inside a service call: bytes go to its return value
        self.login = Login(self)
        self.session: Session | None = None

    # ---- the three verbs -------------------------------------------------------

    def start(self) -> bytes:
        """The greeting (pop3-login ``pop3_client_notify_auth_ready``)."""
        self._transition("start")
        text = ("[XCLIENT] " if self.trusted else "") + self.settings.login_greeting
        if "APOP" in self.settings.auth_mechanisms:
            challenge = self._apop_challenge or self._make_apop_challenge()
            self.login.apop_challenge = challenge
            text += " " + challenge
        return format_reply(OK, text)

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the client; ``b""`` means the client closed its side."""
        if self._eof:
            if data:
                raise LocalProtocolError("receive_data() after the peer closed")
            return
        if self.state is State.CLOSED:
            return
        if not data:
            self._eof = True
            return
        self.last_input = self._clock()
        self._inbuf += data

    def next_event(self) -> Event | object:
        """The next event, ``NEED_DATA`` or ``PAUSED``."""
        if self.state is State.NEW:
            raise LocalProtocolError("call start() first")
        while True:
            if self._events:
                return self._events.popleft()
            if self.state is State.CLOSED:
                raise LocalProtocolError("the connection is closed")
            if self.state in WAITING_FOR_SERVICE:
                self._flush()
                if self._events:
                    continue
                return PAUSED
            if self._step():
                continue
            if self._eof:
                self._peer_closed()
                continue
            self._flush()
            if self._events:
                continue
            return NEED_DATA

    # ---- answers from the service ---------------------------------------------

    def auth_continue(self, challenge: bytes) -> bytes:
        """Send a SASL challenge (base64 text) and wait for the client's line."""
        with self._call("auth_continue"):
            self._reply(b"+ " + challenge + b"\r\n")
        return self._take()

    def auth_failed(self, reason: str | None = None, *, code: str | None = None,
                    user: str | None = None) -> bytes:
        """The auth service said no; ``code`` is its fail code (``temp_fail``...)."""
        with self._call("auth_failed"):
            if user is not None:
                self.virtual_user = user
            self.login.fail(code, reason)
        return self._take()

    def auth_succeeded(self, user: str, mailbox: Any, *, mail_pid: int | None = None
                       ) -> bytes:
        """Log in ``user`` on ``mailbox`` (an opened INBOX, already session-locked
        when ``pop3_lock_session`` is set). Returns ``+OK Logged in.``."""
        with self._call("auth_succeeded"):
            self._logged_in(user, mail_pid)
            self._reply(b"+OK Logged in.\r\n")
            try:
                self.session = Session(self, user, mailbox, self._mail_prefix(user),
                                       self._user_values(user))
            except Exception as exc:  # noqa: BLE001 - storage failure at INBOX init
                self._reply(SessionFailure.STORAGE.value.encode() + b"\r\n")
                self._mail_disconnect(user, f"Couldn't init INBOX: {exc}")
            else:
                self.session.output_bytes = len(b"+OK Logged in.\r\n")
        return self._take()

    def mail_starting(self, user: str, *, mail_pid: int | None = None) -> bytes:
        """pop3-login has handed the client to the mail process and logged ``Login:``;
        the mail process may still wait (``pop3_lock_session``) before the service
        answers with ``auth_succeeded`` or ``session_failed``."""
        with self._call("mail_starting"):
            self._logged_in(user, mail_pid)
        return self._take()

    def session_failed(self, kind: SessionFailure, detail: str = "", *,
                       user: str | None = None, mail_pid: int | None = None) -> bytes:
        """Authentication succeeded but the mail session cannot start.

        pop3/main.c ``client_init_session``: with ``pop3_lock_session`` the namespaces
        (``INTERNAL``: the mail location) and the lock come before ``+OK Logged in.``,
        without it after, and a namespace failure then adds nothing to the ``+OK``.
        INBOX (``STORAGE``) is opened last, always after the ``+OK``."""
        with self._call("session_failed"):
            user = user or self.virtual_user or ""
            self._logged_in(user, mail_pid)
            late = kind is SessionFailure.INTERNAL and not self.settings.pop3_lock_session
            if kind is SessionFailure.STORAGE or late:
                self._reply(b"+OK Logged in.\r\n")
            if not late:
                self._reply(kind.value.encode() + b"\r\n")
            reason = {SessionFailure.LOCKED: "Couldn't lock POP3 session",
                      SessionFailure.LOCK_ERROR: "Couldn't lock POP3 session"}.get(
                kind, detail or "Internal error")
            if kind is not SessionFailure.LOCKED and detail:
                self._log(self._mail_prefix(user), "Error", detail)
            self._mail_disconnect(user, reason)
        return self._take()

    def too_many_connections(self, limit: int | None = None) -> bytes:
        """``mail_max_userip_connections`` reached (login-common anvil check): Dovecot
        2.3.19's pop3-login answers ``-ERR [IN-USE] ...`` and disconnects."""
        with self._call("too_many_connections"):
            limit = self.settings.mail_max_userip_connections if limit is None else limit
            text = ("Maximum number of connections from user+IP exceeded "
                    f"(mail_max_userip_connections={limit})")
            self._reply(f"-ERR [IN-USE] {text}\r\n".encode())
            self._log_login(f"Disconnected: {text}")
            self._close(text)
        return self._take()

    def tls_started(self, security: str = "") -> bytes:
        """The TLS handshake after STLS succeeded; the session is now secured."""
        with self._call("tls_started"):
            self.tls = True
            self.secured = True
            self.tls_security = security
            self._inbuf.clear()
        return self._take()

    def tls_failed(self, reason: str = "TLS handshaking failed") -> bytes:
        with self._call("tls_failed"):
            self._login_destroy(reason)
        return self._take()

    def timed_out(self) -> bytes:
        """The deadline passed: disconnect as Dovecot's timeouts do."""
        with self._call("timed_out"):
            if self.session is not None:
                self.session.send("-ERR Disconnected for inactivity.")
                secs = int(self._now() - self.last_input)
                self.session.disconnect(f"Inactivity - no input for {secs} secs")
            elif self.state is State.AUTHENTICATING:
                self._reply(format_reply(
                    "ERROR", "Disconnected for inactivity during authentication."))
                self._login_destroy("Inactivity during authentication")
            else:
                self._reply(format_reply("ERROR", "Disconnected for inactivity."))
                self._login_destroy("Inactivity")
        return self._take()

    def shutdown(self) -> bytes:
        """The server is stopping."""
        with self._call("shutdown"):
            if self.session is not None:
                self.session.send("-ERR [SYS/TEMP] Server shutting down.")
                self.session.disconnect("Server shutting down.")
            else:
                self._login_destroy("Server shutting down")
        return self._take()

    def deadline(self) -> float | None:
        """When ``timed_out()`` is due (clock time), or None once closed."""
        if self.state is State.CLOSED or self.state is State.NEW:
            return None
        if self.session is not None:
            return self.last_input + IDLE_TIMEOUT_SECS
        return self.created + LOGIN_TIMEOUT_SECS

    # ---- internals used by the two halves ---------------------------------------

    def _now(self) -> float:
        return self._clock()

    def _local_time(self, fmt: str) -> str:
        return time.strftime(fmt, time.localtime(self._clock()))

    def _step(self) -> bool:
        if self.state is State.AUTHORIZATION:
            return self.login.step()
        if self.state is State.SASL_CONTINUE:
            return self.login.sasl_step()
        if self.state is State.TRANSACTION and self.session is not None:
            return self.session.step()
        return False

    def _peer_closed(self) -> None:
        if self.session is not None:
            self.session.connection_lost()
        else:
            self._login_destroy("Connection closed")

    def _reply(self, data: bytes) -> None:
        if self.state is State.CLOSED:
            return
        if self.settings.replies:
            data = self.settings.replies.reword_bytes(data, self.reply_command)
        self._out += data
        if self.session is not None:
            self.session.output_bytes += len(data)

    def _emit(self, event: Event) -> None:
        self._flush()
        if type(event) in TRANSITIONS[self.state]:
            self._transition(type(event))
        self._events.append(event)

    def _close(self, reason: str) -> None:
        self._emit(Close(reason))
        self.state = State.CLOSED

    def _log(self, prefix: str, level: str, message: str) -> None:
        self._flush()
        self._events.append(LogLine(prefix, level, message))

    def _login_values(self) -> dict[str, str]:
        if not self.tls:
            secured = "secured" if self.secured else ""
        else:
            secured = "TLS"
        return login_values(
            user=self.virtual_user, mech=self.auth_mech_name, lip=self.local_ip,
            rip=self.remote_ip, lport=self.local_port, rport=self.remote_port,
            pid=self.pid, secured=secured, ssl_security=self.tls_security,
            mail_pid=self.mail_pid, session=self.session_id,
            home=os.environ.get("HOME", ""))

    def _log_login(self, message: str) -> None:
        text = login_log_message(message, self._login_values(),
                                 self.settings.login_log_format_elements,
                                 self.settings.login_log_format)
        self._log("pop3-login: ", "Info", text)

    def _login_destroy(self, reason: str) -> None:
        """login-common ``client_destroy`` before login: log, then close."""
        extra = self.login.extra_disconnect_reason()
        self._log_login(f"Disconnected: {reason} {extra}" if extra else
                        f"Disconnected: {reason}")
        self._close(reason)

    def _logged_in(self, user: str, mail_pid: int | None) -> None:
        if self.login_logged:
            return
        self.login_logged = True
        self.virtual_user = user
        self.mail_pid = str(mail_pid) if mail_pid is not None else self.pid
        self._log_login("Login")

    def _mail_prefix(self, user: str) -> str:
        return mail_log_prefix(self.settings.mail_log_prefix, user=user,
                               pid=self.mail_pid or self.pid, session=self.session_id,
                               lip=self.local_ip, rip=self.remote_ip)

    def _user_values(self, user: str) -> dict[str, str]:
        username, _, domain = user.partition("@")
        return {"user": user, "username": username, "domain": domain, "service": "pop3",
                "lip": self.local_ip, "rip": self.remote_ip, "pid": self.mail_pid,
                "session": self.session_id}

    def _mail_disconnect(self, user: str, reason: str) -> None:
        stats = self.settings.pop3_logout_format
        from ._logformat import logout_stats

        zero = {"top_bytes": "0", "top_count": "0", "retr_bytes": "0", "retr_count": "0",
                "deleted_count": "0", "message_count": "0", "message_bytes": "0",
                "input": "0", "output": "0", "uidl_change": "", "deleted_bytes": "0"}
        text = logout_stats(stats, zero, self._user_values(user))
        self._log(self._mail_prefix(user), "Info", f"Disconnected: {reason} {text}")
        self._close(reason)

    def _in_trusted_networks(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.settings.login_trusted_networks
                   if net.version == address.version)

    def _set_remote_ip(self, value: str) -> bool:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
        self.remote_ip = value
        return True

    def _make_apop_challenge(self) -> str:
        """pop3-login ``get_apop_challenge``: ``<pid.connect-uid.time.random@host>``."""
        rand = base64.b64encode(secrets.token_bytes(16)).decode("ascii")
        return (f"<{int(self.pid):x}.{next(_connect_uids):x}.{int(self.created):x}."
                f"{rand}@{self.hostname}>")


def _make_session_id(now: float, remote_ip: str, remote_port: int) -> str:
    return session_id(int(now * 1_000_000), remote_ip, remote_port)
