"""IMAP4rev1 without I/O: read commands, write responses, describe and search messages.

- ``CommandReader`` turns client bytes into events: one frozen dataclass per command
  (``Login``, ``Select``, ``Fetch`` ...), ``BadCommand`` with Dovecot's BAD texts,
  ``LiteralPending`` (send ``+ OK``, then ``accept_literal()``), ``FatalError``,
  ``ConnectionClosed``, or ``NEED_DATA``;
- ``responses`` serialises replies with Dovecot's quoting rules;
- ``ParsedMessage`` gives ENVELOPE, BODY, BODYSTRUCTURE and BODY[section]<partial>;
- ``search_matches`` evaluates a SEARCH key tree against a ``SearchableMessage``;
- ``encode_mailbox`` / ``decode_mailbox`` convert names to and from modified UTF-7;
- ``ImapConnection`` (module ``session``) is the whole IMAP session as Dovecot's imap-login
  and imap run it, sans-I/O; its events live in ``labserver.imap.session``.

Modules are private and each has one job: ``_lexer`` (tokens), ``_parser`` (argument grammar
per command), ``_reader`` (the incremental reader), ``_commands`` (events), ``_responses``,
``_message`` and ``_address`` (MIME structure), ``_search``, ``_utf7``.
"""

from . import _responses as responses
from ._address import Address, parse_addresses
from ._commands import (
    Append,
    Authenticate,
    BadCommand,
    Capability,
    Check,
    Close,
    Command,
    ConnectionClosed,
    ContinuationLine,
    Copy,
    Create,
    Delete,
    Done,
    Enable,
    Event,
    Expunge,
    FatalError,
    Fetch,
    FetchAtt,
    Id,
    Idle,
    List,
    LiteralPending,
    Login,
    Logout,
    Lsub,
    Move,
    Namespace,
    Noop,
    Rename,
    Search,
    SearchKey,
    Section,
    Select,
    SequenceSet,
    StartTLS,
    Status,
    Store,
    Subscribe,
    Unselect,
    Unsubscribe,
    mailbox_name,
)
from ._message import ParsedMessage, normalize_crlf
from ._parser import (
    COMMANDS,
    STATUS_ITEMS,
    SYSTEM_FLAGS,
    UID_COMMANDS,
    parse_date,
    parse_datetime,
    parse_seqset,
)
from ._reader import (
    DEFAULT_MAX_LINE_LENGTH,
    NEED_DATA,
    PRELOGIN_BAD_TEXT,
    CommandReader,
    LocalProtocolError,
    bad_text,
)
from ._search import MessageView, SearchableMessage, decode_header_value, search_matches
from ._utf7 import UTF7Error
from ._utf7 import decode as decode_mailbox
from ._utf7 import encode as encode_mailbox
from .session import ImapConnection, ImapSettings

__all__ = [
    "COMMANDS", "DEFAULT_MAX_LINE_LENGTH", "NEED_DATA", "PRELOGIN_BAD_TEXT", "STATUS_ITEMS",
    "SYSTEM_FLAGS", "UID_COMMANDS", "Address", "Append", "Authenticate", "BadCommand",
    "Capability", "Check", "Close", "Command", "CommandReader", "ConnectionClosed",
    "ContinuationLine", "Copy", "Create", "Delete", "Done", "Enable", "Event", "Expunge",
    "FatalError", "Fetch", "FetchAtt", "Id", "Idle", "ImapConnection", "ImapSettings", "List",
    "LiteralPending",
    "LocalProtocolError", "Login", "Logout", "Lsub", "MessageView", "Move", "Namespace", "Noop",
    "ParsedMessage", "Rename", "Search", "SearchKey", "SearchableMessage", "Section", "Select",
    "SequenceSet", "StartTLS", "Status", "Store", "Subscribe", "UTF7Error", "Unselect",
    "Unsubscribe", "bad_text", "decode_header_value", "decode_mailbox", "encode_mailbox",
    "mailbox_name", "normalize_crlf", "parse_addresses", "parse_date", "parse_datetime",
    "parse_seqset", "responses", "search_matches",
]
