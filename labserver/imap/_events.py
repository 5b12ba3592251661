"""What the IMAP session engine tells the service layer.

The same shape as the POP3 engine's events (``labserver.pop3._events``), with IMAP's
wording: every event is a frozen, slotted dataclass returned by
``ImapConnection.next_event()``; ``NEED_DATA`` and ``PAUSED`` are sentinels (the engine
needs bytes, or waits for the service to answer an ``AuthRequest``/``StartTLS``).

- ``SendData``: write these bytes to the client.
- ``AuthRequest``: authenticate (LOGIN gives ``username``/``password``, AUTHENTICATE gives
  ``mechanism`` and the SASL-IR ``initial_response``); answer with ``auth_continue()``,
  ``auth_succeeded()``, ``auth_failed()``, ``too_many_connections()`` or
  ``session_failed()``.
- ``AuthResponse``: the client's line after a ``+`` challenge; feed it to the mechanism.
- ``AuthCancelled``: the client answered a challenge with ``*``; the BAD is already queued.
- ``StartTLS``: the tagged OK went out; run the handshake, then ``tls_started()``.
- ``LogLine``: a line of Dovecot's log.
- ``Close``: everything has been handed out; close the connection.
"""

from __future__ import annotations

from dataclasses import dataclass


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Sentinel("NEED_DATA")
PAUSED = _Sentinel("PAUSED")


class SessionEvent:
    """Base class of everything ``next_event()`` returns besides the sentinels."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SendData(SessionEvent):
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthRequest(SessionEvent):
    """Start an authentication. ``command`` is ``LOGIN`` or ``AUTHENTICATE``.

    ``initial_response`` is the SASL-IR base64 text (``b"="`` for an empty one, None when
    absent); for LOGIN it is the base64 of ``\\0user\\0password``, as imap-login builds it,
    and ``username``/``password`` are filled in too.
    """

    mechanism: str
    initial_response: bytes | None = None
    command: str = "AUTHENTICATE"
    username: str | None = None
    password: bytes | None = None
    secured: bool = False
    tls: bool = False
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class AuthResponse(SessionEvent):
    """A client line answering a ``+`` challenge: base64 text, CR LF removed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class AuthCancelled(SessionEvent):
    """The client answered a challenge with ``*``."""


@dataclass(frozen=True, slots=True)
class StartTLS(SessionEvent):
    """Wrap the socket in TLS now (the tagged OK has already been handed out)."""


@dataclass(frozen=True, slots=True)
class LogLine(SessionEvent):
    """One line of Dovecot's log, e.g. ``imap-login: Info: Login: user=<alice>, ...``."""

    prefix: str  # "imap-login: " or "imap(alice)<pid><session>: "
    level: str
    message: str

    @property
    def text(self) -> str:
        return f"{self.prefix}{self.level}: {self.message}"


@dataclass(frozen=True, slots=True)
class Close(SessionEvent):
    """Close the connection; ``reason`` is the text Dovecot logs for it."""

    reason: str = ""


class SessionProtocolError(Exception):
    """The service layer used the engine wrongly (our fault, not the client's)."""
