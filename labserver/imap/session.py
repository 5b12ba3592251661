"""The IMAP session engine: Dovecot's imap-login and imap as one sans-I/O state machine.

    from labserver.imap.session import (ImapConnection, ImapSettings, NEED_DATA, PAUSED,
                                        SendData, AuthRequest, AuthResponse, AuthCancelled,
                                        StartTLS, LogLine, Close)

    conn = ImapConnection(ImapSettings.from_config(cfg, local=lip, remote=rip),
                          local_ip=lip, remote_ip=rip, remote_port=rport)
    send(conn.start())                     # * OK [CAPABILITY ...] Dovecot ready.
    conn.receive_data(data)                # b"" when the client closed
    event = conn.next_event()              # an event, NEED_DATA or PAUSED

It is built on the I/O-free protocol library of this package (``CommandReader``,
``responses``, ``ParsedMessage``, ``search_matches``) and on ``labserver.storage``; the
service layer (``labserver.service.imap_handler``) owns the socket, the auth service and
the clock. Layout, after Dovecot's split: ``_login.py`` is imap-login (greeting,
CAPABILITY, LOGIN, AUTHENTICATE, STARTTLS, ID, ENABLE, the plaintext policy),
``_session.py`` is imap (one ``cmd_*`` method per command, the client's view of the
selected mailbox and ``sync()``), ``_state.py`` the state table, ``_events.py`` the events,
``_settings.py`` the settings and ``_connection.py`` the facade.

Capabilities: before login exactly Dovecot's (``IMAP4rev1 SASL-IR LOGIN-REFERRALS ID
ENABLE IDLE LITERAL+ [STARTTLS] [LOGINDISABLED] AUTH=...``). After login Dovecot 2.3.19
advertises ``IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY
THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE
UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH
ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY
PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY``; the lab advertises only what it
implements, in the same order: ``IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT
CHILDREN NAMESPACE UIDPLUS MOVE LITERAL+`` (plus ``SPECIAL-USE`` when folders have
``special_use``, as Dovecot does). Differences that follow from that:

- SORT, THREAD, MULTIAPPEND, CATENATE, URL-PARTIAL, LIST-EXTENDED, LIST-STATUS, ESEARCH,
  ESORT, SEARCHRES, WITHIN, CONTEXT=SEARCH, BINARY, SNIPPET/PREVIEW, SAVEDATE, NOTIFY,
  I18NLEVEL: not implemented; the commands are unknown (``BAD ... Unknown command.``) and
  LIST with selection or RETURN options is refused with BAD.
- CONDSTORE/QRESYNC: ``ENABLE CONDSTORE`` answers ``OK Enabled.`` without ``* ENABLED``;
  ``SELECT (CONDSTORE)``, ``FETCH (MODSEQ)``, ``CHANGEDSINCE`` and ``STATUS
  (HIGHESTMODSEQ)`` are BAD. ``STATUS (SIZE)`` works although STATUS=SIZE is not
  advertised.
- Timing suffixes are fixed at ``(0.001 + 0.000 secs)``.
- LIST shows INBOX first; Dovecot lists folders in directory order.
- EXAMINE of a folder whose new messages no session has seen reports them with
  ``RECENT 0`` (a read-only view claims no \\Recent).
"""

from ._connection import IDLE_TIMEOUT_SECS, LOGIN_TIMEOUT_SECS, ImapConnection
from ._events import (
    NEED_DATA,
    PAUSED,
    AuthCancelled,
    AuthRequest,
    AuthResponse,
    Close,
    LogLine,
    SendData,
    SessionEvent,
    SessionProtocolError,
    StartTLS,
)
from ._login import CAPABILITY_BANNER
from ._session import POSTLOGIN_CAPABILITY
from ._settings import ImapSettings, NamespaceSettings
from ._state import TRANSITIONS, State

__all__ = [
    "CAPABILITY_BANNER", "IDLE_TIMEOUT_SECS", "LOGIN_TIMEOUT_SECS", "NEED_DATA", "PAUSED",
    "POSTLOGIN_CAPABILITY", "TRANSITIONS", "AuthCancelled", "AuthRequest", "AuthResponse",
    "Close", "ImapConnection", "ImapSettings", "LogLine", "NamespaceSettings", "SendData",
    "SessionEvent", "SessionProtocolError", "StartTLS", "State",
]
