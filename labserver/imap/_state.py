"""The states of one IMAP connection and the moves between them, as a table.

RFC 3501 §3 names four states: not authenticated, authenticated, selected and logout.
Dovecot runs the first in imap-login and the others in imap. The engine adds the states
in which it waits for the service layer (``AUTHENTICATING``, ``STARTING_TLS``) or for the
client's next SASL line (``SASL_CONTINUE``); IDLE is a flag of the session, not a state,
because any untagged update may still be sent while it lasts.

Keys of the inner tables are events the engine emits or names of the methods the service
calls; a method called in a state whose table lacks it is a ``SessionProtocolError``.
"""

from __future__ import annotations

from enum import Enum

from ._events import AuthCancelled, AuthRequest, AuthResponse, Close, StartTLS


class State(Enum):
    NEW = "NEW"  # start() not called yet
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    AUTHENTICATING = "AUTHENTICATING"  # AuthRequest/AuthResponse out, answer pending
    SASL_CONTINUE = "SASL_CONTINUE"  # "+ challenge" sent, waiting for the client's line
    STARTING_TLS = "STARTING_TLS"
    AUTHENTICATED = "AUTHENTICATED"  # logged in; SELECTED is the session's own matter
    CLOSED = "CLOSED"


_ANYTIME = {Close: State.CLOSED, "timed_out": State.CLOSED, "shutdown": State.CLOSED}

TRANSITIONS: dict[State, dict[object, State]] = {
    State.NEW: {"start": State.NOT_AUTHENTICATED},
    State.NOT_AUTHENTICATED: {AuthRequest: State.AUTHENTICATING,
                              StartTLS: State.STARTING_TLS, **_ANYTIME},
    State.AUTHENTICATING: {"auth_continue": State.SASL_CONTINUE,
                           "auth_failed": State.NOT_AUTHENTICATED,
                           "auth_succeeded": State.AUTHENTICATED,
                           "session_failed": State.CLOSED,
                           "too_many_connections": State.CLOSED, **_ANYTIME},
    State.SASL_CONTINUE: {AuthResponse: State.AUTHENTICATING,
                          AuthCancelled: State.NOT_AUTHENTICATED, **_ANYTIME},
    State.STARTING_TLS: {"tls_started": State.NOT_AUTHENTICATED, "tls_failed": State.CLOSED,
                         **_ANYTIME},
    State.AUTHENTICATED: {"poll": State.AUTHENTICATED, **_ANYTIME},
    State.CLOSED: {},
}

# States in which next_event() answers PAUSED: the service owes the engine an answer.
WAITING_FOR_SERVICE = frozenset({State.AUTHENTICATING, State.STARTING_TLS})
