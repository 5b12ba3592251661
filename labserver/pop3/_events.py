"""What the POP3 engine tells the service layer, and the errors it raises.

Every event is a frozen, slotted dataclass. The engine produces them from
``next_event()``; the service acts on each one in order:

- ``SendData``: write these bytes to the client (replies the engine could give on its
  own: CAPA, STAT, -ERR for bad input...).
- ``AuthRequest``: authenticate with the auth service, then answer with
  ``auth_continue()``, ``auth_succeeded()``, ``auth_failed()`` or one of the
  session failures.
- ``AuthResponse``: the client's answer to a SASL challenge; feed it to the same
  authentication and answer as for ``AuthRequest``.
- ``AuthCancelled``: the client gave up a SASL exchange with ``*``; drop its state.
  The engine has already queued the reply.
- ``StartTLS``: the ``+OK`` went out in an earlier ``SendData``; run the TLS
  handshake now and call ``tls_started()`` or ``tls_failed()``.
- ``LogLine``: a line for the server log, in Dovecot's format.
- ``Close``: everything to send has been given out; close the connection.

``NEED_DATA`` and ``PAUSED`` are sentinels, as in h11: the engine needs more bytes,
or it waits for the service to answer a request before it reads on.
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


class Event:
    """Base class of everything ``next_event()`` returns besides the sentinels."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SendData(Event):
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthRequest(Event):
    """Start an authentication with the auth service.

    ``mechanism`` is upper case (``PLAIN`` for USER/PASS, ``APOP`` for APOP).
    ``initial_response`` is base64 text as Dovecot's login process hands it to the
    auth service (``None`` when the client sent none); for USER/PASS it is the
    base64 of ``\\0user\\0password`` and for APOP the base64 of
    ``challenge\\0user\\0digest``, exactly as Dovecot builds them. The decoded
    fields ``username``, ``password``, ``apop_challenge`` and ``apop_digest`` are
    filled in for those two commands, to spare the auth layer the decoding.
    """

    mechanism: str
    initial_response: bytes | None = None
    command: str = "AUTH"  # AUTH, USER/PASS or APOP
    username: str | None = None
    password: bytes | None = None
    apop_challenge: str | None = None
    apop_digest: str | None = None  # 32 hex digits
    secured: bool = False
    tls: bool = False
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class AuthResponse(Event):
    """A client line answering a ``+ challenge``: base64 text, CR LF removed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class AuthCancelled(Event):
    """The client answered a challenge with ``*``."""


@dataclass(frozen=True, slots=True)
class StartTLS(Event):
    """Wrap the socket in TLS now (the ``+OK`` has already been handed out)."""


@dataclass(frozen=True, slots=True)
class LogLine(Event):
    """One line of Dovecot's log: ``prefix`` names the process, as Dovecot does.

    ``text`` is the line as it appears in Dovecot's log file after the timestamp,
    e.g. ``pop3-login: Info: Login: user=<alice>, method=PLAIN, ...``.
    """

    prefix: str  # "pop3-login: " or "pop3(alice)<pid><session>: "
    level: str  # "Info", "Error"...
    message: str

    @property
    def text(self) -> str:
        return f"{self.prefix}{self.level}: {self.message}"


@dataclass(frozen=True, slots=True)
class Close(Event):
    """Close the connection; ``reason`` is the text Dovecot logs for it."""

    reason: str = ""


class ProtocolError(Exception):
    """Base of the engine's errors."""


class LocalProtocolError(ProtocolError):
    """The service layer used the engine wrongly (our fault, not the client's)."""


class RemoteProtocolError(ProtocolError):
    """The client broke the protocol; ``reply`` is what Dovecot answers to it.

    The engine never raises this to the service: it answers the client itself.
    It is used inside the engine to carry a reply out of a parser.
    """

    def __init__(self, reply: bytes) -> None:
        super().__init__(reply.decode("latin-1").rstrip())
        self.reply = reply
