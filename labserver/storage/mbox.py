"""mbox as Dovecot 2.3 reads and writes it, with the locks other mail tools use.

One file per folder; each message starts with a ``From <sender>  <asctime date>``
line (src/lib-mail/mbox-from.c writes two spaces after the sender) and ends with
an empty line. Dovecot keeps its state in headers it hides from clients
(src/lib-storage/index/mbox/mbox-storage.c ``mbox_hide_headers``):

- ``X-IMAPbase: <uidvalidity> <last uid, 10 digits> [keywords]`` in the first message
  (in a c-client "FOLDER INTERNAL DATA" pseudo message it is called ``X-IMAP``; the
  lab writes such a message only when a folder that had mail becomes empty, so its
  next UID is not forgotten);
- ``X-UID: <uid>``; ``Status: R`` (\\Seen) ``O`` (no longer \\Recent);
  ``X-Status: A`` (\\Answered) ``F`` (\\Flagged) ``T`` (\\Draft) ``D`` (\\Deleted);
  ``X-Keywords: <names>``; ``Content-Length: <body octets>``.

Locking follows ``mbox_read_locks = fcntl`` and ``mbox_write_locks = dotlock fcntl``:
readers hold an fcntl read lock; writers create ``<mbox>.lock`` and then take the
fcntl write lock, so procmail, mutt and Postfix's local agent wait for the lab and
the other way round.

How the lab writes, and why:

- appending is done in place at the end of the file, as mail delivery agents do,
  with ``Content-Length``; a message cut short by a crash (no end of headers, or
  fewer body octets than ``Content-Length`` says) is not shown and is cut off by the
  next writer;
- every other change (flags, expunges, new UIDs) writes a whole new file beside the
  old one and renames it into place, so a crash leaves the old or the new folder,
  never a mixture. Readers check after locking that they still hold the current file;
- body lines beginning with ``From `` are written as ``>From `` (mboxo escaping, as
  local delivery agents do), and, like Dovecot, the lab does not unescape them when
  reading: what a client sees is what the file holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from labserver.config.resolve import PathResolver

from . import names
from .base import FolderStore, Namespace, View, apply_mode, normalize_flags
from .location import MailLocation
from .locking import DotLock, fcntl_lock, thread_lock
from .model import MessageInfo, StorageError, SyncResult
from .sizes import to_crlf, to_lf, virtual_size
from .uids import next_uidvalidity

HIDE_HEADERS = {b"content-length", b"status", b"x-imap", b"x-imapbase", b"x-keywords",
                b"x-status", b"x-uid"}
DROP_ON_SAVE = HIDE_HEADERS | {b"x-delivery-id"}
DOTLOCK_CHANGE_TIMEOUT = 120  # mbox_dotlock_change_timeout
LOCK_TIMEOUT = 300  # mbox_lock_timeout

XSTATUS = {"A": "\\Answered", "F": "\\Flagged", "T": "\\Draft", "D": "\\Deleted"}
XSTATUS_LETTER = {v: k for k, v in XSTATUS.items()}

_FROM_RE = re.compile(
    rb"From [^\n]*?(Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
    rb"Nov|Dec) +\d{1,2} +\d{1,2}:\d\d(:\d\d)?[^\n]*\d{4}[^\n]*$")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PSEUDO_BODY = (b"This text is part of the internal format of your mail folder, and is not\n"
               b"a real message.  It is created automatically by the mail system software.\n"
               b"If deleted, important folder data will be lost, and it will be re-created\n"
               b"with the data reset to initial values.\n")


def from_line(sender: str, when: dt.datetime) -> bytes:
    """mbox_from_create(): ``From <sender>  Thu Nov 29 22:33:52 2001``, local time."""
    t = when.astimezone()
    return (f"From {sender}  {_WEEKDAYS[t.weekday()]} {_MONTHS[t.month - 1]} "
            f"{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d} {t.year:04d}\n"
            ).encode()


def parse_from_date(line: bytes) -> dt.datetime | None:
    m = re.search(rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) +"
                  rb"(\d{1,2}):(\d\d)(?::(\d\d))?(?: +[A-Z]{3,4}| +[+-]\d{4})? +(\d{4})", line)
    if not m:
        return None
    month = _MONTHS.index(m.group(1).decode()) + 1
    try:
        return dt.datetime(int(m.group(6)), month, int(m.group(2)), int(m.group(3)),
                           int(m.group(4)), int(m.group(5) or 0)).astimezone()
    except ValueError:
        return None


# --- parsing ------------------------------------------------------------------------

@dataclass(slots=True)
class Header:
    name: bytes  # as written
    raw: bytes  # the whole field, continuation lines included, ending in LF

    @property
    def key(self) -> bytes:
        return self.name.lower()

    @property
    def value(self) -> str:
        text = self.raw.split(b":", 1)[1] if b":" in self.raw else b""
        return re.sub(rb"\s+", b" ", text).strip().decode("utf-8", "replace")


@dataclass(slots=True)
class MboxMessage:
    from_line: bytes
    headers: list[Header]
    body: bytes  # as stored, ending in LF (the separating empty line is not included)
    uid: int = 0
    flags: frozenset[str] = frozenset()
    recent: bool = False
    pseudo: bool = False
    imapbase: tuple[int, int] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def header(self, key: bytes) -> Header | None:
        for h in self.headers:
            if h.key == key:
                return h
        return None

    def visible(self) -> bytes:
        """The message as clients see it: Dovecot's own headers hidden."""
        shown = b"".join(h.raw for h in self.headers if h.key not in HIDE_HEADERS)
        return shown + b"\n" + self.body

    @property
    def internaldate(self) -> dt.datetime:
        return parse_from_date(self.from_line) or dt.datetime.fromtimestamp(0, dt.UTC)


