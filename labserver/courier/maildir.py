"""Maildir as Courier keeps it: Maildir++ folders, ``courierimapuiddb``,
``courierimapsubscribed``, ``maildirsize``, and ``maildirmake``.

- ``courierimapuiddb`` (one per folder) gives UIDs: a header ``1 <uidvalidity> <nextuid>``,
  then ``<uid> <base file name>`` per message. The Courier personality reads and writes it
  through the lab's Maildir code (``CourierMailbox``), where Dovecot keeps
  ``dovecot-uidlist``.
- ``courierimapsubscribed`` (in the maildir's top) lists subscribed folders by their full
  IMAP names: ``INBOX.Sent``.
- ``maildirsize`` (Maildir++ quota): a first line with the quota (``10000000S,1000C``:
  bytes and messages), then lines of ``<bytes> <messages>``, each ``%12d %12d``.
- ``maildirmake DIR`` makes a maildir (``cur``, ``new``, ``tmp``, mode 0700);
  ``-f NAME`` a Maildir++ folder ``DIR/.NAME`` with its ``maildirfolder`` marker;
  ``-q QUOTA`` writes ``maildirsize`` with the quota and the current use.
  Messages and exit codes as Courier's ``maildirmake`` gives them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass

from ..storage.maildir import MaildirMailbox, MaildirStorage, Uidlist, UidRecord, split_info
from ..storage.model import MailboxListing
from ..storage.sizes import to_lf
from ..storage.uids import new_guid

UIDDB = "courierimapuiddb"
SUBSCRIBED = "courierimapsubscribed"
MAILDIRSIZE = "maildirsize"
FOLDER_MARKER = "maildirfolder"


class CourierUiddb(Uidlist):
    """``courierimapuiddb`` with the interface of the lab's ``dovecot-uidlist``."""

    @classmethod
    def parse(cls, text: str) -> CourierUiddb:
        lines = text.split("\n")
        head = lines[0].split()
        if len(head) != 3 or head[0] != "1" or not head[1].isdigit() or not head[2].isdigit():
            raise ValueError(f"Broken header: {lines[0]}")
        uidvalidity, next_uid = int(head[1]), int(head[2])
        records: list[UidRecord] = []
        prev = 0
        for line in lines[1:]:
            if not line:
                continue
            num, _, name = line.partition(" ")
            if not num.isdigit() or not name or "/" in name:
                raise ValueError(f"Broken line: {line}")
            uid = int(num)
            if uid <= prev:
                raise ValueError(f"UIDs out of order: {line}")
            prev = uid
            records.append(UidRecord(uid, name.split(":", 1)[0]))
        return cls(uidvalidity, max(next_uid, prev + 1), new_guid(), records)

    def format(self) -> str:
        return "".join([f"1 {self.uidvalidity} {self.next_uid}\n"]
                       + [f"{r.uid} {r.base}\n" for r in self.records])


class CourierMailbox(MaildirMailbox):
    """A Maildir folder whose UIDs live in ``courierimapuiddb``; when the maildir has a
    ``maildirsize``, what APPEND, COPY and EXPUNGE add or remove is noted there, as
    Courier's imapd does (a ``<bytes> <messages>`` line each, negative for EXPUNGE)."""

    UIDLIST_NAME = UIDDB
    UIDLIST_FORMAT = CourierUiddb

    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: dt.datetime | None = None) -> int:
        uid = super().append(data, flags, internaldate)
        self._note_usage(len(to_lf(data)), 1)
        return uid

    def copy(self, uids: Iterable[int], dest: str) -> list[tuple[int, int]]:
        sizes = {m.uid: m.physical_size for m in self.messages}
        pairs = super().copy(uids, dest)
        if not dest.endswith(".Trash"):
            self._note_usage(sum(sizes.get(src, 0) for src, _ in pairs), len(pairs))
        return pairs

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        sizes = {m.uid: m.physical_size for m in self.messages}
        gone = super().expunge(uids)
        if gone:
            self._note_usage(-sum(sizes.get(uid, 0) for uid in gone), -len(gone))
        return gone

    def _note_usage(self, size: int, count: int) -> None:
        if count == 0 or os.path.basename(self.path) == ".Trash":
            return
        add_usage(self.store.root_real, size, count)


class CourierStorage(MaildirStorage):
    """A user's Maildir++ as Courier-IMAP shows it (``INBOX.`` namespace)."""

    mailbox_class = CourierMailbox

    def subscriptions_path(self) -> str:
        return self.contained(os.path.join(self.root_real, SUBSCRIBED), self.root_real)

    def _read_subscriptions(self) -> list[str]:
        try:
            with open(self.subscriptions_path(), encoding="utf-8",
                      errors="surrogateescape") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            if line == "INBOX":
                out.append("INBOX")
            elif line.startswith(self.prefix) and len(line) > len(self.prefix):
                out.append(self.storage_name(line[len(self.prefix):]))
        return out

    def _write_subscriptions(self, storage_names: list[str]) -> None:
        lines = []
        for sname in storage_names:
            if sname == "INBOX":
                lines.append("INBOX")
                continue
            lines.append(self.prefix + sname.replace(self.list_sep, self.separator))
        path = self.subscriptions_path()
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("".join(line + "\n" for line in lines))
        os.replace(tmp, path)


    def list(self) -> list[MailboxListing]:
        """As Dovecot's, but INBOX is the parent of every folder (``INBOX.Sent``) and,
        as with Courier's ``IMAP_CHECK_ALL_FOLDERS=0``, only INBOX is marked: ``\\Marked``
        while mail waits in its ``new/``, else ``\\Unmarked``."""
        out = []
        listing = super().list()
        for x in listing:
            if x.name == "INBOX":
                flags = set(x.flags)
                if len(listing) > 1:
                    flags = (flags - {"\\HasNoChildren"}) | {"\\HasChildren"}
                new = os.path.join(self.paths("INBOX")[0], "new")
                waiting = any(not n.startswith(".") for n in _listdir(new))
                flags.add("\\Marked" if waiting else "\\Unmarked")
                x = dataclasses.replace(x, flags=frozenset(flags))
            out.append(x)
        return out


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


