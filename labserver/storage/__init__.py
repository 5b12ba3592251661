"""The mail storage layer: Maildir and mbox folders as Dovecot 2.3 keeps them.

Public API::

    from labserver.storage import open_storage, deliver
    storage = open_storage(cfg, "alice", "/home/alice", resolver)   # a MailStorage
    box = storage.open("INBOX")                                      # a Mailbox
    uid = deliver(storage, b"Subject: hi\\n\\nhello\\n")
    box.sync().new                                                   # [MessageInfo(uid=...)]

Mailbox names given to the storage are Unicode ("vnames"), with the namespace
separator; the IMAP engine decodes modified UTF-7 first (``names.mutf7_decode``).
Modules: ``location`` (mail_location), ``maildir``, ``mbox``, ``names`` (checks and
encodings), ``sizes``, ``uids``, ``locking``, ``base`` (what the formats share).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import Any

from labserver.config.resolve import PathResolver
from labserver.config.varexpand import mail_user_values

from .base import Namespace
from .location import LocationError, MailLocation, mail_home, parse_location, require_lab_driver
from .maildir import MaildirMailbox, MaildirStorage
from .mbox import MboxMailbox, MboxStorage
from .model import (
    Mailbox,
    MailboxListing,
    MailStorage,
    MessageInfo,
    StorageError,
    SyncResult,
)

__all__ = ["LocationError", "MailLocation", "MailStorage", "Mailbox", "MailboxListing",
           "MaildirMailbox", "MaildirStorage", "MboxMailbox", "MboxStorage", "MessageInfo",
           "Namespace", "StorageError", "SyncResult", "deliver", "open_storage",
           "parse_location", "storage_for_location"]


def _check_user(user: str) -> None:
    if (not user or "/" in user or "\x00" in user or user in (".", "..")
            or user.startswith("~")):
        raise StorageError(f"Invalid user name: {user!r}", "CANNOT")


def _scope(protocol: str | None) -> dict[str, str]:
    """Keyword arguments that select a ``protocol {}`` filter's values, if any."""
    return {"protocol": protocol} if protocol else {}


def _namespace(config: Any, protocol: str | None = None) -> tuple[Namespace, str]:
    """The inbox namespace from ``namespace {}`` blocks, and its own location."""
    for ns in config.sections("namespace", **_scope(protocol)):
        values = ns.values
        if values.get("disabled") or values.get("type", "private") != "private":
            continue
        if not values.get("inbox") and len(config.sections("namespace",
                                                            **_scope(protocol))) > 1:
            continue
        boxes = {name: dict(child.values) for name, child in
                 ns.lists.get("mailbox", {}).items()}
        return (Namespace(prefix=values.get("prefix", "") or "",
                          separator=values.get("separator", "") or "",
                          inbox=bool(values.get("inbox", True)),
                          subscriptions=bool(values.get("subscriptions", True)),
                          mailboxes=boxes),
                values.get("location", "") or "")
    return Namespace(), ""


def storage_for_location(location: MailLocation, resolver: PathResolver,
                         namespace: Namespace | None = None, user: str = ""
                         ) -> MaildirStorage | MboxStorage:
    """A storage for an already parsed location."""
    location = require_lab_driver(location)
    if location.driver == "maildir":
        return MaildirStorage(location, resolver, namespace)
    return MboxStorage(location, resolver, namespace, user=user)


def open_storage(config: Any, user: str, home: str | None = None,
                 resolver: PathResolver | None = None, *, create: bool = True,
                 protocol: str | None = None, mail: str | None = None, **variables: str
                 ) -> MaildirStorage | MboxStorage:
    """The user's folders as ``config`` describes them.

    ``config`` is a ``labserver.config.Config`` (or anything with ``get()`` and
    ``sections()``); ``home`` is the userdb's home (configuration path), falling
    back to ``mail_home``; ``resolver`` maps paths into the lab root (by default the
    config's own). With ``create`` the INBOX and ``auto = create`` folders are made.
    ``protocol`` ("imap", "pop3") applies that protocol's ``protocol {}`` block, as a
    Dovecot session of that protocol does. ``mail`` is the userdb's ``mail`` field: when
    given it replaces ``mail_location`` for this user, as Dovecot's userdb settings do
    (a namespace's own ``location`` still wins).
    """
    _check_user(user)
    resolver = resolver or getattr(config, "resolver", None) or PathResolver(None)
    namespace, ns_location = _namespace(config, protocol)
    values = mail_user_values(user, home=home or "", **variables)
    home = mail_home(_get(config, "mail_home", protocol), user, home, values)
    values["home"] = home or ""
    text = ns_location or (mail if mail is not None else
                           _get(config, "mail_location", protocol))
    try:
        location = parse_location(text, user=user, home=home, values=values,
                                  resolver=resolver)
        storage = storage_for_location(location, resolver, namespace, user)
    except LocationError as e:
        # Dovecot's namespace code adds the reason when no location was given at all.
        reason = f"mail_location not set and autodetection failed: {e}" if not text else str(e)
        raise StorageError(reason, "SERVERBUG") from None
    if create:
        storage.ensure_inbox()
        storage.autocreate()
    return storage


def _get(config: Any, key: str, protocol: str | None = None) -> str:
    try:
        value = config.get(key, **_scope(protocol))
    except KeyError:
        return ""
    return value or ""


def deliver(target: Any, message: bytes | str, folder: str = "INBOX", *,
            flags: Iterable[str] = (), internaldate: dt.datetime | None = None) -> int:
    """Deliver one message, as an MDA would; returns its UID.

    ``target`` is a storage (from ``open_storage``), or a path: a Maildir directory
    (one with ``cur/``, or a new one when the path ends in ``/``) or an mbox file.
    """
    data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if isinstance(target, str | os.PathLike):
        path = os.fspath(target)
        if os.path.isdir(os.path.join(path, "cur")) or path.endswith("/") or (
                not os.path.exists(path) and folder == "INBOX" and path.endswith("Maildir")):
            loc = parse_location(f"maildir:{path.rstrip('/') or '/'}", expand_vars=False)
        else:
            parent = os.path.dirname(os.path.abspath(path))
            loc = parse_location(f"mbox:{parent}:INBOX={os.path.abspath(path)}",
                                 expand_vars=False)
        target = storage_for_location(loc, PathResolver(None))
        target.ensure_inbox()
    box = target.open_for_save(folder)
    try:
        return box.append(data, flags, internaldate)
    finally:
        box.close()