def _split_headers(block: bytes) -> list[Header]:
    out: list[Header] = []
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and out:
            out[-1].raw += line
            continue
        name = line.split(b":", 1)[0].rstrip()
        out.append(Header(name, line))
    return out


def parse_mbox(data: bytes) -> tuple[list[MboxMessage], int]:
    """Messages of an mbox file, and the offset where complete data ends."""
    msgs: list[MboxMessage] = []
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # a From_ line cut short
        fline = data[pos:nl + 1]
        if not fline.startswith(b"From "):
            # Not an mbox position (garbage at the start): skip to the next From_ line.
            nxt = _next_from(data, pos)
            if nxt < 0:
                break
            pos = nxt
            continue
        hstart = nl + 1
        eoh = data.find(b"\n\n", hstart - 1)
        if eoh < 0:
            break  # cut short inside the headers
        headers = _split_headers(data[hstart:eoh + 1])
        bstart = eoh + 2
        end = -1
        clen = None
        for h in headers:
            if h.key == b"content-length" and h.value.isdigit():
                clen = int(h.value)
        if clen is not None:
            cand = bstart + clen
            if cand == n or (cand < n and data.startswith(b"\n", cand) and
                             (cand + 1 == n or _is_from(data, cand + 1))):
                end = cand
            elif cand > n:
                break  # the last message was cut short
        if end < 0:
            nxt = _next_from(data, bstart)
            if nxt < 0:
                end = n - 1 if data.endswith(b"\n\n") else n
                if clen is not None and end - bstart < clen:
                    break
            else:
                end = nxt - 1
        body = data[bstart:end]
        msgs.append(MboxMessage(fline, headers, body))
        pos = end + 1 if end < n else n
        if end < n and data.startswith(b"\n", end):
            pos = end + 1
    return msgs, pos


def _is_from(data: bytes, pos: int) -> bool:
    nl = data.find(b"\n", pos)
    line = data[pos:nl if nl >= 0 else len(data)]
    return bool(_FROM_RE.match(line))