# --- maildirsize ------------------------------------------------------------------

@dataclass(frozen=True)
class Quota:
    """A Maildir++ quota: bytes (``S``) and messages (``C``); 0 means no limit."""

    size: int = 0
    count: int = 0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Quota:
        size = count = 0
        for part in text.split(","):
            digits, unit = part[:-1], part[-1:]
            if digits.isdigit() and unit == "S":
                size = int(digits)
            elif digits.isdigit() and unit == "C":
                count = int(digits)
        return cls(size, count, text)


def usage(maildir: str) -> tuple[int, int]:
    """Bytes and messages in ``cur`` and ``new`` of the maildir and its folders.

    As Courier counts them: the ``S=`` size in a file name when there is one, else the
    file's size; folders named ``.Trash`` are not counted.
    """
    total = count = 0
    folders = [maildir] + [os.path.join(maildir, d) for d in sorted(os.listdir(maildir))
                           if d.startswith(".") and d not in (".", "..", ".Trash")
                           and os.path.isdir(os.path.join(maildir, d, "cur"))]
    for folder in folders:
        for sub in ("cur", "new"):
            try:
                names = os.listdir(os.path.join(folder, sub))
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith("."):
                    continue
                size = _name_size(name)
                if size is None:
                    try:
                        size = os.stat(os.path.join(folder, sub, name)).st_size
                    except FileNotFoundError:
                        continue
                total += size
                count += 1
    return total, count


def _name_size(name: str) -> int | None:
    base = split_info(name)[0] if ":" in name else name
    for part in base.split(",")[1:]:
        if part.startswith("S=") and part[2:].isdigit():
            return int(part[2:])
    return None


def write_maildirsize(maildir: str, quota: str) -> None:
    """``maildirsize`` with ``quota`` and the maildir's current use."""
    size, count = usage(maildir)
    path = os.path.join(maildir, MAILDIRSIZE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{quota}\n{size:12d} {count:12d}\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def add_usage(maildir: str, size: int, count: int) -> None:
    """Append a use line to ``maildirsize`` if the maildir has one (no quota, no file)."""
    path = os.path.join(maildir, MAILDIRSIZE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError:
        return
    with os.fdopen(fd, "a", encoding="ascii") as f:
        f.write(f"{size:12d} {count:12d}\n")


def read_maildirsize(maildir: str) -> tuple[Quota, int, int] | None:
    """The quota and the summed use lines of ``maildirsize``; None when there is none."""
    try:
        with open(os.path.join(maildir, MAILDIRSIZE), encoding="ascii") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return None
    quota = Quota.parse(lines[0])
    size = count = 0
    for line in lines[1:]:
        parts = line.split()
        if len(parts) == 2 and all(p.lstrip("-").isdigit() for p in parts):
            size += int(parts[0])
            count += int(parts[1])
    return quota, size, count


# --- maildirmake -------------------------------------------------------------------

USAGE = "Usage: maildirmake [ options ] maildir"


class MaildirMakeError(Exception):
    """maildirmake failed; the message is what Courier's maildirmake prints."""


def maildirmake(maildir: str, folder: str | None = None, quota: str | None = None) -> str:
    """Do what ``maildirmake [-f FOLDER] [-q QUOTA] MAILDIR`` does; returns the path made.

    With ``quota`` only the ``maildirsize`` file is written (the maildir must exist).
    """
    if quota is not None:
        if not os.path.isdir(maildir):
            raise MaildirMakeError(f"maildirmake: {maildir}: No such file or directory")
        write_maildirsize(maildir, quota)
        return os.path.join(maildir, MAILDIRSIZE)
    if folder is not None:
        if not folder or folder.startswith(".") or "/" in folder or ".." in folder \
                or folder.endswith("."):
            raise MaildirMakeError(f"Invalid folder name: {folder}")
        path = os.path.join(maildir, "." + folder)
    else:
        path = maildir
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        raise MaildirMakeError(f"maildirmake: {path}: File exists") from None
    except FileNotFoundError:
        raise MaildirMakeError(f"maildirmake: {path}: No such file or directory") from None
    for sub in ("tmp", "new", "cur"):
        os.mkdir(os.path.join(path, sub), 0o700)
    if folder is not None:
        fd = os.open(os.path.join(path, FOLDER_MARKER), os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    return path
