"""What Maildir and mbox share: the namespace, flag names, subscriptions, views.

``FolderStore`` turns client names into checked storage names and real paths
(always through the sandbox resolver, and never outside the mail root), keeps
the subscriptions file and builds LIST replies; each format subclasses it with
its own directory layout. ``View`` is one session's list of messages and
computes what a ``sync()`` reports.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from labserver.config.resolve import PathResolver

from . import names
from .location import MailLocation
from .locking import dotlocked
from .model import SYSTEM_FLAGS, MailboxListing, MessageInfo, StorageError, SyncResult

_SYSTEM_BY_LOWER = {f.lower(): f for f in SYSTEM_FLAGS}


def normalize_flags(flags: Iterable[str]) -> frozenset[str]:
    """Canonical spelling of system flags; ``\\Recent`` cannot be stored and is dropped."""
    out: set[str] = set()
    for flag in flags:
        if flag.startswith("\\"):
            canon = _SYSTEM_BY_LOWER.get(flag.lower())
            if canon is None:
                if flag.lower() == "\\recent":
                    continue
                raise StorageError(f"Invalid system flag {flag}", "CANNOT")
            out.add(canon)
        else:
            if (not flag or any(c in flag for c in ' ()"\\{]%*') or
                    any(ord(c) < 0x21 or ord(c) > 0x7E for c in flag)):
                raise StorageError(f"Invalid keyword: {flag}", "CANNOT")
            out.add(flag)
    return frozenset(out)


def apply_mode(old: frozenset[str], flags: frozenset[str], mode: str) -> frozenset[str]:
    if mode == "replace":
        return flags
    if mode == "add":
        return old | flags
    if mode == "remove":
        return old - flags
    raise ValueError(f"unknown flag mode {mode!r}")


@dataclass(frozen=True, slots=True)
class Namespace:
    """The private namespace the storage serves (``namespace inbox {}``)."""

    prefix: str = ""
    separator: str = ""  # empty: the layout's own separator
    inbox: bool = True
    subscriptions: bool = True
    mailboxes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class FolderStore:
    """Names, paths, subscriptions and LIST for one user's folders."""

    # Names the layout reserves (Maildir's cur/new/tmp under LAYOUT=fs).
    reserved: tuple[str, ...] = ()

    def __init__(self, location: MailLocation, resolver: PathResolver,
                 namespace: Namespace | None = None) -> None:
        self.location = location
        self.resolver = resolver
        self.namespace = namespace or Namespace()
        self.list_sep = location.hierarchy_sep
        self.separator = self.namespace.separator or self.list_sep
        self.inbox = "INBOX"
        self.prefix = self.namespace.prefix
        self.root_real = self.real(location.root_dir)

    # --- paths -------------------------------------------------------------------
    def real(self, path: str) -> str:
        """A configuration path in the sandbox."""
        return self.resolver.real(path)

    def contained(self, real: str, base: str) -> str:
        """``real`` if it lies inside ``base`` (after resolving symlinks), else refuse."""
        resolved = os.path.realpath(real)
        base_resolved = os.path.realpath(base)
        if resolved != base_resolved and not resolved.startswith(base_resolved + os.sep):
            raise names.invalid()
        return real

    def strip_prefix(self, vname: str) -> str:
        """The name inside the namespace (the prefix is removed and checked)."""
        if names.is_inbox(vname):
            return "INBOX"
        if self.prefix:
            if vname + self.separator == self.prefix:
                raise StorageError(f"Invalid mailbox name '{vname}': "
                                   "Ends with hierarchy separator", "CANNOT")
            if not vname.startswith(self.prefix):
                raise StorageError(f"Invalid mailbox name '{vname}': Missing namespace "
                                   f"prefix '{self.prefix}'", "CANNOT")
            vname = vname[len(self.prefix):]
        return names.normalize(vname, self.separator)

    def check(self, vname: str, *, create: bool = False) -> str:
        """Verify a client name; returns the name inside the namespace."""
        if "\x00" in vname:
            raise names.invalid()
        inner = self.strip_prefix(vname)
        names.verify(inner, self.separator, self.list_sep, create=create,
                     reserved=self.reserved)
        return inner

    def storage_name(self, inner: str) -> str:
        return names.to_storage_name(inner, self.separator, self.list_sep,
                                     self.location.utf8)

    def shown(self, inner: str) -> str:
        return "INBOX" if inner == "INBOX" else self.prefix + inner

    # --- subscriptions (src/lib-storage/list/subscription-file.c) -----------------
    def subscriptions_path(self) -> str:
        fname = self.location.subscription_fname or "subscriptions"
        base = self.location.control_dir or self.location.root_dir
        return self.contained(self.real(base + "/" + fname), self.real(base))

    def _read_subscriptions(self) -> list[str]:
        try:
            with open(self.subscriptions_path(), "rb") as f:
                data = f.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return []
        version2 = data.startswith("V\t2\n\n")
        if version2:
            data = data[5:]
        out = []
        for line in data.split("\n"):
            if not line:
                continue
            if version2:
                parts = [_tab_unescape(p) for p in line.split("\t")]
                line = self.list_sep.join(parts)
            out.append(line)
        return out

    def _write_subscriptions(self, storage_names: list[str]) -> None:
        path = self.subscriptions_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lines = ["\t".join(_tab_escape(p) for p in n.split(self.list_sep))
                 for n in storage_names]
        data = ("V\t2\n\n" + "".join(line + "\n" for line in lines)).encode(
            "utf-8", "surrogateescape")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def subscriptions(self) -> list[str]:
        out = []
        for sname in self._read_subscriptions():
            inner = ("INBOX" if sname == "INBOX" else
                     names.from_storage_name(sname, self.separator, self.list_sep,
                                             self.location.utf8))
            if inner is not None:
                out.append(self.shown(inner))
        return out

    def _set_subscribed(self, vname: str, subscribed: bool) -> None:
        inner = self.check(vname)
        sname = "INBOX" if inner == "INBOX" else self.storage_name(inner)
        path = self.subscriptions_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with dotlocked(path, timeout=30, stale_timeout=30):
            current = self._read_subscriptions()
            if subscribed and sname not in current:
                current.append(sname)
            elif not subscribed and sname in current:
                current.remove(sname)
            else:
                return
            self._write_subscriptions(current)

    def rename_subscriptions(self, src: str, dst: str) -> None:
        """A renamed folder (and its children) stays subscribed under the new name."""
        old_s, new_s = self.storage_name(src), self.storage_name(dst)
        path = self.subscriptions_path()
        if not os.path.exists(path):
            return
        with dotlocked(path, timeout=30, stale_timeout=30):
            subs = self._read_subscriptions()
            renamed = [new_s + s[len(old_s):]
                       if s == old_s or s.startswith(old_s + self.list_sep) else s
                       for s in subs]
            if renamed != subs:
                self._write_subscriptions(renamed)

    def subscribe(self, name: str) -> None:
        self._set_subscribed(name, True)

    def unsubscribe(self, name: str) -> None:
        self._set_subscribed(name, False)

    # --- LIST --------------------------------------------------------------------
    def existing(self) -> list[str]:
        """Inner names (namespace separator) of selectable folders, INBOX included."""
        raise NotImplementedError

    def list(self) -> list[MailboxListing]:
        selectable = set(self.existing())
        selectable.add("INBOX")
        every = set(selectable)
        for inner in selectable:
            parts = inner.split(self.separator)
            for i in range(1, len(parts)):
                every.add(self.separator.join(parts[:i]))
        special = {name: str(s.get("special_use", "") or "")
                   for name, s in self.namespace.mailboxes.items()}
        out = []
        for inner in sorted(every, key=lambda n: (n != "INBOX", n)):
            flags = set()
            if inner not in selectable:
                flags.add("\\Noselect")
            has_children = any(o.startswith(inner + self.separator) for o in every)
            flags.add("\\HasChildren" if has_children else "\\HasNoChildren")
            use = special.get(inner) or None
            out.append(MailboxListing(self.shown(inner), frozenset(flags),
                                      use.split()[0] if use else None))
        return out

    def autocreate(self) -> None:
        """``mailbox X { auto = create|subscribe }`` folders exist from the start."""
        for name, settings in self.namespace.mailboxes.items():
            auto = str(settings.get("auto", "no") or "no")
            if auto in ("create", "subscribe"):
                with contextlib.suppress(StorageError):
                    self.create(self.shown(name))
                if auto == "subscribe" and self.shown(name) not in self.subscriptions():
                    self.subscribe(self.shown(name))

    def create(self, name: str) -> None:
        raise NotImplementedError