def _next_from(data: bytes, pos: int) -> int:
    """The offset of the next valid From_ line that follows an empty line."""
    while True:
        i = data.find(b"\n\nFrom ", pos - 1 if pos > 0 else 0)
        if i < 0:
            return -1
        if _is_from(data, i + 2):
            return i + 2
        pos = i + 2


def _interpret(msgs: list[MboxMessage]) -> tuple[list[MboxMessage], int, int, bool]:
    """Give UIDs and flags: (real messages, uidvalidity, next uid, needs rewrite)."""
    uidvalidity = 0
    next_uid = 1
    prev = 0
    dirty = False
    real: list[MboxMessage] = []
    for i, m in enumerate(msgs):
        base = m.header(b"x-imapbase") or m.header(b"x-imap")
        if i == 0 and base is not None:
            parts = base.value.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                uidvalidity = int(parts[0])
                next_uid = int(parts[1]) + 1
            m.pseudo = base.key == b"x-imap"
        if m.pseudo:
            continue
        status = m.header(b"status")
        xstatus = m.header(b"x-status")
        flags: set[str] = set()
        if status and "R" in status.value:
            flags.add("\\Seen")
        m.recent = not (status and "O" in status.value)
        for ch in xstatus.value if xstatus else "":
            if ch in XSTATUS:
                flags.add(XSTATUS[ch])
        kw = m.header(b"x-keywords")
        if kw:
            flags.update(k for k in kw.value.replace(",", " ").split() if k)
        m.flags = frozenset(flags)
        xuid = m.header(b"x-uid")
        uid = int(xuid.value) if xuid and xuid.value.isdigit() else 0
        if uidvalidity and 0 < uid and prev < uid <= next_uid:
            m.uid = uid
            next_uid = max(next_uid, uid + 1)
        else:
            m.uid = 0
            dirty = True
        if m.uid:
            prev = m.uid
        real.append(m)
    if not uidvalidity:
        dirty = bool(real)
    return real, uidvalidity, next_uid, dirty


def _message_bytes(m: MboxMessage, imapbase: tuple[int, int, str] | None) -> bytes:
    """One message in Dovecot's layout, with the separating empty line."""
    out = [m.from_line]
    out += [h.raw for h in m.headers if h.key not in DROP_ON_SAVE]
    if m.pseudo:
        assert imapbase is not None
        out.append(b"X-IMAP: %d %010d\n" % imapbase[:2])
        out.append(b"Status: RO\n\n" + m.body + b"\n")
        return b"".join(out)
    if imapbase is not None:
        kws = (" " + imapbase[2]) if imapbase[2] else ""
        out.append(b"X-IMAPbase: %d %010d%s\n" % (imapbase[0], imapbase[1], kws.encode()))
    out.append(b"X-UID: %d\n" % m.uid)
    out.append(b"Status: " + (b"R" if "\\Seen" in m.flags else b"") +
               (b"" if m.recent else b"O") + b"\n")
    xs = "".join(k for k in "AFTD" if XSTATUS[k] in m.flags)
    if xs:
        out.append(b"X-Status: " + xs.encode() + b"\n")
    kws = sorted(f for f in m.flags if not f.startswith("\\"))
    out.append(b"X-Keywords:" + b"".join(b" " + k.encode() for k in kws) + b"\n")
    out.append(b"Content-Length: %d\n" % len(m.body))
    out.append(b"\n")
    out.append(m.body)
    out.append(b"\n")
    return b"".join(out)


def _escape_body(body: bytes) -> bytes:
    body = re.sub(rb"(?m)^From ", b">From ", body)
    return body if body.endswith(b"\n") or not body else body + b"\n"


