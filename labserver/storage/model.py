"""What the protocol engines need from a mailbox, whatever the format on disk.

Maildir and mbox differ on disk; IMAP and POP3 see the same things: messages with
a UID, flags, an internal date and a size counted in CRLF octets (the "virtual"
size, which is what RFC 1939 and RFC 3501 report even when the file stores bare
LF line ends). A ``Mailbox`` is one session's view of a folder: it keeps its own
list of messages (so sequence numbers stay stable until the session syncs) and
reports what other sessions changed when ``sync()`` is called.

Conventions of the implementations in this package (``maildir``, ``mbox``):

- mailbox names are Unicode with the namespace separator ("Archive/2024",
  "Entwürfe"): the IMAP engine decodes modified UTF-7 before calling, and the
  storage encodes names for the file system as Dovecot does;
- ``messages`` is an immutable snapshot: a copy taken before ``expunge()`` still
  maps the returned UIDs to their old sequence numbers;
- ``set_flags()`` and ``expunge()`` change this view at once (their results are the
  session's own FETCH/EXPUNGE replies); ``append()`` and ``copy()`` are seen only
  after ``sync()``; ``set_flags()`` on a read-only view is ignored (Dovecot answers
  "Store ignored with read-only mailbox.");
- ``recent_uids`` are the messages that are \\Recent in this session: the first
  writable session that syncs a new arrival claims it (RFC 3501 §2.3.2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")


class StorageError(Exception):
    """A storage operation failed; ``code`` is an IMAP response code such as TRYCREATE."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """One message as a session sees it."""

    uid: int
    flags: frozenset[str]
    internaldate: dt.datetime  # timezone-aware
    virtual_size: int  # octets with CRLF line ends: what IMAP and POP3 report
    physical_size: int  # octets as stored on disk
    guid: str = ""  # stable id within the folder (Maildir base name, mbox offset key)


@dataclass(frozen=True, slots=True)
class MailboxListing:
    """One folder as LIST shows it."""

    name: str  # the folder name with the namespace separator, e.g. "Archive/2024"
    flags: frozenset[str] = frozenset()  # \Noselect, \HasChildren, \HasNoChildren...
    special_use: str | None = None  # \Sent, \Trash...


@dataclass(slots=True)
class SyncResult:
    """What changed since this view last synced."""

    expunged_uids: list[int] = field(default_factory=list)
    new: list[MessageInfo] = field(default_factory=list)
    flag_changes: list[MessageInfo] = field(default_factory=list)


class Mailbox(Protocol):
    """One session's view of one folder."""

    name: str
    readonly: bool
    uidvalidity: int

    @property
    def uidnext(self) -> int: ...

    @property
    def messages(self) -> Sequence[MessageInfo]:
        """Messages in this view, in UID order (sequence number = index + 1)."""

    @property
    def recent_uids(self) -> frozenset[int]:
        """UIDs of the messages that are \\Recent in this session."""

    def sync(self) -> SyncResult:
        """Pick up other sessions' changes; the view's message list is updated."""

    def read(self, uid: int) -> bytes:
        """The whole message with CRLF line ends (as IMAP and POP3 send it)."""

    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: dt.datetime | None = None) -> int:
        """Store a new message; returns its UID. Not visible in this view until sync()."""

    def set_flags(self, uids: Iterable[int], flags: Iterable[str], mode: str) -> list[MessageInfo]:
        """mode is "replace", "add" or "remove"; returns the changed messages."""

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        """Remove \\Deleted messages (all, or only among ``uids``); returns expunged UIDs."""

    def copy(self, uids: Iterable[int], dest: str) -> list[tuple[int, int]]:
        """Copy to another folder of the same user; returns (source UID, new UID) pairs."""

    def close(self) -> None: ...


class MailStorage(Protocol):
    """All folders of one user, as configured by mail_location and the namespace."""

    separator: str
    inbox: str

    def list(self) -> list[MailboxListing]: ...
    def create(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def rename(self, old: str, new: str) -> None: ...
    def subscriptions(self) -> list[str]: ...
    def subscribe(self, name: str) -> None: ...
    def unsubscribe(self, name: str) -> None: ...
    def open(self, name: str, readonly: bool = False) -> Mailbox: ...
    def status(self, name: str) -> dict[str, int]:
        """MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN for STATUS."""
