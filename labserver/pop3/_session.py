"""After login: what Dovecot's pop3 process does (src/pop3/pop3-client.c, pop3-commands.c).

The maildrop is fixed at login: the session takes a snapshot of the mailbox's
messages (without those carrying ``pop3_deleted_flag``), their virtual (CRLF)
sizes and flags, and numbers them 1..n. ``DELE`` and ``RETR`` only mark messages;
storage changes happen in the UPDATE step of ``QUIT`` (expunge or flag the
DELEted ones, add ``\\Seen`` to the RETRieved ones unless
``pop3_no_flag_updates``). A connection lost without QUIT expunges nothing but
still stores the ``\\Seen`` flags, as ``client_default_destroy`` does.

Storage access goes through the ``Mailbox`` the service passed to
``auth_succeeded()``; the engine does no other I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._fetch import fetch_body, header_field
from ._logformat import UIDL_VARS, logout_stats, uidl_change, uses_variable
from ._login import CAPABILITY_REPLY, capa_reply

if TYPE_CHECKING:
    from ._connection import Pop3Connection

from labserver.config.varexpand import expand

# src/pop3/pop3-client.c
MAX_INBUF_SIZE = 2048
CLIENT_MAX_BAD_COMMANDS = 20
UINT_MAX = 2**32 - 1
UINTMAX_MAX = 2**64 - 1
# UIDLs by (pop3_uidl_format, UIDVALIDITY, UID, GUID): a client polling a big mailbox asks
# for the same ones at every login, and the % expansion is the costly part of UIDL.
UIDL_CACHE_SIZE = 200_000
_UIDLS: dict[tuple[str, int, int, str], str] = {}

_DIGITS = re.compile(rb"[0-9]+")
_SHORT_KEY = re.compile(r"%(?:%|-?[0-9]*(?:\.-?[0-9]*)?[LUEXRHNMDT]*(.))")

SEEN = "\\Seen"
DELETED = "\\Deleted"


class UidlError(Exception):
    """A UIDL could not be built; the text is what Dovecot logs as an error."""


def uidl_keys(template: str) -> set[str]:
    """pop3-client.c ``parse_uidl_keymask``: the short variables used."""
    return {m.group(1) for m in _SHORT_KEY.finditer(template) if m.group(1)}


class Session:
    """The TRANSACTION state of one connection."""

    def __init__(self, conn: Pop3Connection, user: str, mailbox: Any, prefix: str,
                 user_values: dict[str, str]) -> None:
        self.conn = conn
        self.user = user
        self.mailbox = mailbox
        self.prefix = prefix
        self.user_values = user_values
        set_ = conn.settings
        flag = set_.pop3_deleted_flag
        infos = [m for m in mailbox.messages if not (flag and flag in m.flags)]
        self.infos = infos
        self.sizes = [m.virtual_size for m in infos]
        self.total_size = sum(self.sizes)
        self.count = len(infos)
        self.last_seen = 0
        for index, info in enumerate(infos):
            if SEEN in info.flags:
                self.last_seen = index + 1
        self.deleted = [False] * self.count
        self.any_deleted = False
        self.deleted_count = 0
        self.deleted_size = 0
        self.seen: list[bool] | None = (
            None if set_.pop3_no_flag_updates or self.count == 0 else [False] * self.count)
        self.seen_change_count = 0
        self.quit_seen = False
        self.delete_success = False
        self.top_count = self.top_bytes = self.retr_count = self.retr_bytes = 0
        self.lowest_retr = 0
        self.highest_expunged_fetch = -1
        self.bad_counter = 0
        self.input_bytes = 0
        self.output_bytes = 0
        self.keys = uidl_keys(set_.pop3_uidl_format)
        self.uidls_save = (uses_variable(set_.pop3_logout_format, "o", "uidl_change")
                           or set_.pop3_uidl_duplicates != "allow")
        self.saved_uidls: list[str] | None = None
        self.commands: dict[bytes, Callable[[bytes], int]] = {
            b"CAPA": self.cmd_capa, b"DELE": self.cmd_dele, b"LIST": self.cmd_list,
            b"NOOP": self.cmd_noop, b"QUIT": self.cmd_quit, b"RETR": self.cmd_retr,
            b"RSET": self.cmd_rset, b"STAT": self.cmd_stat, b"TOP": self.cmd_top,
            b"UIDL": self.cmd_uidl,
        }
        if set_.pop3_enable_last:
            self.commands[b"LAST"] = self.cmd_last

    # ---- output and logging ----------------------------------------------------

    def send(self, text: str | bytes) -> None:
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        self.conn._reply(data + b"\r\n")

    def log(self, level: str, message: str) -> None:
        self.conn._log(self.prefix, level, message)

    def stats(self) -> str:
        """``client_stats``: pop3_logout_format expanded."""
        change = ""
        if uses_variable(self.conn.settings.pop3_logout_format, "o", "uidl_change") \
                and self.saved_uidls is not None:
            change = uidl_change(self.saved_uidls, self.deleted, self.lowest_retr)
        counters = {
            "top_bytes": str(self.top_bytes), "top_count": str(self.top_count),
            "retr_bytes": str(self.retr_bytes), "retr_count": str(self.retr_count),
            "deleted_count": str(self.deleted_count) if self.delete_success else "0",
            "message_count": str(self.count), "message_bytes": str(self.total_size),
            "input": str(self.input_bytes), "output": str(self.output_bytes),
            "uidl_change": change,
            "deleted_bytes": str(self.deleted_size) if self.delete_success else "0",
        }
        return logout_stats(self.conn.settings.pop3_logout_format, counters,
                            self.user_values)

    def disconnect(self, reason: str) -> None:
        """``client_disconnect``: log with the stats, then close."""
        self.log("Info", f"Disconnected: {reason} {self.stats()}")
        self.conn._close(reason)

    def connection_lost(self) -> None:
        """``client_default_destroy`` without QUIT: keep \\Seen, expunge nothing."""
        if self.seen_change_count > 0:
            self.update_mails()
        self.disconnect("Connection closed")

    # ---- input -----------------------------------------------------------------

    def step(self) -> bool:
        buf = self.conn._inbuf
        end = buf.find(b"\n")
        if end >= MAX_INBUF_SIZE or (end < 0 and len(buf) > MAX_INBUF_SIZE):
            self.send("-ERR Input line too long.")
            self.disconnect("Input line too long")
            return True
        if end < 0:
            return False
        line = bytes(buf[:end])
        del buf[:end + 1]
        self.input_bytes += end + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        line = line.split(b"\0", 1)[0]
        name, _, args = line.partition(b" ")
        if not name:
            self.send("-ERR Unknown command.")
            ret = -1
        else:
            name = name.upper()
            handler = self.commands.get(name)
            self.conn.reply_command = name.decode("ascii", "replace") if handler else ""
            if handler is None:
                self.send(b"-ERR Unknown command: " + name)
                ret = -1
            else:
                ret = handler(args.lstrip(b" "))
        if self.conn.state.name == "CLOSED":
            return True
        if ret >= 0:
            self.bad_counter = 0
        else:
            self.bad_counter += 1
            if self.bad_counter > CLIENT_MAX_BAD_COMMANDS:
                self.send("-ERR Too many bad commands.")
                self.disconnect("Too many bad commands.")
        return True

    # ---- argument parsing (pop3-commands.c get_msgnum, get_size) ----------------

    def get_msgnum(self, args: bytes, thenspace: bool) -> tuple[int, bytes] | None:
        match = _DIGITS.match(args)
        if match is None:
            self.send(b"-ERR Invalid message number: " + args)
            return None
        num = int(match.group())
        rest = args[match.end():]
        if num > UINTMAX_MAX:
            self.send(b"-ERR Message number too large: " + args)
            return None
        if num > UINT_MAX:
            self.send(b"-ERR Message number too large: " + rest)
            return None
        if rest[:1] != (b" " if thenspace else b""):
            self.send(b"-ERR Noise after message number: " + rest)
            return None
        if num == 0 or num > self.count:
            self.send(f"-ERR There's no message {num}.")
            return None
        if self.deleted[num - 1]:
            self.send("-ERR Message is deleted.")
            return None
        return num - 1, rest.lstrip(b" ")

    def get_size(self, args: bytes) -> int | None:
        match = _DIGITS.match(args)
        if match is None:
            self.send(b"-ERR Invalid size: " + args)
            return None
        num = int(match.group())
        rest = args[match.end():]
        if num > UINTMAX_MAX:
            self.send(b"-ERR Size too large: " + args)
            return None
        if rest:
            self.send(b"-ERR Noise after size: " + rest)
            return None
        return num

    # ---- commands ----------------------------------------------------------------

    def cmd_capa(self, args: bytes) -> int:
        if self.conn.settings.capa_reply:
            self.conn._reply(capa_reply(self.conn.settings.capa_reply, self.conn.tls))
            return 1
        self.send(b"+OK\r\n" + CAPABILITY_REPLY + b".")
        return 1

    def cmd_noop(self, args: bytes) -> int:
        self.send("+OK")
        return 1

    def cmd_stat(self, args: bytes) -> int:
        self.send(f"+OK {self.count - self.deleted_count} "
                  f"{self.total_size - self.deleted_size}")
        return 1

    def cmd_last(self, args: bytes) -> int:
        self.send(f"+OK {self.last_seen}")
        return 1

    def cmd_list(self, args: bytes) -> int:
        if not args:
            lines = [f"+OK {self.count - self.deleted_count} messages:"]
            lines += [f"{i + 1} {size}" for i, size in enumerate(self.sizes)
                      if not self.deleted[i]]
            self.send("\r\n".join(lines + ["."]))
            return 1
        got = self.get_msgnum(args, False)
        if got is None:
            return -1
        self.send(f"+OK {got[0] + 1} {self.sizes[got[0]]}")
        return 1

    def cmd_dele(self, args: bytes) -> int:
        got = self.get_msgnum(args, False)
        if got is None:
            return -1
        index = got[0]
        self.deleted[index] = True
        self.any_deleted = True
        self.deleted_count += 1
        self.deleted_size += self.sizes[index]
        self.send("+OK Marked to be deleted.")
        return 1

    def cmd_rset(self, args: bytes) -> int:
        self.last_seen = 0
        if self.any_deleted:
            self.any_deleted = False
            self.deleted = [False] * self.count
            self.deleted_count = 0
            self.deleted_size = 0
        if self.seen_change_count > 0 and self.seen is not None:
            self.seen = [False] * self.count
            self.seen_change_count = 0
        if self.conn.settings.pop3_enable_last and self.count:
            # RFC 1460: RSET removes all \Seen flags.
            try:
                self.mailbox.set_flags([m.uid for m in self.infos], [SEEN], "remove")
            except Exception:  # noqa: BLE001 - Dovecot ignores the result here
                pass
        self.send("+OK")
        return 1

    def _fetch(self, index: int, body_lines: int | None) -> int:
        """pop3-commands.c ``fetch``: the reply line, the body, the final dot."""
        info = self.infos[index]
        try:
            data = self.mailbox.read(info.uid)
        except Exception:  # noqa: BLE001 - any storage failure reads as expunged
            self.send(f"-ERR Message {index + 1} expunged.")
            if index <= self.highest_expunged_fetch:
                return -1
            self.highest_expunged_fetch = index
            return 1
        if body_lines is None and self.seen is not None and SEEN not in info.flags:
            if not self.seen[index]:
                self.seen[index] = True
                self.seen_change_count += 1
        workarounds = self.conn.settings.pop3_client_workarounds
        head = (f"+OK {self.sizes[index]} octets\r\n" if body_lines is None
                else "+OK\r\n").encode()
        body = fetch_body(data, body_lines, no_nuls="outlook-no-nuls" in workarounds,
                          add_eoh="oe-ns-eoh" in workarounds)
        if body_lines is None:
            self.retr_bytes += len(head) + len(body)
        else:
            self.top_bytes += len(head) + len(body)
        self.conn._reply(head + body + b".\r\n")
        return 1

    def cmd_retr(self, args: bytes) -> int:
        got = self.get_msgnum(args, False)
        if got is None:
            return -1
        index = got[0]
        if self.lowest_retr == 0 or self.lowest_retr > index + 1:
            self.lowest_retr = index + 1
        self.last_seen = max(self.last_seen, index + 1)
        self.retr_count += 1
        return self._fetch(index, None)

    def cmd_top(self, args: bytes) -> int:
        got = self.get_msgnum(args, True)
        if got is None:
            return -1
        lines = self.get_size(got[1])
        if lines is None:
            return -1
        self.top_count += 1
        return self._fetch(got[0], lines)

    # ---- UIDL --------------------------------------------------------------------

    def uidl_of(self, index: int) -> str:
        """pop3-commands.c ``pop3_get_uid`` for one message."""
        info = self.infos[index]
        set_ = self.conn.settings
        if set_.pop3_reuse_xuidl:
            try:
                value = header_field(self.mailbox.read(info.uid), b"X-UIDL")
            except Exception:  # noqa: BLE001
                value = None
            if value:
                return value.decode("utf-8", "surrogateescape")
        if "m" in self.keys:
            # Only mbox keeps a header MD5; the lab's storages do not.
            raise UidlError("UIDL: Header MD5 not found "
                            "(pop3_uidl_format=%m not supported by storage?)")
        if "f" in self.keys and not info.guid:
            raise UidlError("UIDL: File name not found "
                            "(pop3_uidl_format=%f not supported by storage?)")
        if "g" in self.keys and not info.guid:
            raise UidlError("UIDL: Message GUID not found "
                            "(pop3_uidl_format=%g not supported by storage?)")
        key = (set_.pop3_uidl_format, self.mailbox.uidvalidity, info.uid, info.guid)
        uidl = _UIDLS.get(key)
        if uidl is None:
            values = {"uidvalidity": str(self.mailbox.uidvalidity), "uid": str(info.uid),
                      "md5": "", "filename": info.guid, "guid": info.guid}
            uidl = expand(set_.pop3_uidl_format, values, UIDL_VARS).text
            if len(_UIDLS) >= UIDL_CACHE_SIZE:
                _UIDLS.clear()
            _UIDLS[key] = uidl
        return uidl

    def all_uidls(self) -> list[str]:
        """``client_uidls_save``: every UIDL, duplicates renamed when asked to."""
        if self.saved_uidls is None:
            rename = self.conn.settings.pop3_uidl_duplicates == "rename"
            counters: dict[str, int] = {}
            result = []
            for index in range(self.count):
                uidl = self.uidl_of(index)
                if rename:
                    while uidl in counters:
                        counters[uidl] += 1
                        uidl = f"{uidl}-{counters[uidl]}"
                    counters[uidl] = 1
                result.append(uidl)
            self.saved_uidls = result
        return self.saved_uidls

    def _uidls(self, indexes: Sequence[int]) -> tuple[list[tuple[int, str]], str | None]:
        saved = None
        if self.uidls_save:
            try:
                saved = self.all_uidls()
            except UidlError:
                saved = None
        found: list[tuple[int, str]] = []
        for index in indexes:
            if saved is not None:
                found.append((index, saved[index]))
                continue
            try:
                found.append((index, self.uidl_of(index)))
            except UidlError as exc:
                return found, str(exc)
        return found, None

    def cmd_uidl(self, args: bytes) -> int:
        if not args:
            self.send("+OK")
            indexes = [i for i in range(self.count) if not self.deleted[i]]
            found, error = self._uidls(indexes)
            lines = [f"{i + 1} {u}" for i, u in found]
            if lines:
                self.send("\r\n".join(lines))
            if error is not None:
                self.log("Error", error)
                self.disconnect("POP3 UIDLs couldn't be listed")
                return 1
            self.send(".")
            return 1
        got = self.get_msgnum(args, False)
        if got is None:
            return -1
        found, error = self._uidls([got[0]])
        if error is not None:
            self.log("Error", error)
            self.disconnect("POP3 UIDLs couldn't be listed")
            return 1
        self.send(f"+OK {got[0] + 1} {found[0][1]}")
        return 1

    # ---- UPDATE ------------------------------------------------------------------

    def update_mails(self) -> str | None:
        """pop3-commands.c ``client_update_mails``; the storage error text, if any."""
        if getattr(self.mailbox, "readonly", False):
            return None
        set_ = self.conn.settings
        gone = ([self.infos[i].uid for i in range(self.count) if self.deleted[i]]
                if self.any_deleted and self.quit_seen else [])
        seen = ([self.infos[i].uid for i in range(self.count)
                 if self.seen[i] and not (gone and self.deleted[i])]
                if self.seen is not None else [])
        try:
            if gone:
                if set_.delete_by_flag:
                    self.mailbox.set_flags(gone, [set_.pop3_deleted_flag], "add")
                else:
                    self.mailbox.set_flags(gone, [DELETED], "add")
                    self.mailbox.expunge(gone)
            if seen:
                self.mailbox.set_flags(seen, [SEEN], "add")
        except Exception as exc:  # noqa: BLE001 - reported to the client as Dovecot does
            return getattr(exc, "message", None) or str(exc) or "Internal error"
        finally:
            self.seen_change_count = 0
        return None

    def cmd_quit(self, args: bytes) -> int:
        self.quit_seen = True
        if self.any_deleted or self.seen is not None:
            error = self.update_mails()
            if error is not None:
                self.send(f"-ERR [SYS/PERM] {error}")
                self.disconnect("Storage error during logout.")
                return 1
        self.delete_success = True
        self.send("+OK Logging out, messages deleted." if self.any_deleted
                  else "+OK Logging out.")
        self.disconnect("Logged out")
        return 1
