"""Maildir as Dovecot 2.3 keeps it, so that Dovecot and the lab can share one.

On disk (src/lib-storage/index/maildir/):

- a folder is a directory with ``tmp/``, ``new/`` and ``cur/``. A message is written
  into ``tmp/`` and renamed into ``new/`` (no flags) or ``cur/`` (with flags), so it
  appears whole or not at all;
- file names are ``<secs>.M<usecs>P<pid>.<host>,S=<size>,W=<vsize>[:2,<flags>]``
  (maildir-filename.c, maildir-save.c): ``S=`` the stored size, ``W=`` the size
  with CRLF line ends, which Dovecot (and so POP3) trusts without reading the file;
- flags are letters after ``:2,`` in ASCII order: D Draft, F Flagged, R Answered
  (replied), S Seen, T Deleted (trashed); ``P`` (passed) and other letters are kept
  as they are; ``a``...``z`` are keywords numbered by ``dovecot-keywords``
  (lines ``<n> <name>``);
- ``dovecot-uidlist`` gives UIDs (maildir-uidlist.c, version 3): a header
  ``3 V<uidvalidity> N<nextuid> G<guid>`` and one line per message,
  ``<uid> [<key><value> ...] :<file name before ':'>``. It is changed only under
  the dotlock ``dovecot-uidlist.lock``, written to ``dovecot-uidlist.tmp`` and
  renamed into place, so a crash leaves either the old or the new list;
- Maildir++ (the default layout): INBOX is the root, other folders are
  ``.Name`` directories with ``.`` as hierarchy separator (``.Archive.2024``),
  each with an empty ``maildirfolder`` file; ``LAYOUT=fs`` uses ``/`` and plain
  subdirectories (with ``DIRNAME=`` the maildir sits in a subdirectory of that name).

A session's ``sync()`` takes the uidlist lock, moves new arrivals from ``new/`` to
``cur/``, gives UIDs to files the list does not know, in the order of their names'
timestamps, and drops files that are gone. \\Recent follows Dovecot's index header
``first_recent_uid``, which the lab keeps in a small file of its own beside the uidlist
(``RECENT``: ``<uidvalidity> <first recent uid>``): every UID from there on is \\Recent
for the first read-write session that syncs the folder, which then moves the mark to
the next UID; an APPEND or COPY target (save-only) and EXAMINE leave it where it is.
Every change of the file names (flags, expunges, appends) is made under the same lock,
so concurrent lab sessions in threads or processes never lose or reuse a UID.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import errno
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from labserver.config.resolve import PathResolver

from . import names
from .base import FolderStore, Namespace, View, apply_mode, normalize_flags
from .location import MailLocation
from .locking import dotlocked, my_hostname
from .model import MessageInfo, StorageError, SyncResult
from .sizes import to_crlf, to_lf, virtual_size
from .uids import new_guid, next_uidvalidity

UIDLIST = "dovecot-uidlist"
KEYWORDS = "dovecot-keywords"
RECENT = "labserver-recent"
SUBFOLDER_FILE = "maildirfolder"
UIDLIST_STALE_TIMEOUT = 120  # MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT
MAX_KEYWORDS = 26

# maildir-filename-flags.c
LETTER_TO_FLAG = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                  "T": "\\Deleted"}
FLAG_TO_LETTER = {v: k for k, v in LETTER_TO_FLAG.items()}


# --- file names ---------------------------------------------------------------------

def split_info(fname: str) -> tuple[str, str | None]:
    """``base:2,FS`` -> (``base``, ``FS``); no ``:2,`` info -> (base, None)."""
    base, colon, info = fname.rpartition(":")
    if not colon:
        return fname, None
    if info.startswith("2,"):
        return base, info[2:]
    return base, None


def get_size(fname: str, key: str) -> int | None:
    """maildir_filename_get_size(): ``,S=`` or ``,W=`` before ``:`` or ``,``."""
    m = re.search(rf",{key}=(\d*)(?=[:,]|$)", fname.split(":", 1)[0])
    return int(m.group(1)) if m and m.group(1) != "" else (0 if m else None)


def flags_from_info(info: str | None, keywords: dict[str, str]) -> frozenset[str]:
    """The IMAP flags of a ``:2,`` info part; ``keywords`` maps letters to names."""
    if not info:
        return frozenset()
    out = set()
    for ch in info.split(",", 1)[0]:
        if ch in LETTER_TO_FLAG:
            out.add(LETTER_TO_FLAG[ch])
        elif "a" <= ch <= "z" and ch in keywords:
            out.add(keywords[ch])
    return frozenset(out)


def info_from_flags(flags: frozenset[str], letters_of: dict[str, str],
                    old_info: str | None = None) -> str:
    """The ``:2,`` info for ``flags``, keeping letters Dovecot does not know (``P``)."""
    old = (old_info or "").split(",", 1)
    kept = {c for c in old[0] if not (c in LETTER_TO_FLAG or "a" <= c <= "z")}
    letters = {FLAG_TO_LETTER[f] for f in flags if f in FLAG_TO_LETTER}
    letters |= {letters_of[f] for f in flags if f in letters_of}
    text = "".join(sorted(letters | kept))
    if len(old) > 1:
        text += "," + old[1]
    return text


_counter_lock = threading.Lock()
_last_tv = [0, 0]


def generate_base() -> str:
    """maildir_filename_generate(): ``<secs>.M<usecs>P<pid>.<host>``, unique per process."""
    now = time.time_ns() // 1000
    with _counter_lock:
        secs, usecs = divmod(now, 1_000_000)
        if (secs, usecs) <= tuple(_last_tv):
            secs, usecs = _last_tv
            usecs += 1
            if usecs == 1_000_000:
                secs, usecs = secs + 1, 0
        _last_tv[:] = [secs, usecs]
    return f"{secs}.M{usecs}P{os.getpid()}.{my_hostname()}"


def _order_key(base: str) -> tuple[int, int, str]:
    m = re.match(r"(\d+)\.(?:M(\d+))?", base)
    if not m:
        return (0, 0, base)
    return (int(m.group(1)), int(m.group(2) or 0), base)


# --- dovecot-uidlist ---------------------------------------------------------------

@dataclass(slots=True)
class UidRecord:
    uid: int
    base: str
    ext: list[str] = field(default_factory=list)  # "W1234", "GXXXX"...

    def ext_value(self, key: str) -> str | None:
        for item in self.ext:
            if item.startswith(key):
                return item[1:]
        return None


@dataclass(slots=True)
class Uidlist:
    uidvalidity: int
    next_uid: int
    guid: str
    records: list[UidRecord] = field(default_factory=list)
    hdr_ext: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Uidlist:
        lines = text.split("\n")
        head = lines[0]
        if len(head) < 2 or not head[0].isdigit() or head[1] != " ":
            raise ValueError("Corrupted header (invalid version number)")
        version = int(head[0])
        uidvalidity = next_uid = 0
        guid = ""
        hdr_ext: list[str] = []
        if version == 1:
            a, b = head[2:].split()[:2]
            uidvalidity, next_uid = int(a), int(b)
        elif version == 3:
            for item in head[2:].split():
                key, value = item[0], item[1:]
                if key == "V":
                    uidvalidity = int(value)
                elif key == "N":
                    next_uid = int(value)
                elif key == "G":
                    guid = value
                else:
                    hdr_ext.append(item)
        else:
            raise ValueError(f"Unsupported version {version}")
        if uidvalidity == 0 or next_uid == 0:
            raise ValueError(f"Broken header (uidvalidity = {uidvalidity}, "
                             f"next_uid={next_uid})")
        records: list[UidRecord] = []
        seen: dict[str, int] = {}
        prev = 0
        for line in lines[1:]:
            if not line:
                continue
            num, _, rest = line.partition(" ")
            if not num.isdigit() or int(num) <= prev:
                raise ValueError(f"Invalid data: {line}")
            uid = prev = int(num)
            ext: list[str] = []
            if version == 3:
                while rest and not rest.startswith(":"):
                    item, _, rest = rest.partition(" ")
                    if item and "A" <= item[0] <= "Z":
                        ext.append(item)
                    rest = rest.lstrip(" ")
                rest = rest[1:] if rest.startswith(":") else rest
            base = rest.split(":", 1)[0]
            if not base or "/" in base:
                raise ValueError(f"Broken filename: {line}")
            if base in seen:
                records = [r for r in records if r.base != base]
            seen[base] = uid
            records.append(UidRecord(uid, base, ext))
        next_uid = max(next_uid, prev + 1)
        return cls(uidvalidity, next_uid, guid or new_guid(), records, hdr_ext)

    def format(self) -> str:
        head = f"3 V{self.uidvalidity} N{self.next_uid} G{self.guid}"
        if self.hdr_ext:
            head += " " + " ".join(self.hdr_ext)
        lines = [head]
        for r in self.records:
            lines.append(" ".join([str(r.uid), *r.ext]) + " :" + r.base)
        return "\n".join(lines) + "\n"


def _write_atomic(path: str, data: bytes, tmp_suffix: str = ".tmp") -> None:
    tmp = path + tmp_suffix
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# --- one file on disk ---------------------------------------------------------------

@dataclass(slots=True)
class Entry:
    uid: int
    base: str
    subdir: str  # "cur" or "new"
    fname: str

    @property
    def relpath(self) -> str:
        return f"{self.subdir}/{self.fname}"


class MaildirMailbox:
    """One session's view of one Maildir folder."""

    # Which file keeps the UIDs, in which format: a hook for servers that keep them
    # elsewhere (the Courier personality's courierimapuiddb).
    UIDLIST_NAME: ClassVar[str] = UIDLIST
    UIDLIST_FORMAT: ClassVar[type[Uidlist]] = Uidlist

    def __init__(self, store: MaildirStorage, vname: str, path: str, control: str,
                 readonly: bool = False, save_only: bool = False) -> None:
        self.store = store
        self.name = vname
        self.readonly = readonly
        self.path = path
        self.control = control
        if control != path:
            # A separate CONTROL= directory is made on first use, as Dovecot does for a
            # Maildir that existed before CONTROL= was set.
            os.makedirs(control, exist_ok=True)
        self.uidlist_path = os.path.join(control, self.UIDLIST_NAME)
        self.keywords_path = os.path.join(control, KEYWORDS)
        self.recent_path = os.path.join(control, RECENT)
        self._view = View()
        self._entries: dict[int, Entry] = {}
        self._recent: set[int] = set()
        self._uidnext = 1
        self.uidvalidity = 0
        self._closed = False
        # A delivery or COPY target (Dovecot's MAILBOX_FLAG_SAVEONLY) claims no \Recent.
        self._save_only = save_only
        self._view.reset(self._refresh())

    # --- protocol -------------------------------------------------------------------
    @property
    def uidnext(self) -> int:
        return self._uidnext

    @property
    def messages(self) -> Sequence[MessageInfo]:
        return tuple(self._view.messages)

    @property
    def recent_uids(self) -> frozenset[int]:
        """Messages that are \\Recent in this session (it claimed them)."""
        return frozenset(u for u in self._recent if u in self._view.index)

    def first_recent_uid(self) -> int:
        """The first UID no read-write session has claimed as \\Recent (1: none has)."""
        try:
            with open(self.recent_path, encoding="ascii") as f:
                validity, first = (int(x) for x in f.read().split())
        except (FileNotFoundError, ValueError):
            return 1
        return first if validity == self.uidvalidity else 1

    def sync(self) -> SyncResult:
        return self._view.merge(self._refresh())

    def read(self, uid: int) -> bytes:
        return to_crlf(self.read_raw(uid))

    def read_raw(self, uid: int) -> bytes:
        """The message as stored (usually bare LF line ends)."""
        if self._view.get(uid) is None:
            raise StorageError(f"Invalid UID {uid}", "NONEXISTENT")
        for attempt in range(3):
            entry = self._entries.get(uid)
            if entry is not None:
                try:
                    with open(os.path.join(self.path, entry.relpath), "rb") as f:
                        return f.read()
                except FileNotFoundError:
                    pass
            if attempt < 2:
                self._locate(uid)
        raise StorageError("Message was expunged", "EXPUNGEISSUED")

    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: dt.datetime | None = None) -> int:
        self._check_open()
        if self.readonly:
            raise StorageError("Mailbox is read-only", "CANNOT")
        wanted = normalize_flags(flags)
        body = to_lf(data)
        tmp, base = self._write_tmp(body, internaldate)
        return self._commit_tmp(tmp, base, wanted)

    def set_flags(self, uids: Iterable[int], flags: Iterable[str], mode: str
                  ) -> list[MessageInfo]:
        self._check_open()
        wanted = normalize_flags(flags)
        if self.readonly:
            return []
        targets = [u for u in sorted(set(uids)) if self._view.get(u) is not None]
        changed: list[MessageInfo] = []
        with self._lock():
            state = self._disk_state()
            keywords = self._read_keywords()
            letters = self._letters_for(wanted, keywords)
            for uid in targets:
                entry = state.get(uid)
                if entry is None:
                    continue
                base, info = split_info(entry.fname)
                old = flags_from_info(info, keywords)
                new = apply_mode(old, wanted, mode)
                new_info = info_from_flags(new, letters, info)
                new_fname = f"{base}:2,{new_info}"
                if entry.subdir == "cur" and new_fname == entry.fname:
                    continue
                src = os.path.join(self.path, entry.relpath)
                try:
                    os.rename(src, os.path.join(self.path, "cur", new_fname))
                except FileNotFoundError:
                    continue
                self._entries[uid] = Entry(uid, base, "cur", new_fname)
                mine = self._view.get(uid)
                assert mine is not None
                info_new = _replace_flags(mine, flags_from_info(new_info, keywords))
                self._view.update(info_new)
                if info_new.flags != mine.flags:
                    changed.append(info_new)
        return changed

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        self._check_open()
        if self.readonly:
            return []
        allowed = None if uids is None else set(uids)
        gone: list[int] = []
        with self._lock():
            state = self._disk_state()
            keywords = self._read_keywords()
            for m in self._view.messages:
                if allowed is not None and m.uid not in allowed:
                    continue
                entry = state.get(m.uid)
                if entry is None:
                    continue
                if "\\Deleted" not in flags_from_info(split_info(entry.fname)[1], keywords):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.path, entry.relpath))
                gone.append(m.uid)
            if gone:
                self._refresh_locked()
        self._view.remove(gone)
        return gone

    def copy(self, uids: Iterable[int], dest: str) -> list[tuple[int, int]]:
        self._check_open()
        target = self.store.open_for_save(dest)
        pairs: list[tuple[int, int]] = []
        for uid in sorted(set(uids)):
            info = self._view.get(uid)
            if info is None:
                continue
            try:
                raw = self.read_raw(uid)
            except StorageError:
                continue
            entry = self._entries[uid]
            tmp, base = target._link_or_write_tmp(
                os.path.join(self.path, entry.relpath), raw, info.internaldate)
            pairs.append((uid, target._commit_tmp(tmp, base, info.flags)))
        target.close()
        return pairs

    def close(self) -> None:
        self._closed = True

    # --- internals: saving ----------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("Mailbox is closed", "CLIENTBUG")
        if not os.path.isdir(os.path.join(self.path, "cur")):
            raise StorageError("Mailbox was deleted under us", "NONEXISTENT")

    def _write_tmp(self, body: bytes, internaldate: dt.datetime | None) -> tuple[str, str]:
        base = f"{generate_base()},S={len(body)},W={virtual_size(body)}"
        tmp = os.path.join(self.path, "tmp", base)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if internaldate is not None:
            stamp = internaldate.timestamp()
            os.utime(tmp, (stamp, stamp))
        return tmp, base

    def _link_or_write_tmp(self, src: str, raw: bytes, internaldate: dt.datetime
                           ) -> tuple[str, str]:
        """maildir-copy.c: a hard link when possible, else a copy of the bytes."""
        base = f"{generate_base()},S={len(raw)},W={virtual_size(raw)}"
        tmp = os.path.join(self.path, "tmp", base)
        try:
            os.link(src, tmp)
            return tmp, base
        except OSError:
            return self._write_tmp(raw, internaldate)

    def _commit_tmp(self, tmp: str, base: str, flags: frozenset[str]) -> int:
        """Rename a finished tmp/ file into place and give it the next UID."""
        try:
            with self._lock():
                if flags:
                    keywords = self._read_keywords()
                    letters = self._letters_for(flags, keywords)
                    final = os.path.join(self.path, "cur",
                                         f"{base}:2,{info_from_flags(flags, letters)}")
                else:
                    final = os.path.join(self.path, "new", base)
                os.rename(tmp, final)
                self._refresh_locked(claim_new=False)
                for entry in self._entries.values():
                    if entry.base == base:
                        return entry.uid
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise StorageError("Message was expunged", "EXPUNGEISSUED")

    # --- internals: keywords --------------------------------------------------------
    def _read_keywords(self) -> dict[str, str]:
        """Letter -> keyword name, from dovecot-keywords."""
        try:
            with open(self.keywords_path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        out = {}
        for line in text.splitlines():
            num, _, name = line.partition(" ")
            if num.isdigit() and int(num) < MAX_KEYWORDS and name:
                out[chr(ord("a") + int(num))] = name
        return out

    def _letters_for(self, flags: frozenset[str], keywords: dict[str, str]) -> dict[str, str]:
        """Keyword name -> letter, adding names to dovecot-keywords as needed.

        Called with the uidlist lock held; the keywords file has its own dotlock,
        as Dovecot writes it under ``dovecot-keywords.lock``.
        """
        by_name = {v: k for k, v in keywords.items()}
        missing = [f for f in sorted(flags) if not f.startswith("\\") and f not in by_name]
        if missing:
            with dotlocked(self.keywords_path, timeout=30, stale_timeout=30):
                keywords.clear()
                keywords.update(self._read_keywords())
                by_name = {v: k for k, v in keywords.items()}
                free = [chr(ord("a") + i) for i in range(MAX_KEYWORDS)
                        if chr(ord("a") + i) not in keywords]
                added = False
                for name in missing:
                    if name in by_name or not free:
                        continue  # Dovecot keeps the 27th keyword in its index only
                    letter = free.pop(0)
                    keywords[letter] = name
                    by_name[name] = letter
                    added = True
                if added:
                    text = "".join(f"{ord(k) - ord('a')} {v}\n"
                                   for k, v in sorted(keywords.items()))
                    _write_atomic(self.keywords_path,
                                  text.encode("utf-8", "surrogateescape"), ".lab-tmp")
        return by_name

    # --- internals: syncing ---------------------------------------------------------
    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return dotlocked(self.uidlist_path, stale_timeout=UIDLIST_STALE_TIMEOUT)

    def _read_uidlist(self) -> Uidlist | None:
        """The parsed uidlist; ``_uidlist_source`` is the cache entry it came from."""
        self._uidlist_source: object = None
        try:
            with open(self.uidlist_path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        key = (self.uidlist_path, self.UIDLIST_FORMAT)
        cached = _UIDLISTS.get(key)
        if cached is not None and cached[0] == text:
            self._uidlist_source = cached
            return _copy_uidlist(cached[1])
        try:
            parsed = self.UIDLIST_FORMAT.parse(text)
        except (ValueError, IndexError):
            return None  # corrupted: Dovecot rebuilds it with a new UIDVALIDITY
        if len(_UIDLISTS) >= _PER_FOLDER_CACHE_MAX:
            _UIDLISTS.clear()
        _UIDLISTS[key] = self._uidlist_source = (text, _copy_uidlist(parsed))
        return parsed

    def _scan(self) -> dict[str, tuple[str, str]]:
        """base -> (subdir, file name); new/ is read before cur/ (a file moving from
        new/ to cur/ meanwhile is then seen at least once), and the scan is repeated
        while another process changed the directories under it. ``_scan_source`` is
        the cache entry the listing came from or went to (None: a fresh listing of
        directories that changed too recently to keep)."""
        self._scan_source: object = None
        for _ in range(10):
            before = [_mtime_ns(os.path.join(self.path, d)) for d in ("new", "cur")]
            cached = _SCANS.get(self.path)
            if cached is not None and cached[0] == before:
                self._scan_source = cached
                return dict(cached[1])
            found: dict[str, tuple[str, str]] = {}
            for sub in ("new", "cur"):
                try:
                    listing = os.listdir(os.path.join(self.path, sub))
                except FileNotFoundError:
                    raise StorageError("Mailbox was deleted under us", "NONEXISTENT") from None
                for fname in listing:
                    if fname.startswith("."):
                        continue
                    base = split_info(fname)[0] if ":" in fname else fname
                    found[base] = (sub, fname)
            after = [_mtime_ns(os.path.join(self.path, d)) for d in ("new", "cur")]
            if before == after:
                # A directory's mtime moves with every file added, renamed or removed,
                # but in clock ticks: a listing is reused only once both directories
                # had been still for SCAN_TRUST_NS when it was taken (Dovecot, too,
                # rescans a directory changed within the last second).
                if -1 not in after and time.time_ns() - max(after) > SCAN_TRUST_NS:
                    if len(_SCANS) >= _PER_FOLDER_CACHE_MAX:
                        _SCANS.clear()
                    _SCANS[self.path] = self._scan_source = (after, dict(found))
                break
        return found

    def _disk_state(self) -> dict[int, Entry]:
        """UID -> file, read with the lock held (no renames, no uidlist writes)."""
        uidlist = self._read_uidlist()
        files = self._scan()
        out = {}
        for r in uidlist.records if uidlist else []:
            if r.base in files:
                sub, fname = files[r.base]
                out[r.uid] = Entry(r.uid, r.base, sub, fname)
        self._entries.update(out)
        return out

    def _refresh(self) -> list[MessageInfo]:
        with self._lock():
            return self._refresh_locked(claim_new=not (self.readonly or self._save_only))

    def _refresh_locked(self, claim_new: bool = False) -> list[MessageInfo]:
        uidlist = self._read_uidlist()
        changed = False
        if uidlist is None:
            uidlist = self.UIDLIST_FORMAT(next_uidvalidity(self.store.uidvalidity_dir()), 1,
                                          new_guid())
            changed = True
        self.uidvalidity = uidlist.uidvalidity
        first_recent = self.first_recent_uid() if claim_new else None
        files = self._scan()
        # Read from the same uidlist and listing as a refresh made with nothing to
        # change: its entries and infos are the answer again.
        sources = (self._uidlist_source, self._scan_source, claim_new)
        memo = _REFRESHES.get(self.path)
        unclaimed = first_recent is not None and first_recent < uidlist.next_uid
        if None not in sources and memo is not None and memo[0][0] is sources[0] \
                and memo[0][1] is sources[1] and memo[0][2] == claim_new and not unclaimed:
            keywords = self._read_keywords()
            if memo[1] == keywords:
                self.uidvalidity = uidlist.uidvalidity
                self._uidnext = uidlist.next_uid
                self._entries = dict(memo[2])
                return list(memo[3])
        recent: set[str] = set()
        if claim_new:
            for base, (sub, fname) in list(files.items()):
                if sub != "new":
                    continue
                dest = fname if ":" in fname else fname + ":2,"
                try:
                    os.rename(os.path.join(self.path, "new", fname),
                              os.path.join(self.path, "cur", dest))
                except FileNotFoundError:
                    continue
                files[base] = ("cur", dest)
                recent.add(base)
        known = set()
        kept = []
        for r in uidlist.records:
            if r.base in files:
                kept.append(r)
                known.add(r.base)
        if len(kept) != len(uidlist.records):
            changed = True
        uidlist.records = kept
        for base in sorted((b for b in files if b not in known), key=_order_key):
            uidlist.records.append(UidRecord(uidlist.next_uid, base))
            uidlist.next_uid += 1
            changed = True
        if changed:
            _write_atomic(self.uidlist_path, uidlist.format().encode("utf-8",
                                                                   "surrogateescape"))
        self.uidvalidity = uidlist.uidvalidity
        self._uidnext = uidlist.next_uid
        keywords = self._read_keywords()
        claimed = first_recent is not None and first_recent < uidlist.next_uid
        if claimed:
            self._recent.update(r.uid for r in uidlist.records if r.uid >= first_recent)
            _write_atomic(self.recent_path, f"{uidlist.uidvalidity} {uidlist.next_uid}\n"
                          .encode("ascii"))
        steady = not changed and not recent and not claimed and None not in sources
        self._entries = {}
        infos = []
        for r in uidlist.records:
            sub, fname = files[r.base]
            self._entries[r.uid] = Entry(r.uid, r.base, sub, fname)
            info = self._info(r, sub, fname, keywords)
            if info is not None:
                infos.append(info)
        if steady:
            if len(_REFRESHES) >= _PER_FOLDER_CACHE_MAX:
                _REFRESHES.clear()
            _REFRESHES[self.path] = (sources, dict(keywords), dict(self._entries), list(infos))
        return infos

    def _info(self, r: UidRecord, sub: str, fname: str, keywords: dict[str, str]
              ) -> MessageInfo | None:
        key = (self.path, r.base)
        cached = _INFO_CACHE.get(key)
        if cached is None:
            path = os.path.join(self.path, sub, fname)
            # A Maildir message file never changes its content (only its name, for
            # flags), so what is learnt from it once holds for every later session.
            try:
                st = os.stat(path)
            except FileNotFoundError:
                return None
            phys = get_size(r.base, "S")
            virt = get_size(r.base, "W")
            if virt is None and r.ext_value("W") is not None:
                virt = int(r.ext_value("W") or 0)
            if phys is None:
                phys = st.st_size
            if virt is None:
                try:
                    with open(path, "rb") as f:
                        virt = virtual_size(f.read())
                except FileNotFoundError:
                    return None
            when = dt.datetime.fromtimestamp(int(st.st_mtime), dt.UTC).astimezone()
            cached = (when, phys, virt)
            if len(_INFO_CACHE) >= _INFO_CACHE_MAX:
                _INFO_CACHE.clear()
            _INFO_CACHE[key] = cached
        when, phys, virt = cached
        return MessageInfo(uid=r.uid, flags=flags_from_info(split_info(fname)[1], keywords),
                           internaldate=when, virtual_size=virt, physical_size=phys,
                           guid=r.ext_value("G") or r.base)

    def _locate(self, uid: int) -> None:
        with self._lock():
            self._disk_state()


# (folder path, base name) -> (internal date, physical size, virtual size)
_INFO_CACHE: dict[tuple[str, str], tuple[dt.datetime, int, int]] = {}
_INFO_CACHE_MAX = 1_000_000
# What a warm SELECT would otherwise parse and list again: per folder, the uidlist's text
# and its parse, and the last listing of new/ and cur/ with the directories' mtimes.
_UIDLISTS: dict[tuple[str, type], tuple[str, Uidlist]] = {}
_SCANS: dict[str, tuple[list[int], dict[str, tuple[str, str]]]] = {}
# Per folder: the uidlist and listing cache entries, claim_new and keywords of a refresh
# that changed nothing, and its entries and infos (MaildirMailbox._refresh_locked).
_REFRESHES: dict[str, tuple[tuple[object, object, bool], dict[str, str],
                            dict[int, Entry], list[MessageInfo]]] = {}
_PER_FOLDER_CACHE_MAX = 256
SCAN_TRUST_NS = 2_000_000_000


def _copy_uidlist(uidlist: Uidlist) -> Uidlist:
    """A copy whose record list and header extensions the caller may change."""
    out = copy.copy(uidlist)
    out.records = list(uidlist.records)
    out.hdr_ext = list(uidlist.hdr_ext)
    return out


def _replace_flags(info: MessageInfo, flags: frozenset[str]) -> MessageInfo:
    return MessageInfo(uid=info.uid, flags=flags, internaldate=info.internaldate,
                       virtual_size=info.virtual_size, physical_size=info.physical_size,
                       guid=info.guid)


def _mtime_ns(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


class MaildirStorage(FolderStore):
    """All Maildir folders of one user (Maildir++ or LAYOUT=fs)."""

    mailbox_class: ClassVar[type[MaildirMailbox]] = MaildirMailbox

    def __init__(self, location: MailLocation, resolver: PathResolver,
                 namespace: Namespace | None = None) -> None:
        super().__init__(location, resolver, namespace)
        self.fs_layout = location.layout == "fs"
        self.reserved = ("cur", "new", "tmp") if self.fs_layout and not location.maildir_name \
            else ()

    # --- paths --------------------------------------------------------------------
    def uidvalidity_dir(self) -> str:
        return self.real(self.location.control_dir or self.location.root_dir)

    def _dir_of(self, base_conf: str, storage_name: str) -> str:
        if self.fs_layout:
            path = f"{base_conf}/{self.location.mailbox_dir_name}{storage_name}"
            if self.location.maildir_name:
                path += "/" + self.location.maildir_name
            return path
        return f"{base_conf}/.{storage_name}"

    def paths(self, inner: str) -> tuple[str, str]:
        """(mailbox directory, control directory), as real paths inside the sandbox."""
        loc = self.location
        if inner == "INBOX" and loc.inbox_path:
            mailbox = self.real(loc.inbox_path)
            # Dovecot 2.3 keeps INBOX's control files under CONTROL= like any folder's:
            # CONTROL/.INBOX (Maildir++) or CONTROL/INBOX (LAYOUT=fs).
            control = self.real(self._dir_of(loc.control_dir, "INBOX")) if loc.control_dir \
                else mailbox
            return mailbox, control
        sname = self.storage_name(inner)
        mailbox = self.contained(self.real(self._dir_of(loc.root_dir, sname)), self.root_real)
        if loc.control_dir:
            control_root = self.real(loc.control_dir)
            control = self.contained(self.real(self._dir_of(loc.control_dir, sname)),
                                     control_root)
        else:
            control = mailbox
        return mailbox, control

    def exists(self, inner: str) -> bool:
        return os.path.isdir(os.path.join(self.paths(inner)[0], "cur"))

    # --- folders ------------------------------------------------------------------
    def existing(self) -> list[str]:
        out: list[str] = []
        root = self.root_real
        if not os.path.isdir(root):
            return out
        if not self.fs_layout:
            for entry in sorted(os.listdir(root)):
                if not entry.startswith(".") or entry in (".", "..") or entry.startswith(".."):
                    continue
                if not os.path.isdir(os.path.join(root, entry, "cur")):
                    continue
                inner = names.from_storage_name(entry[1:], self.separator, self.list_sep,
                                                self.location.utf8)
                if inner is None or names.is_inbox(inner):
                    continue
                out.append(inner)
            return out
        base = os.path.join(root, self.location.mailbox_dir_name) \
            if self.location.mailbox_dir_name else root
        dirname = self.location.maildir_name
        for current, dirs, _files in os.walk(base):
            rel = os.path.relpath(current, base)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and
                             d not in ("cur", "new", "tmp") and d != dirname)
            if rel == ".":
                continue
            box = os.path.join(current, dirname) if dirname else current
            if not os.path.isdir(os.path.join(box, "cur")):
                continue
            inner = names.from_storage_name(rel.replace(os.sep, "/"), self.separator, "/",
                                            self.location.utf8)
            if inner is None or (names.is_inbox(inner) and self.location.inbox_path):
                continue
            out.append("INBOX" if names.is_inbox(inner) else inner)
        return out

    def _make_maildir(self, mailbox: str, control: str, subfolder: bool) -> None:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(mailbox, sub), exist_ok=True)
        os.makedirs(control, exist_ok=True)
        if subfolder and not self.fs_layout:
            path = os.path.join(mailbox, SUBFOLDER_FILE)
            if not os.path.exists(path):
                open(path, "wb").close()

    def ensure_inbox(self) -> None:
        mailbox, control = self.paths("INBOX")
        if not os.path.isdir(os.path.join(mailbox, "cur")):
            self._make_maildir(mailbox, control, subfolder=False)

    def create(self, name: str) -> None:
        if name.endswith(self.separator) and len(name) > 1:
            name = name[:-1]  # "CREATE foo/" declares a hierarchy (RFC 3501 §6.3.3)
        inner = self.check(name, create=True)
        if inner == "INBOX" and self.exists("INBOX"):
            raise names.already_exists()
        mailbox, control = self.paths(inner)
        if os.path.isdir(os.path.join(mailbox, "cur")):
            raise names.already_exists()
        self._make_maildir(mailbox, control, subfolder=inner != "INBOX")
        box = self.mailbox_class
        uidlist = os.path.join(control, box.UIDLIST_NAME)
        with dotlocked(uidlist, stale_timeout=UIDLIST_STALE_TIMEOUT):
            if not os.path.exists(uidlist):
                ul = box.UIDLIST_FORMAT(next_uidvalidity(self.uidvalidity_dir()), 1, new_guid())
                _write_atomic(uidlist, ul.format().encode())

    def delete(self, name: str) -> None:
        inner = self.check(name)
        if inner == "INBOX":
            raise StorageError("INBOX can't be deleted.", "CANNOT")
        mailbox, control = self.paths(inner)
        if not os.path.isdir(os.path.join(mailbox, "cur")):
            raise names.not_found(self.shown(inner))
        if self.fs_layout:
            # mailbox-list-delete.c: the mail goes, a directory with children stays.
            for sub in ("cur", "new", "tmp"):
                shutil.rmtree(os.path.join(mailbox, sub), ignore_errors=True)
            for fname in os.listdir(mailbox):
                path = os.path.join(mailbox, fname)
                if (fname.startswith("dovecot") or fname == RECENT) and os.path.isfile(path):
                    os.unlink(path)
            with contextlib.suppress(OSError):
                os.rmdir(mailbox)
        else:
            trash = os.path.join(self.root_real, f"..DOVECOT-TRASHED.{generate_base()}")
            os.rename(mailbox, trash)
            shutil.rmtree(trash, ignore_errors=True)
        if control != mailbox:
            shutil.rmtree(control, ignore_errors=True)

    def rename(self, old: str, new: str) -> None:
        src = self.check(old)
        dst = self.check(new, create=True)
        if src == "INBOX":
            raise StorageError("Renaming INBOX isn't supported", "CANNOT")
        if src == dst:
            raise StorageError("Can't rename mailbox to itself.", "ALREADYEXISTS")
        if dst.startswith(src + self.separator):
            raise StorageError("Can't rename mailbox under itself.", "CANNOT")
        if self.exists(dst):
            raise StorageError("Target mailbox already exists", "ALREADYEXISTS")
        children = [n for n in self.existing() if n.startswith(src + self.separator)]
        moves = [(src, dst)] + [(c, dst + c[len(src):]) for c in children]
        if not self.exists(src) and not children:
            raise names.not_found(self.shown(src))
        if self.fs_layout:
            # one directory holds the children too
            moves = moves[:1]
        for a, b in moves:
            amail, actl = self.paths(a)
            bmail, bctl = self.paths(b)
            if not os.path.isdir(amail):
                continue
            os.makedirs(os.path.dirname(bmail), exist_ok=True)
            try:
                os.rename(amail, bmail)
            except OSError as e:
                if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise StorageError("Target mailbox already exists",
                                       "ALREADYEXISTS") from None
                raise
            if actl != amail and os.path.isdir(actl):
                os.makedirs(os.path.dirname(bctl), exist_ok=True)
                os.rename(actl, bctl)
        self.rename_subscriptions(src, dst)

    def open(self, name: str, readonly: bool = False, *, save_only: bool = False
             ) -> MaildirMailbox:
        inner = self.check(name)
        if inner == "INBOX":
            self.ensure_inbox()
        elif not self.exists(inner):
            raise names.not_found(self.shown(inner))
        mailbox, control = self.paths(inner)
        return self.mailbox_class(self, self.shown(inner), mailbox, control, readonly,
                                  save_only)

    def open_for_save(self, name: str) -> MaildirMailbox:
        """The target of COPY or APPEND: a missing folder is [TRYCREATE]."""
        try:
            return self.open(name, save_only=True)
        except StorageError as e:
            if e.code == names.NONEXISTENT:
                raise StorageError(e.message, names.TRYCREATE) from None
            raise

    def status(self, name: str) -> dict[str, int]:
        box = self.open(name, readonly=True)
        try:
            msgs = box.messages
            first = box.first_recent_uid()
            return {"MESSAGES": len(msgs), "RECENT": sum(1 for m in msgs if m.uid >= first),
                    "UIDNEXT": box.uidnext,
                    "UIDVALIDITY": box.uidvalidity,
                    "UNSEEN": sum(1 for m in msgs if "\\Seen" not in m.flags)}
        finally:
            box.close()

