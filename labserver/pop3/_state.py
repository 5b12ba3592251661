"""The states of one POP3 connection and the moves between them, as a table.

RFC 1939 names three states: AUTHORIZATION, TRANSACTION and UPDATE. Dovecot runs
the first in pop3-login and the rest in pop3; UPDATE lasts only while QUIT is
being answered, so here it is a step inside QUIT rather than a state. The engine
adds the states in which it waits for the service layer (``AUTHENTICATING``,
``STARTING_TLS``) or for the client's next SASL line (``SASL_CONTINUE``).

Keys of the inner tables are events the engine emits or names of the methods
the service calls; a method called in a state whose table lacks it is a
``LocalProtocolError``.
"""

from __future__ import annotations

from enum import Enum

from ._events import AuthCancelled, AuthRequest, AuthResponse, Close, StartTLS


class State(Enum):
    NEW = "NEW"  # start() not called yet
    AUTHORIZATION = "AUTHORIZATION"
    AUTHENTICATING = "AUTHENTICATING"  # AuthRequest/AuthResponse out, answer pending
    SASL_CONTINUE = "SASL_CONTINUE"  # "+ challenge" sent, waiting for the client's line
    STARTING_TLS = "STARTING_TLS"
    TRANSACTION = "TRANSACTION"
    CLOSED = "CLOSED"


_ANYTIME = {Close: State.CLOSED, "timed_out": State.CLOSED, "shutdown": State.CLOSED}

TRANSITIONS: dict[State, dict[object, State]] = {
    State.NEW: {"start": State.AUTHORIZATION},
    State.AUTHORIZATION: {AuthRequest: State.AUTHENTICATING, StartTLS: State.STARTING_TLS,
                          **_ANYTIME},
    State.AUTHENTICATING: {"auth_continue": State.SASL_CONTINUE,
                           "auth_failed": State.AUTHORIZATION,
                           "auth_succeeded": State.TRANSACTION,
                           "mail_starting": State.AUTHENTICATING,
                           "session_failed": State.CLOSED,
                           "too_many_connections": State.CLOSED, **_ANYTIME},
    State.SASL_CONTINUE: {AuthResponse: State.AUTHENTICATING,
                          AuthCancelled: State.AUTHORIZATION, **_ANYTIME},
    State.STARTING_TLS: {"tls_started": State.AUTHORIZATION, "tls_failed": State.CLOSED,
                         **_ANYTIME},
    State.TRANSACTION: dict(_ANYTIME),
    State.CLOSED: {},
}

# States in which next_event() answers PAUSED: the service owes the engine an answer.
WAITING_FOR_SERVICE = frozenset({State.AUTHENTICATING, State.STARTING_TLS})
