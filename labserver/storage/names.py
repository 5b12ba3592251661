"""Mailbox names: checking them, and turning them into names on disk.

A client names a folder with the namespace separator ("Archive/2024"); the storage
keeps it under a name built with the layout's own separator ("Archive.2024" for
Maildir++, which becomes the directory ``.Archive.2024``). Names reach this module
as Dovecot's "vnames": Unicode text, already decoded from IMAP's modified UTF-7.
On disk they are stored in modified UTF-7 (RFC 3501 §5.1.3), as Dovecot 2.3 does
unless ``mail_location`` ends with ``:UTF-8``.

The checks follow Dovecot's ``mailbox_verify_name()`` and
``mailbox_list_is_valid_fs_name()`` (src/lib-storage/mail-storage.c and
mailbox-list.c), and the texts are Dovecot's. The lab refuses a few more things
than Dovecot does, always with an IMAP-style message: NUL and other control
characters in any name, and the LIST wildcards ``%`` and ``*`` (Dovecot would create
such a folder, but a learner could then never LIST it on its own).
"""

from __future__ import annotations

import base64

from .model import StorageError

# src/lib-storage/mailbox-list.h and mail-storage.c
NAME_MAX_LENGTH = 4096
HIERARCHY_NAME_MAX_LENGTH = 255

NONEXISTENT = "NONEXISTENT"
ALREADYEXISTS = "ALREADYEXISTS"
TRYCREATE = "TRYCREATE"
CANNOT = "CANNOT"


def not_found(vname: str) -> StorageError:
    """Dovecot's MAIL_ERRSTR_MAILBOX_NOT_FOUND, answered with [NONEXISTENT]."""
    return StorageError(f"Mailbox doesn't exist: {vname}", NONEXISTENT)


def already_exists() -> StorageError:
    return StorageError("Mailbox already exists", ALREADYEXISTS)


def invalid(detail: str | None = None) -> StorageError:
    text = "Invalid mailbox name" if detail is None else f"Invalid mailbox name: {detail}"
    return StorageError(text, CANNOT)


def is_inbox(vname: str) -> bool:
    """INBOX is case-insensitive (RFC 3501 §5.1), other names are not."""
    return vname.upper() == "INBOX"


def normalize(vname: str, ns_sep: str) -> str:
    """Spell INBOX (and INBOX's children) the canonical way."""
    if is_inbox(vname):
        return "INBOX"
    head, sep, rest = vname.partition(ns_sep)
    if sep and is_inbox(head):
        return "INBOX" + sep + rest
    return vname


def verify(vname: str, ns_sep: str, list_sep: str, *, create: bool = False,
           reserved: tuple[str, ...] = ()) -> None:
    """Raise StorageError if ``vname`` may not be used (created, with ``create``)."""
    if is_inbox(vname):
        return
    if any(ord(c) < 0x20 or c == "\x7f" for c in vname):
        if create:
            raise StorageError("Control characters not allowed in new mailbox names", CANNOT)
        raise invalid()
    for bad in "%*":
        if bad in vname:
            raise StorageError(f"Character not allowed in mailbox name: '{bad}'", CANNOT)
    if ns_sep != list_sep and list_sep in vname:
        raise StorageError(f"Character not allowed in mailbox name: '{list_sep}'", CANNOT)
    if vname.startswith(ns_sep):
        raise invalid("Begins with hierarchy separator")
    if ns_sep * 2 in vname:
        raise invalid("Has adjacent hierarchy separators")
    if vname.endswith(ns_sep):
        raise invalid("Ends with hierarchy separator")
    if vname == "":
        raise invalid("Name is empty")
    # mailbox_list_is_valid_fs_name(): works on the name with the list separator.
    storage = vname.replace(ns_sep, list_sep)
    if list_sep != "/" and "/" in storage:
        raise invalid("Name must not have '/' characters")
    if storage.startswith("/"):
        raise invalid("Begins with '/'")
    if storage.startswith("~"):
        raise invalid("Begins with '~'")
    for part in storage.split(list_sep) + storage.split("/"):
        if part == "":
            raise invalid("Has adjacent '/' chars") if list_sep == "/" else invalid(
                "Has adjacent hierarchy separators")
        if part in (".", ".."):
            raise invalid(f"Contains '{part}' part")
        if part in reserved:
            raise invalid("Contains reserved name")
    if create:
        if len(vname) > NAME_MAX_LENGTH:
            raise StorageError("Mailbox name too long", CANNOT)
        if any(len(p) > HIERARCHY_NAME_MAX_LENGTH for p in storage.split(list_sep)):
            raise StorageError("Mailbox name too long", CANNOT)


# --- modified UTF-7 (RFC 3501 §5.1.3) -----------------------------------------------

def _b64enc(text: str) -> str:
    raw = text.encode("utf-16-be")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def mutf7_encode(text: str) -> str:
    """Unicode to IMAP's modified UTF-7: ``"Entwürfe"`` -> ``"Entw&APw-rfe"``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            out.append("&" + _b64enc("".join(pending)) + "-")
            pending.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(text: str) -> str:
    """Modified UTF-7 to Unicode; raises ValueError for malformed input."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "&":
            if not 0x20 <= ord(ch) <= 0x7E:
                raise ValueError("8-bit or control character in modified UTF-7")
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise ValueError("unterminated modified UTF-7 shift")
        chunk = text[i + 1:end]
        if chunk == "":
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            raw = base64.b64decode(b64, validate=True)
            if len(raw) % 2:
                raise ValueError("odd number of octets in modified UTF-7")
            decoded = raw.decode("utf-16-be")
            if mutf7_encode(decoded) != "&" + chunk + "-":
                raise ValueError("non-canonical modified UTF-7")
            out.append(decoded)
        i = end + 1
    return "".join(out)


def to_storage_name(vname: str, ns_sep: str, list_sep: str, utf8: bool = False) -> str:
    """The name with the layout's separator, encoded for the file system."""
    parts = vname.split(ns_sep)
    if not utf8:
        parts = [mutf7_encode(p) for p in parts]
    return list_sep.join(parts)


def from_storage_name(name: str, ns_sep: str, list_sep: str, utf8: bool = False) -> str | None:
    """The vname for a name found on disk, or None when it cannot be shown."""
    parts = name.split(list_sep)
    if not utf8:
        try:
            parts = [mutf7_decode(p) for p in parts]
        except (ValueError, UnicodeDecodeError):
            return None
    if ns_sep != list_sep and any(ns_sep in p for p in parts):
        return None
    return ns_sep.join(parts)
