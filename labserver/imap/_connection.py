"""The facade: one ``ImapConnection`` per client, chaining imap-login and imap.

The service layer drives it as it drives the POP3 engine::

    conn = ImapConnection(settings, local_ip=..., remote_ip=..., ...)
    sock.sendall(conn.start())                  # * OK [CAPABILITY ...] Dovecot ready.
    conn.receive_data(sock.recv(4096))          # b"" when the peer closed
    while (event := conn.next_event()) not in (NEED_DATA, PAUSED):
        ...                                      # SendData, AuthRequest, LogLine, Close...

Answers the service gives, each returning bytes to send: ``auth_continue(challenge)``,
``auth_succeeded(user, storage)``, ``auth_failed(reason, code=..., user=...)``,
``session_failed(detail)``, ``too_many_connections(limit)``, ``tls_started()``,
``tls_failed(reason)``, ``timed_out()``, ``shutdown()`` and, while the client idles,
``poll()`` (untagged updates from other sessions' changes). After any of them call
``next_event()`` again: it may hold replies to commands the client pipelined.

Replies to the commands of one packet come out as one ``SendData``, as Dovecot corks its
output. Bytes that arrive between STARTTLS and the end of the handshake are dropped by
``tls_started()`` (the STARTTLS command-injection problem). A client's input never raises:
whatever the reader or a command makes of it ends as a BAD or NO reply.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from labserver.config.varexpand import MAIL_USER_VARS, expand
from labserver.engine_core import EngineCore
from labserver.pop3._logformat import login_log_message, login_values, session_id

from . import _commands as c
from . import _responses as r
from ._events import (
    NEED_DATA,
    PAUSED,
    Close,
    LogLine,
    SendData,
    SessionEvent,
    SessionProtocolError,
)
from ._login import IMAP_LOGIN_MAX_LINE_LENGTH, Login
from ._reader import NEED_DATA as READER_NEED_DATA
from ._reader import CommandReader
from ._session import ID_DEFAULTS, Session
from ._settings import ImapSettings
from ._state import TRANSITIONS, WAITING_FOR_SERVICE, State

# login-common: CLIENT_LOGIN_TIMEOUT_MSECS; imap/imap-common.h CLIENT_IDLE_TIMEOUT_MSECS
LOGIN_TIMEOUT_SECS = 3 * 60
IDLE_TIMEOUT_SECS = 30 * 60
CRITICAL_MSG = "Internal error occurred. Refer to server log for more information."


class ImapConnection(EngineCore):
    """The IMAP protocol engine for one client connection. See the module docstring."""

    TRANSITIONS = TRANSITIONS
    CLOSED = State.CLOSED
    PROTOCOL_ERROR = SessionProtocolError
    SEND_DATA = SendData

    def __init__(self, settings: ImapSettings | None = None, *,
                 local_ip: str = "127.0.0.1", local_port: int = 143,
                 remote_ip: str = "127.0.0.1", remote_port: int = 0,
                 tls: bool = False, tls_available: bool | None = None,
                 secured: bool | None = None, session_id: str | None = None,
                 hostname: str | None = None, pid: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings if settings is not None else ImapSettings()
        self.local_ip, self.local_port = local_ip, local_port
        self.remote_ip, self.remote_port = remote_ip, remote_port
        self.tls = tls
        self.tls_started_once = False
        self.tls_available = (self.settings.ssl != "no" if tls_available is None
                              else tls_available)
        self.trusted = self._in_trusted_networks(remote_ip)
        self.secured = (tls or self.trusted or remote_ip == local_ip
                        if secured is None else secured)
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.pid = str(pid if pid is not None else os.getpid())
        self._clock = clock
        self.created = clock()
        self.last_input = self.created
        self.session_id = session_id or _make_session_id(self.created, remote_ip,
                                                         remote_port)
        self.state = State.NEW
        self.virtual_user: str | None = None
        self.auth_mech_name: str | None = None
        self.mail_pid = ""
        self.tls_security = ""
        self.reader = CommandReader(IMAP_LOGIN_MAX_LINE_LENGTH)
        self._out = bytearray()
        self._events: deque[SessionEvent] = deque()
        self._eof = False
        self._login_partial = 0  # bytes since the last line end, before login
        self._direct = False
        self.login = Login(self)
        self.session: Session | None = None

    # ---- the three verbs ----------------------------------------------------------

    def start(self) -> bytes:
        """The greeting (imap-login ``imap_client_notify_auth_ready``)."""
        self._transition("start")
        return self.login.greeting()

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the client; ``b""`` means the client closed its side."""
        if self._eof or self.state is State.CLOSED:
            return
        if not data:
            self._eof = True
            self.reader.receive_data(b"")
            return
        self.last_input = self._clock()
        if self.session is not None:
            self.session.input_bytes += len(data)
        elif self.state is State.NOT_AUTHENTICATED and self._login_buffer_full(data):
            return
        self.reader.receive_data(data)

    def _login_buffer_full(self, data: bytes) -> bool:
        """imap-login reads through a fixed input buffer (login-common ``client_read``):
        a line that outgrows it ends the connection with ``* BYE Input buffer full,
        aborting``, where imap would answer ``BAD ... Too long argument``."""
        lf = data.rfind(b"\n")
        self._login_partial = (len(data) - lf - 1 if lf >= 0
                               else self._login_partial + len(data))
        if self._login_partial <= IMAP_LOGIN_MAX_LINE_LENGTH:
            return False
        self.login.untagged("BYE Input buffer full, aborting")
        self._login_destroy("Input buffer full")
        return True

    def next_event(self) -> SessionEvent | object:
        """The next event, ``NEED_DATA`` or ``PAUSED``."""
        if self.state is State.NEW:
            raise SessionProtocolError("call start() first")
        while True:
            if self._events:
                return self._events.popleft()
            if self.state is State.CLOSED:
                raise SessionProtocolError("the connection is closed")
            if self.state in WAITING_FOR_SERVICE:
                self._flush()
                if self._events:
                    continue
                return PAUSED
            if self._step():
                continue
            self._flush()
            if self._events:
                continue
            return NEED_DATA

    # ---- answers from the service ---------------------------------------------------

    def auth_continue(self, challenge: bytes) -> bytes:
        """Send a SASL challenge (base64 text) and read the client's next line."""
        with self._call("auth_continue"):
            self._reply(b"+ " + challenge + b"\r\n")
            self.reader.expect_line()
        return self._take()

    def auth_failed(self, reason: str | None = None, *, code: str | None = None,
                    user: str | None = None) -> bytes:
        """The auth service said no; ``code`` is its fail code (``temp_fail``...)."""
        with self._call("auth_failed"):
            if user is not None:
                self.virtual_user = user
            self.login.fail(code, reason)
        return self._take()

    def auth_succeeded(self, user: str, storage: Any, *, mail_pid: int | None = None) -> bytes:
        """Log in ``user`` whose folders are ``storage`` (a ``MailStorage``)."""
        with self._call("auth_succeeded"):
            self._logged_in(user, mail_pid)
            self.reader.max_line_length = self.settings.imap_max_line_length
            self.session = Session(self, user, storage, self._mail_prefix(user),
                                   self._user_values(user))
            self._reply(self._logged_in_line(self.session))
        return self._take()

    def _logged_in_line(self, session: Session) -> bytes:
        """The tagged answer to a successful LOGIN or AUTHENTICATE."""
        caps = session.capability()
        tag = self.login.tag.decode("ascii", "replace")
        if not self.settings.login_capability_code:
            line = f"{tag} {self.settings.replies('OK Logged in')}\r\n"
        elif self.login.client_ignores_capability_resp_code:
            line = f"* CAPABILITY {caps}\r\n{tag} OK Logged in\r\n"
        else:
            line = f"{tag} OK [CAPABILITY {caps}] Logged in\r\n"
        return line.encode()

    def session_failed(self, detail: str = "", *, user: str | None = None,
                       mail_pid: int | None = None) -> bytes:
        """Authentication succeeded but the user's mail cannot be opened.

        Dovecot 2.3.19's imap process answers the login as usual and only then
        initialises the namespaces (imap-client.c ``client_create_finish``); when that
        fails it logs the reason, disconnects with it and says ``* BYE`` with the
        critical message. The tagged OK counts in ``out=``, the BYE does not."""
        with self._call("session_failed"):
            user = user or self.virtual_user or ""
            self._logged_in(user, mail_pid)
            self.session = Session(self, user, None, self._mail_prefix(user),
                                   self._user_values(user))
            self._reply(self._logged_in_line(self.session))
            reason = detail or "Internal error occurred."
            if detail:
                self.session.log("Error", detail)
            self.session.log("Info", f"Disconnected: {reason} {self.session.stats()}")
            self._reply(b"* BYE " + CRITICAL_MSG.encode() + b"\r\n")
            self._close(reason)
        return self._take()

    def too_many_connections(self, limit: int | None = None) -> bytes:
        """``mail_max_userip_connections`` reached: Dovecot 2.3.19's imap-login answers the
        LOGIN/AUTHENTICATE with a tagged ``NO [LIMIT]`` and disconnects."""
        with self._call("too_many_connections"):
            limit = self.settings.mail_max_userip_connections if limit is None else limit
            text = ("Maximum number of connections from user+IP exceeded "
                    f"(mail_max_userip_connections={limit})")
            self.login.reply("NO", text, "LIMIT")
            self._log_login(f"Disconnected: {text}")
            self._close(text)
        return self._take()

    def tls_started(self, security: str = "") -> bytes:
        """The handshake after STARTTLS succeeded; the connection is now secured."""
        with self._call("tls_started"):
            self.tls = True
            self.tls_started_once = True
            self.secured = True
            self.tls_security = security
            # imap-login recreates its parser: plaintext bytes sent early are dropped.
            self.reader = CommandReader(IMAP_LOGIN_MAX_LINE_LENGTH)
        return self._take()

    def tls_failed(self, reason: str = "TLS handshaking failed") -> bytes:
        with self._call("tls_failed"):
            self._login_destroy(reason)
        return self._take()

    def timed_out(self) -> bytes:
        """The deadline passed: disconnect as Dovecot's timeouts do."""
        with self._call("timed_out"):
            if self.session is not None:
                self._reply(b"* BYE Disconnected for inactivity.\r\n")
                secs = int(self._now() - self.last_input)
                self.session.disconnect(f"Inactivity - no input for {secs} secs")
            elif self.state is State.AUTHENTICATING:
                self._reply(b"* BYE Disconnected for inactivity during authentication.\r\n")
                self._login_destroy("Inactivity during authentication")
            else:
                self._reply(b"* BYE Disconnected for inactivity.\r\n")
                self._login_destroy("Inactivity")
        return self._take()

    def shutdown(self) -> bytes:
        """The server is stopping."""
        with self._call("shutdown"):
            if self.session is not None:
                self._reply(b"* BYE Server shutting down.\r\n")
                self.session.disconnect("Server shutting down.")
            else:
                self._reply(b"* BYE Server shutting down.\r\n")
                self._login_destroy("Server shutting down")
        return self._take()

    def poll(self) -> bytes:
        """While the client idles: untagged updates for changes made by others."""
        if self.session is None or self.session.idle_tag is None or \
                self.state is State.CLOSED:
            return b""
        with self._call("poll"):
            try:
                self.session.poll()
            except Exception as exc:  # noqa: BLE001 - never take the server down
                self._log(self.session.prefix, "Error", f"IDLE sync failed: {exc!r}")
        return self._take()

    @property
    def idling(self) -> bool:
        return self.session is not None and self.session.idle_tag is not None

    def deadline(self) -> float | None:
        """When ``timed_out()`` is due (clock time), or None once closed."""
        if self.state in (State.CLOSED, State.NEW):
            return None
        if self.session is not None:
            if self.idling:
                return None  # IDLE keeps the connection (imap_idle_notify_interval)
            return self.last_input + IDLE_TIMEOUT_SECS
        return self.created + LOGIN_TIMEOUT_SECS

    def id_reply(self) -> bytes:
        """``* ID (...)`` from imap_id_send (lib-imap imap-id.c)."""
        words = self.settings.imap_id_send.split()
        pairs: list[tuple[str, str | None]] = []
        i = 0
        while i + 1 < len(words):
            key, value = words[i].strip('"'), words[i + 1].strip('"')
            if value == "*":
                value = ID_DEFAULTS.get(key.lower())
                if value is None:
                    i += 2
                    continue
            pairs.append((key, value))
            i += 2
        return r.id_line(pairs or None)

    # ---- internals used by the two halves -----------------------------------------------

    def _now(self) -> float:
        return self._clock()

    def _local_time(self, fmt: str) -> str:
        return time.strftime(fmt, time.localtime(self._clock()))

    def _step(self) -> bool:
        """Handle one reader event; False when input is lacking."""
        if self.state not in (State.NOT_AUTHENTICATED, State.SASL_CONTINUE,
                              State.AUTHENTICATED):
            return False
        try:
            event = self.reader.next_event()
        except Exception as exc:  # noqa: BLE001 - a reader bug must not end the server
            self._internal_error(exc)
            return True
        if event is READER_NEED_DATA:
            return False
        if isinstance(event, c.ConnectionClosed):
            self._peer_closed()
            return True
        try:
            if self.state is State.SASL_CONTINUE:
                if isinstance(event, c.ContinuationLine):
                    self.login.sasl_line(event.data)
                elif isinstance(event, c.BadCommand):
                    self._login_destroy("Authentication response too large")
                return True
            if self.session is not None:
                self.session.handle(event)
            else:
                self.login.handle(event)
        except Exception as exc:  # noqa: BLE001 - every error is an answer, never a crash
            self._internal_error(exc)
        return True

    def _internal_error(self, exc: Exception) -> None:
        prefix = self.session.prefix if self.session is not None else "imap-login: "
        self._log(prefix, "Error", f"Internal error: {exc!r}")
        self._reply(b"* BYE " + CRITICAL_MSG.encode() + b"\r\n")
        if self.session is not None:
            self.session.disconnect("Internal error")
        else:
            self._login_destroy("Internal error")

    def _peer_closed(self) -> None:
        if self.state is State.CLOSED:
            return
        if self.session is not None:
            self.session.connection_lost()
        else:
            self._login_destroy("Connection closed")

    def _reply(self, data: bytes) -> None:
        if self.state is State.CLOSED:
            return
        self._out += data
        if self.session is not None:
            self.session.output_bytes += len(data)

    def _emit(self, event: SessionEvent) -> None:
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
        secured = "TLS" if self.tls else ("secured" if self.secured else "")
        values = login_values(
            user=self.virtual_user, mech=self.auth_mech_name, lip=self.local_ip,
            rip=self.remote_ip, lport=self.local_port, rport=self.remote_port,
            pid=self.pid, secured=secured, ssl_security=self.tls_security,
            mail_pid=self.mail_pid, session=self.session_id,
            home=os.environ.get("HOME", ""))
        values["service"] = "imap"
        return values

    def _log_login(self, message: str) -> None:
        text = login_log_message(message, self._login_values(),
                                 self.settings.login_log_format_elements,
                                 self.settings.login_log_format)
        self._log("imap-login: ", "Info", text)

    def _login_destroy(self, reason: str) -> None:
        """login-common ``client_destroy`` before login: log, then close."""
        extra = self.login.extra_disconnect_reason()
        self._log_login(f"Disconnected: {reason} {extra}" if extra else
                        f"Disconnected: {reason}")
        self._close(reason)

    def _logged_in(self, user: str, mail_pid: int | None) -> None:
        self.virtual_user = user
        self.mail_pid = str(mail_pid) if mail_pid is not None else self.pid
        self._log_login("Login")

    def _user_values(self, user: str) -> dict[str, str]:
        username, _, domain = user.partition("@")
        return {"user": user, "username": username, "domain": domain, "service": "imap",
                "lip": self.local_ip, "rip": self.remote_ip,
                "pid": self.mail_pid or self.pid, "session": self.session_id,
                "orig_user": user, "orig_username": username, "orig_domain": domain,
                "auth_user": user, "auth_username": username, "auth_domain": domain}

    def _mail_prefix(self, user: str) -> str:
        return expand(self.settings.mail_log_prefix, self._user_values(user),
                      MAIL_USER_VARS).text

    def _in_trusted_networks(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.settings.login_trusted_networks
                   if net.version == address.version)


def _make_session_id(now: float, remote_ip: str, remote_port: int) -> str:
    return session_id(int(now * 1_000_000), remote_ip, remote_port)