def _tab_escape(text: str) -> str:
    return (text.replace("\x01", "\x011").replace("\x00", "\x010").replace("\t", "\x01t")
            .replace("\r", "\x01r").replace("\n", "\x01n"))


def _tab_unescape(text: str) -> str:
    if "\x01" not in text:
        return text
    out = []
    i = 0
    table = {"0": "\x00", "1": "\x01", "t": "\t", "r": "\r", "n": "\n"}
    while i < len(text):
        if text[i] == "\x01" and i + 1 < len(text):
            out.append(table.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class View:
    """One session's messages, and the differences a sync reports."""

    def __init__(self) -> None:
        self.messages: list[MessageInfo] = []
        self.index: dict[int, int] = {}

    def reset(self, messages: list[MessageInfo]) -> None:
        self.messages = list(messages)
        self.index = {m.uid: i for i, m in enumerate(self.messages)}

    def get(self, uid: int) -> MessageInfo | None:
        i = self.index.get(uid)
        return None if i is None else self.messages[i]

    def update(self, info: MessageInfo) -> None:
        i = self.index.get(info.uid)
        if i is not None:
            self.messages[i] = info

    def remove(self, uids: Iterable[int]) -> None:
        gone = set(uids)
        if gone:
            self.reset([m for m in self.messages if m.uid not in gone])

    def merge(self, disk: list[MessageInfo]) -> SyncResult:
        """Replace the view with ``disk`` (UID order) and say what changed."""
        result = SyncResult()
        on_disk = {m.uid: m for m in disk}
        result.expunged_uids = [m.uid for m in self.messages if m.uid not in on_disk]
        last = self.messages[-1].uid if self.messages else 0
        for m in disk:
            old = self.get(m.uid)
            if old is None:
                if m.uid > last:
                    result.new.append(m)
            elif old.flags != m.flags:
                result.flag_changes.append(m)
        kept = [m for m in disk if m.uid in self.index or m.uid > last]
        self.reset(kept)
        return result
