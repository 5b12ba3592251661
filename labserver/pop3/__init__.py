"""POP3 as Dovecot 2.3 speaks it: a sans-I/O protocol engine (RFC 1939, 2449, 5034, 2595).

One ``Pop3Connection`` per client. It never touches a socket: the service layer
feeds it bytes and acts on the events it returns, in the manner of h11::

    from labserver.pop3 import (Pop3Connection, Pop3Settings, NEED_DATA, PAUSED,
                                SendData, AuthRequest, StartTLS, LogLine, Close)

    conn = Pop3Connection(Pop3Settings.from_config(cfg, remote=rip, local=lip),
                          local_ip=lip, local_port=110, remote_ip=rip, remote_port=rport)
    send(conn.start())                        # "+OK Dovecot ready."
    conn.receive_data(data)                   # b"" when the client closed
    event = conn.next_event()                 # an event, NEED_DATA or PAUSED

Events (``_events.py``): ``SendData``, ``AuthRequest``, ``AuthResponse``,
``AuthCancelled``, ``StartTLS``, ``LogLine``, ``Close``. Authentication happens
outside: on ``AuthRequest`` the service asks the auth layer and answers with
``auth_continue(challenge)``, ``auth_succeeded(user, mailbox)`` or
``auth_failed(reason, code=...)``; each returns the bytes to send. ``StartTLS``
is answered with ``tls_started()`` once the handshake is done.

Layout, after Dovecot's split: ``_login.py`` is pop3-login (greeting, CAPA,
USER/PASS, APOP, AUTH, STLS, the plaintext policy), ``_session.py`` is pop3
(STAT, LIST, UIDL, TOP, RETR, DELE, RSET, NOOP, LAST, QUIT and the UPDATE step),
``_fetch.py`` the byte-stuffing of message bodies, ``_logformat.py`` Dovecot's
log texts, ``_state.py`` the state table and ``_connection.py`` the facade.
"""

from ._connection import Pop3Connection, SessionFailure
from ._events import (
    NEED_DATA,
    PAUSED,
    AuthCancelled,
    AuthRequest,
    AuthResponse,
    Close,
    Event,
    LocalProtocolError,
    LogLine,
    ProtocolError,
    RemoteProtocolError,
    SendData,
    StartTLS,
)
from ._settings import MECHANISMS, MechFlag, Pop3Settings
from ._state import TRANSITIONS, State

__all__ = [
    "MECHANISMS", "NEED_DATA", "PAUSED", "TRANSITIONS", "AuthCancelled", "AuthRequest",
    "AuthResponse", "Close", "Event", "LocalProtocolError", "LogLine", "MechFlag",
    "Pop3Connection", "Pop3Settings", "ProtocolError", "RemoteProtocolError", "SendData",
    "SessionFailure", "StartTLS", "State",
]