def new_message(data: bytes, flags: frozenset[str], when: dt.datetime, sender: str,
                uid: int, recent: bool) -> MboxMessage:
    data = to_lf(data)
    if data.startswith(b"From "):  # an mbox From_ line in front of the message
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        if data.startswith(b"\n"):
            head, body = b"", data[1:]
        else:
            head, body = data, b""
    if head and not head.endswith(b"\n"):
        head += b"\n"
    headers = [h for h in _split_headers(head) if not h.name.startswith(b"From ")]
    return MboxMessage(from_line(sender, when), headers, _escape_body(body), uid=uid,
                       flags=flags, recent=recent)


# --- the mailbox ----------------------------------------------------------------------

class MboxFile:
    """Locked access to one mbox file."""

    def __init__(self, path: str, control_root: str) -> None:
        self.path = path
        self.control_root = control_root

    @contextlib.contextmanager
    def reading(self) -> Iterator[bytes]:
        with thread_lock(self.path):
            for _ in range(20):
                try:
                    fd = os.open(self.path, os.O_RDONLY)
                except FileNotFoundError:
                    raise StorageError("Mailbox was deleted under us", "NONEXISTENT") from None
                try:
                    fcntl_lock(fd, exclusive=False, timeout=LOCK_TIMEOUT)
                    if _same_file(fd, self.path):
                        with os.fdopen(os.dup(fd), "rb") as f:
                            data = f.read()
                        yield data
                        return
                finally:
                    os.close(fd)
            raise StorageError("Timeout while waiting for lock", "INUSE")

    @contextlib.contextmanager
    def writing(self) -> Iterator[tuple[int, bytes]]:
        """Dotlock then fcntl write lock; yields (fd, current contents)."""
        with thread_lock(self.path):
            lock = DotLock(self.path, timeout=LOCK_TIMEOUT, stale_timeout=DOTLOCK_CHANGE_TIMEOUT)
            lock.acquire()
            try:
                for _ in range(20):
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                    try:
                        fcntl_lock(fd, exclusive=True, timeout=LOCK_TIMEOUT)
                        if _same_file(fd, self.path):
                            with os.fdopen(os.dup(fd), "rb") as f:
                                data = f.read()
                            yield fd, data
                            return
                    finally:
                        os.close(fd)
                raise StorageError("Timeout while waiting for lock", "INUSE")
            finally:
                lock.release()

    def replace(self, data: bytes) -> None:
        """Write a whole new file and rename it over the old one (lock held)."""
        directory, base = os.path.split(self.path)
        tmp = os.path.join(directory, f".{base}.lab-tmp.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with contextlib.suppress(OSError):
                os.fchmod(fd, os.stat(self.path).st_mode & 0o7777)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class MboxMailbox:
    """One session's view of one mbox folder."""

    def __init__(self, store: MboxStorage, vname: str, path: str, readonly: bool = False,
                 save_only: bool = False) -> None:
        self.store = store
        self.name = vname
        self.readonly = readonly
        self.file = MboxFile(path, store.root_real)
        self._view = View()
        self._bodies: dict[int, bytes] = {}
        self._recent: set[int] = set()
        self.uidvalidity = 0
        self._uidnext = 1
        self._closed = False
        self._save_only = save_only  # a delivery or COPY target claims no \Recent
        self._view.reset(self._load())

    @property
    def uidnext(self) -> int:
        return self._uidnext

    @property
    def messages(self) -> Sequence[MessageInfo]:
        return tuple(self._view.messages)

    @property
    def recent_uids(self) -> frozenset[int]:
        return frozenset(u for u in self._recent if u in self._view.index)

    def sync(self) -> SyncResult:
        return self._view.merge(self._load())

    def read(self, uid: int) -> bytes:
        if self._view.get(uid) is None:
            raise StorageError(f"Invalid UID {uid}", "NONEXISTENT")
        if uid not in self._bodies:
            self._load(update_only=True)
        if uid not in self._bodies:
            raise StorageError("Message was expunged", "EXPUNGEISSUED")
        return to_crlf(self._bodies[uid])

    # --- loading ----------------------------------------------------------------------
    def _load(self, update_only: bool = False) -> list[MessageInfo]:
        with self.file.reading() as data:
            msgs, good_end = parse_mbox(data)
            real, uidvalidity, next_uid, dirty = _interpret(msgs)
            claim = not (self.readonly or self._save_only)
            recent_pending = any(m.recent for m in real) and claim
            torn = good_end < len(data)
        if dirty or recent_pending or torn:
            with self.file.writing() as (_fd, data):
                msgs, _end = parse_mbox(data)
                real, uidvalidity, next_uid, _dirty = _interpret(msgs)
                uidvalidity, next_uid = self._rewrite(real, uidvalidity, next_uid,
                                                      claim_recent=claim)
        self.uidvalidity = uidvalidity
        self._uidnext = next_uid
        infos = []
        self._bodies = {}
        for m in real:
            shown = m.visible()
            self._bodies[m.uid] = shown
            infos.append(MessageInfo(uid=m.uid, flags=m.flags, internaldate=m.internaldate,
                                     virtual_size=virtual_size(shown),
                                     physical_size=len(shown), guid=_guid(m)))
        return infos

    def _assign(self, real: list[MboxMessage], uidvalidity: int, next_uid: int,
                claim_recent: bool) -> tuple[int, int]:
        """Give UIDs to messages without one (a new UIDVALIDITY if there was none)."""
        if not uidvalidity:
            uidvalidity = next_uidvalidity(self.store.uidvalidity_dir())
            next_uid = 1
            for m in real:
                m.uid = 0
        for m in real:
            if m.uid == 0:
                m.uid = next_uid
                next_uid += 1
            if claim_recent and m.recent:
                self._recent.add(m.uid)
                m.recent = False
        return uidvalidity, next_uid

    def _rewrite(self, real: list[MboxMessage], uidvalidity: int, next_uid: int,
                 claim_recent: bool) -> tuple[int, int]:
        uidvalidity, next_uid = self._assign(real, uidvalidity, next_uid, claim_recent)
        self.file.replace(render(real, uidvalidity, next_uid))
        return uidvalidity, next_uid

    # --- changes ----------------------------------------------------------------------
    def append(self, data: bytes, flags: Iterable[str] = (),
               internaldate: dt.datetime | None = None) -> int:
        self._check_open()
        if self.readonly:
            raise StorageError("Mailbox is read-only", "CANNOT")
        wanted = normalize_flags(flags)
        when = internaldate or dt.datetime.now().astimezone()
        with self.file.writing() as (fd, current):
            msgs, good_end = parse_mbox(current)
            real, uidvalidity, next_uid, dirty = _interpret(msgs)
            if dirty or not uidvalidity or good_end < len(current) or not real:
                # UIDs to give, a torn tail to cut, or X-IMAPbase to write: a new file.
                uidvalidity, next_uid = self._assign(real, uidvalidity, next_uid, False)
                msg = new_message(data, wanted, when, self.store.envelope_sender(),
                                  next_uid, True)
                self.file.replace(render([*real, msg], uidvalidity, next_uid + 1))
                return msg.uid
            msg = new_message(data, wanted, when, self.store.envelope_sender(), next_uid,
                              True)
            chunk = _message_bytes(msg, None)
            if not current.endswith(b"\n\n"):
                chunk = (b"\n" if current.endswith(b"\n") else b"\n\n") + chunk
            os.lseek(fd, 0, os.SEEK_END)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            return msg.uid

    def set_flags(self, uids: Iterable[int], flags: Iterable[str], mode: str
                  ) -> list[MessageInfo]:
        self._check_open()
        wanted = normalize_flags(flags)
        if self.readonly:
            return []
        targets = {u for u in uids if self._view.get(u) is not None}
        changed: list[MessageInfo] = []
        with self.file.writing() as (_fd, data):
            msgs, _ = parse_mbox(data)
            real, uidvalidity, next_uid, _dirty = _interpret(msgs)
            touched = False
            for m in real:
                if m.uid in targets:
                    new = apply_mode(m.flags, wanted, mode)
                    if new != m.flags:
                        m.flags = new
                        touched = True
                    mine = self._view.get(m.uid)
                    assert mine is not None
                    if mine.flags != new:
                        info = MessageInfo(uid=mine.uid, flags=new,
                                           internaldate=mine.internaldate,
                                           virtual_size=mine.virtual_size,
                                           physical_size=mine.physical_size, guid=mine.guid)
                        self._view.update(info)
                        changed.append(info)
            if touched:
                self._rewrite(real, uidvalidity, next_uid, claim_recent=False)
        return changed

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        self._check_open()
        if self.readonly:
            return []
        allowed = None if uids is None else set(uids)
        gone: list[int] = []
        with self.file.writing() as (_fd, data):
            msgs, _ = parse_mbox(data)
            real, uidvalidity, next_uid, _dirty = _interpret(msgs)
            keep = []
            for m in real:
                if (m.uid in self._view.index and "\\Deleted" in m.flags and
                        (allowed is None or m.uid in allowed)):
                    gone.append(m.uid)
                else:
                    keep.append(m)
            if gone:
                self._rewrite(keep, uidvalidity, next_uid, claim_recent=False)
        self._view.remove(gone)
        return gone

    def copy(self, uids: Iterable[int], dest: str) -> list[tuple[int, int]]:
        self._check_open()
        target = self.store.open_for_save(dest)
        pairs = []
        try:
            for uid in sorted(set(uids)):
                info = self._view.get(uid)
                if info is None:
                    continue
                try:
                    data = self.read(uid)
                except StorageError:
                    continue
                pairs.append((uid, target.append(data, info.flags, info.internaldate)))
        finally:
            target.close()
        return pairs

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("Mailbox is closed", "CLIENTBUG")


def render(real: list[MboxMessage], uidvalidity: int, next_uid: int) -> bytes:
    """A whole mbox file: X-IMAPbase in the first message, or a pseudo message."""
    keywords = " ".join(sorted({f for m in real for f in m.flags if not f.startswith("\\")}))
    if not real:
        if next_uid <= 1:
            return b""
        now = dt.datetime.now().astimezone()
        pseudo = MboxMessage(
            from_line(f"MAILER_DAEMON@{socket.gethostname()}", now),
            _split_headers(
                b"Date: " + email.utils.format_datetime(now).encode() + b"\n"
                b"From: Mail System Internal Data <MAILER-DAEMON@"
                + socket.gethostname().encode() + b">\n"
                b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
                b"Message-ID: <" + str(time.time_ns()).encode() + b"@"
                + socket.gethostname().encode() + b">\n"),
            PSEUDO_BODY, pseudo=True)
        return _message_bytes(pseudo, (uidvalidity, next_uid - 1, ""))
    out = [_message_bytes(real[0], (uidvalidity, next_uid - 1, keywords))]
    out += [_message_bytes(m, None) for m in real[1:]]
    return b"".join(out)


def _guid(m: MboxMessage) -> str:
    return f"{m.uid}"


class MboxStorage(FolderStore):
    """All mbox folders of one user: INBOX where INBOX= says, the rest under the root."""

    def __init__(self, location: MailLocation, resolver: PathResolver,
                 namespace: Namespace | None = None, user: str = "") -> None:
        super().__init__(location, resolver, namespace)
        self.user = user

    def envelope_sender(self) -> str:
        if "@" in self.user:
            return self.user
        return f"{self.user or 'MAILER-DAEMON'}@{socket.getfqdn()}"

    def uidvalidity_dir(self) -> str:
        # Dovecot would use the root itself; the lab keeps its counter in the index
        # directory .imap/, which no LIST shows as a folder.
        if self.location.control_dir:
            return self.real(self.location.control_dir)
        return self.real(self.location.root_dir + "/.imap")

    def path(self, inner: str) -> str:
        if inner == "INBOX" and self.location.inbox_path:
            return self.real(self.location.inbox_path)
        sname = self.storage_name(inner)
        return self.contained(self.real(self.location.root_dir + "/" + sname), self.root_real)

    def exists(self, inner: str) -> bool:
        return os.path.isfile(self.path(inner))

    def existing(self) -> list[str]:
        out: list[str] = []
        root = self.root_real
        if not os.path.isdir(root):
            return out
        skip = {self.location.subscription_fname or ".subscriptions"}
        for current, dirs, files in os.walk(root):
            rel = os.path.relpath(current, root)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for fname in sorted(files):
                if fname.startswith(".") or fname in skip or fname.endswith(".lock"):
                    continue
                sname = fname if rel == "." else f"{rel.replace(os.sep, '/')}/{fname}"
                inner = names.from_storage_name(sname, self.separator, "/",
                                                self.location.utf8)
                if inner is None:
                    continue
                if names.is_inbox(inner):
                    if self.location.inbox_path:
                        continue
                    inner = "INBOX"
                out.append(inner)
        return out

    def ensure_inbox(self) -> None:
        path = self.path("INBOX")
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def create(self, name: str) -> None:
        if name.endswith(self.separator) and len(name) > 1:
            inner = self.check(name[:-1], create=True)
            os.makedirs(self.path(inner), exist_ok=True)
            return
        inner = self.check(name, create=True)
        path = self.path(inner)
        if os.path.exists(path):
            raise names.already_exists()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise names.already_exists() from None

    def delete(self, name: str) -> None:
        inner = self.check(name)
        if inner == "INBOX":
            raise StorageError("INBOX can't be deleted.", "CANNOT")
        path = self.path(inner)
        if os.path.isdir(path):
            if os.listdir(path):
                raise StorageError("Mailbox has children, delete them first", "INUSE")
            os.rmdir(path)
            return
        if not os.path.isfile(path):
            raise names.not_found(self.shown(inner))
        mf = MboxFile(path, self.root_real)
        with mf.writing():
            os.unlink(path)

    def rename(self, old: str, new: str) -> None:
        src = self.check(old)
        dst = self.check(new, create=True)
        if src == "INBOX":
            raise StorageError("Renaming INBOX isn't supported", "CANNOT")
        if src == dst:
            raise StorageError("Can't rename mailbox to itself.", "ALREADYEXISTS")
        if dst.startswith(src + self.separator):
            raise StorageError("Can't rename mailbox under itself.", "CANNOT")
        a, b = self.path(src), self.path(dst)
        if not os.path.exists(a):
            raise names.not_found(self.shown(src))
        if os.path.exists(b):
            raise StorageError("Target mailbox already exists", "ALREADYEXISTS")
        os.makedirs(os.path.dirname(b), exist_ok=True)
        os.rename(a, b)
        self.rename_subscriptions(src, dst)

    def open(self, name: str, readonly: bool = False, *, save_only: bool = False
             ) -> MboxMailbox:
        inner = self.check(name)
        if inner == "INBOX":
            self.ensure_inbox()
        else:
            path = self.path(inner)
            if os.path.isdir(path):
                raise StorageError("Mailbox isn't selectable", "NONEXISTENT")
            if not os.path.isfile(path):
                raise names.not_found(self.shown(inner))
        return MboxMailbox(self, self.shown(inner), self.path(inner), readonly, save_only)

    def open_for_save(self, name: str) -> MboxMailbox:
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
            with box.file.reading() as data:
                real = _interpret(parse_mbox(data)[0])[0]
            return {"MESSAGES": len(msgs), "RECENT": sum(1 for m in real if m.recent),
                    "UIDNEXT": box.uidnext, "UIDVALIDITY": box.uidvalidity,
                    "UNSEEN": sum(1 for m in msgs if "\\Seen" not in m.flags)}
        finally:
            box.close()
