"""After login: what Dovecot's imap process does (src/imap/cmd-*.c, imap-sync.c, imap-fetch.c).

One handler per command, in a table keyed by the reader's event class; commands that need
a selected mailbox are listed in ``NEEDS_MAILBOX`` and answered ``BAD No mailbox selected.``
otherwise. Every tagged reply gets Dovecot's timing suffix (``TIMING``: the lab's commands
take no measurable time, so the numbers are fixed).

The client's view of the selected mailbox (``Selected``) is kept here, apart from the
storage's: sequence numbers change only when this session tells the client so. Other
sessions' changes are picked up by ``sync()`` where Dovecot's ``cmd_sync()`` runs (NOOP,
CHECK, IDLE, FETCH, STORE, SEARCH, COPY, MOVE, APPEND, EXPUNGE). Expunges are announced
only when the command allows them: not after FETCH, STORE and SEARCH without UID (RFC 3501
§7.4.1), where they stay pending and the messages keep their sequence numbers. The order of
untagged updates is Dovecot's: new keywords (``FLAGS``/``PERMANENTFLAGS``), flag changes
(``FETCH``), ``EXPUNGE`` (highest sequence first), then ``EXISTS`` and ``RECENT``.

Storage access goes through the ``MailStorage`` given to ``auth_succeeded()``; the engine
does no other I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labserver.config.varexpand import MAIL_USER_VARS, Var, expand

from . import _commands as c
from . import _responses as r
from ._message import ParsedMessage
from ._reader import bad_text
from ._search import MessageView, search_matches
from ._utf7 import UTF7Error
from ._utf7 import decode as mutf7_decode
from ._utf7 import encode as mutf7_encode

if TYPE_CHECKING:
    from ._connection import ImapConnection

# imap/imap-common.h
CLIENT_MAX_BAD_COMMANDS = 20
TIMING = "0.001 + 0.000"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
# imap-client.c: the commands whose "not found" errors carry [NONEXISTENT]
USE_NONEXISTENT = frozenset({"DELETE", "RENAME", "UNSUBSCRIBE"})
NOT_VALID_MUTF7 = "Mailbox name is not valid mUTF-7"
# The post-login capabilities this engine implements, in Dovecot's order (imap-client.c,
# CAPABILITY_STRING); SPECIAL-USE is added when folders have special_use set.
POSTLOGIN_CAPABILITY = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN "
                        "NAMESPACE UIDPLUS MOVE")
# imap/imap-client.c client_stats(): logout_tab, merged in front of the user's table
LOGOUT_VARS = (
    Var("i", "input"), Var("o", "output"), Var(None, "fetch_hdr_count"),
    Var(None, "fetch_hdr_bytes"), Var(None, "fetch_body_count"),
    Var(None, "fetch_body_bytes"), Var(None, "deleted"), Var(None, "expunged"),
    Var(None, "trashed"), Var(None, "autoexpunged"), Var(None, "appended"),
)
# lib-imap/imap-id.c: values of "*" in imap_id_send
ID_DEFAULTS = {"name": "Dovecot", "version": "2.3.19.1", "vendor": "Dovecot"}


class Failed(Exception):
    """A command ends with this tagged reply (``NO ...``, ``BAD ...``)."""

    def __init__(self, reply: str, timing: bool = True) -> None:
        super().__init__(reply)
        self.reply = reply
        self.timing = timing


def storage_error(exc: Exception, command: str = "") -> Failed:
    """imap-commands-util.c ``imap_get_error_string``."""
    message = getattr(exc, "message", None) or str(exc) or "Internal error"
    code = getattr(exc, "code", None)
    if code == "NONEXISTENT" and command not in USE_NONEXISTENT:
        code = None
    if code is None or message.startswith("["):
        return Failed(f"NO {message}")
    return Failed(f"NO [{code}] {message}")


def format_flags(flags: Iterable[str], recent: bool, keywords: list[str]) -> str:
    """lib-imap ``imap_write_flags``: system flags in their order, \\Recent, keywords."""
    flags = set(flags)
    out = [f for f in SYSTEM_FLAGS if f in flags]
    if recent:
        out.append("\\Recent")
    kws = [k for k in flags if not k.startswith("\\")]
    order = {k: i for i, k in enumerate(keywords)}
    out += sorted(kws, key=lambda k: (order.get(k, len(order)), k))
    return "(" + " ".join(out) + ")"


@dataclass
class Selected:
    """The client's view of the selected mailbox."""

    box: Any
    name: str
    readonly: bool
    uids: list[int] = field(default_factory=list)
    flags: dict[int, frozenset[str]] = field(default_factory=dict)
    recent: set[int] = field(default_factory=set)
    pending_expunges: set[int] = field(default_factory=set)
    keywords: list[str] = field(default_factory=list)
    announced_keywords: int = 0
    recent_count: int = 0

    def seq_of(self) -> dict[int, int]:
        return {uid: i + 1 for i, uid in enumerate(self.uids)}


class _LazyMessage:
    """``SearchableMessage`` for a stored message: content read only when a key needs it."""

    def __init__(self, box: Any, seq: int, uid: int, flags: frozenset[str],
                 internaldate: dt.datetime, size: int) -> None:
        self.box, self.seq, self.uid, self.flags = box, seq, uid, flags
        self.internaldate, self.size = internaldate, size
        self._view: MessageView | None = None

    def _load(self) -> MessageView:
        if self._view is None:
            try:
                data = self.box.read(self.uid)
            except Exception:  # noqa: BLE001 - an expunged message matches no text
                data = b""
            self._view = MessageView(data, seq=self.seq, uid=self.uid, flags=self.flags,
                                     internaldate=self.internaldate)
        return self._view

    def header(self, name: str) -> list[str]:
        return self._load().header(name)

    def header_text(self) -> str:
        return self._load().header_text()

    def body_text(self) -> str:
        return self._load().body_text()


class Session:
    """The authenticated and selected states of one connection."""

    def __init__(self, conn: ImapConnection, user: str, storage: Any, prefix: str,
                 user_values: dict[str, str]) -> None:
        self.conn = conn
        self.user = user
        self.storage = storage
        self.prefix = prefix
        self.user_values = user_values
        self.selected: Selected | None = None
        self.bad_counter = 0
        self.input_bytes = 0
        self.output_bytes = 0
        self.counters = {"fetch_hdr_count": 0, "fetch_hdr_bytes": 0, "fetch_body_count": 0,
                         "fetch_body_bytes": 0, "deleted": 0, "expunged": 0, "trashed": 0,
                         "autoexpunged": 0, "appended": 0}
        self.idle_tag: bytes | None = None
        self.idle_last_notify = 0.0
        self.last_command: str | None = None
        self._append_fail: bytes | None = None  # tag of an APPEND whose literal is skipped
        self._append_box: Any = None
        self.commands: dict[type, Callable[[Any], str | None]] = {
            c.Capability: self.cmd_capability, c.Noop: self.cmd_noop,
            c.Logout: self.cmd_logout, c.Id: self.cmd_id, c.Enable: self.cmd_enable,
            c.Namespace: self.cmd_namespace, c.Select: self.cmd_select,
            c.Create: self.cmd_create, c.Delete: self.cmd_delete, c.Rename: self.cmd_rename,
            c.Subscribe: self.cmd_subscribe, c.Unsubscribe: self.cmd_unsubscribe,
            c.List: self.cmd_list, c.Lsub: self.cmd_lsub, c.Status: self.cmd_status,
            c.Append: self.cmd_append, c.Idle: self.cmd_idle, c.Check: self.cmd_check,
            c.Close: self.cmd_close, c.Unselect: self.cmd_unselect,
            c.Expunge: self.cmd_expunge, c.Search: self.cmd_search, c.Fetch: self.cmd_fetch,
            c.Store: self.cmd_store, c.Copy: self.cmd_copy, c.Move: self.cmd_move,
        }

    NEEDS_MAILBOX = (c.Check, c.Close, c.Unselect, c.Expunge, c.Search, c.Fetch, c.Store,
                     c.Copy, c.Move)

    # ---- output ----------------------------------------------------------------

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.conn._reply(data)

    def untagged(self, text: str) -> None:
        replies = self.conn.settings.replies
        self.send("* " + (replies(text) if replies else text) + "\r\n")

    def tagged(self, tag: bytes, reply: str, timing: bool = True) -> None:
        set_ = self.conn.settings
        reply = set_.replies(reply)
        if timing and set_.reply_timing:
            reply = r.with_timing(reply, TIMING)
        self.send(tag + b" " + reply.encode("utf-8", "surrogateescape") + b"\r\n")

    def log(self, level: str, message: str) -> None:
        self.conn._log(self.prefix, level, message)

    def capability(self) -> str:
        set_ = self.conn.settings
        if set_.fixed_capabilities is not None:
            fixed = set_.fixed_capabilities
            return fixed.postlogin_tls if self.conn.tls else fixed.postlogin
        if set_.imap_capability and not set_.imap_capability.startswith("+"):
            return set_.imap_capability
        caps = POSTLOGIN_CAPABILITY
        if set_.imap_capability.startswith("+"):
            caps += " " + set_.imap_capability[1:]
        caps += " LITERAL-" if set_.imap_literal_minus else " LITERAL+"
        if self._special_uses():
            caps += " SPECIAL-USE"
        return caps

    def _special_uses(self) -> dict[str, str]:
        mailboxes = getattr(getattr(self.storage, "namespace", None), "mailboxes", {}) or {}
        out = {}
        for name, values in mailboxes.items():
            use = str(values.get("special_use", "") or "")
            if use:
                out[name] = use
        return out

    def stats(self) -> str:
        values = dict(self.user_values)
        values.update({k: str(v) for k, v in self.counters.items()})
        values["input"] = str(self.input_bytes)
        values["output"] = str(self.output_bytes)
        names = {v.name for v in LOGOUT_VARS}
        keys = {v.key for v in LOGOUT_VARS if v.key}
        user_vars = tuple(v for v in MAIL_USER_VARS if v.name not in names
                          and v.key not in keys)
        return expand(self.conn.settings.imap_logout_format, values,
                      LOGOUT_VARS + user_vars).text

    def disconnect(self, reason: str) -> None:
        """imap-client.c ``client_disconnect``: log with the stats, close."""
        if self.selected is not None:
            self._close_box()
        self.log("Info", f"Disconnected: {reason} {self.stats()}")
        self.conn._close(reason)

    def connection_lost(self) -> None:
        if self.last_command:
            reason = f"Connection closed ({self.last_command} finished 0.001 secs ago)"
        else:
            reason = "Connection closed"
        self.disconnect(reason)

    def bye(self, text: str, reason: str | None = None) -> None:
        self.untagged("BYE " + text)
        self.disconnect(reason or text)

    # ---- input -----------------------------------------------------------------

    def handle(self, event: c.Event) -> None:
        """One event of the command reader after login."""
        conn = self.conn
        if isinstance(event, c.LiteralPending):
            self._literal(event)
            return
        if isinstance(event, c.FatalError):
            self.bye(event.text)
            return
        if isinstance(event, c.Done):
            self.idle_tag = None
            self.tagged(event.tag, "OK Idle completed.")
            return
        if isinstance(event, c.ContinuationLine):
            return
        if isinstance(event, c.BadCommand):
            if self.idle_tag is not None:
                self.idle_tag = None
            known = event.command is not None and event.reason != "Unknown command."
            if event.command in ("SELECT", "EXAMINE") and self.selected is not None and \
                    event.reason in ("Invalid arguments.", "Unknown FETCH modifier."):
                # cmd-select.c: the previous mailbox is closed before the error.
                self._close_box()
                self.untagged("OK [CLOSED] Previous mailbox closed.")
            self.tagged(event.tag or b"*", "BAD " + event.text, timing=known)
            self._bad()
            return
        tag = getattr(event, "tag", b"*")
        if isinstance(event, c.Append) and self._append_fail == tag:
            self._append_fail = None  # the literal of a refused APPEND was skipped
            return
        handler = self.commands.get(type(event))
        name = getattr(event, "name", "") or type(event).__name__.upper()
        if getattr(event, "uid", False) and not name.startswith("UID "):
            name = "UID " + name
        self.last_command = name
        if handler is None or name.removeprefix("UID ") in conn.settings.disabled_commands:
            self.tagged(tag, "BAD " + bad_text(True, name, "Unknown command"), timing=False)
            self._bad()
            return
        if isinstance(event, self.NEEDS_MAILBOX) and self.selected is None:
            self.tagged(tag, "BAD No mailbox selected.")
            self.bad_counter = 0
            return
        try:
            reply = handler(event)
        except Failed as exc:
            if conn.state.name != "CLOSED":
                self.tagged(tag, exc.reply, exc.timing)
                if exc.reply.startswith("BAD"):
                    self._bad()
                else:
                    self.bad_counter = 0
            return
        except Exception as exc:  # noqa: BLE001 - a storage failure must not end the server
            self.log("Error", f"{name} failed: {exc!r}")
            stamp = conn._local_time("%Y-%m-%d %H:%M:%S")
            self.tagged(tag, "NO [SERVERBUG] Internal error occurred. Refer to server log "
                        f"for more information. [{stamp}]")
            return
        self.bad_counter = 0
        if reply is not None and conn.state.name != "CLOSED":
            self.tagged(tag, reply)

    def _bad(self) -> None:
        self.bad_counter += 1
        if self.bad_counter >= CLIENT_MAX_BAD_COMMANDS:
            self.bye("Too many invalid IMAP commands.")

    def _literal(self, ev: c.LiteralPending) -> None:
        reader = self.conn.reader
        if ev.append is None:
            if ev.synchronizing:
                self.send(b"+ OK\r\n")
            reader.accept_literal()
            return
        error: str | None = None
        try:
            name = self._name(ev.append.mailbox)
            self._append_box = self.storage.open_for_save(name)
        except Failed as exc:
            error = exc.reply
        except Exception as exc:  # noqa: BLE001 - StorageError and friends
            error = storage_error(exc, "APPEND").reply
        if error is None and ev.size == 0:
            error = "NO Can't save a zero byte message."
        if error is None:
            if ev.synchronizing:
                self.send(b"+ OK\r\n")
            reader.accept_literal()
            return
        self._close_append_box()
        self.tagged(ev.tag, error)
        if ev.synchronizing:
            reader.reject_literal()
        else:
            # cmd-append.c: the octets of a non-synchronizing literal are read and dropped.
            self._append_fail = ev.tag
            reader.accept_literal()

    def _close_append_box(self) -> None:
        if self._append_box is not None:
            try:
                self._append_box.close()
            except Exception:  # noqa: BLE001
                pass
            self._append_box = None

    # ---- names -------------------------------------------------------------------

    def _name(self, raw: bytes) -> str:
        try:
            name = mutf7_decode(raw)
        except UTF7Error:
            raise Failed("NO " + NOT_VALID_MUTF7) from None
        return name

    def _shown(self, name: str) -> str:
        """The storage's spelling of a name (INBOX in capitals)."""
        if name.upper() == "INBOX":
            return "INBOX"
        sep = getattr(self.storage, "separator", ".")
        head, s, rest = name.partition(sep)
        if s and head.upper() == "INBOX":
            return "INBOX" + s + rest
        return name

    def separator(self) -> str:
        ns = self.conn.settings.namespace
        if ns is not None and ns.separator:
            return ns.separator
        return getattr(self.storage, "separator", ".") or "."

    # ---- mailbox view and sync (imap-sync.c) --------------------------------------

    def _open(self, name: str, readonly: bool) -> Selected:
        box = self.storage.open(name, readonly=readonly)
        sel = Selected(box=box, name=getattr(box, "name", name), readonly=readonly)
        for info in box.messages:
            sel.uids.append(info.uid)
            sel.flags[info.uid] = info.flags
        sel.recent = set(box.recent_uids)
        if readonly and not sel.recent and sel.uids:
            # A read-only view claims nothing; the messages no session has claimed yet
            # (the newest ones) are still \Recent, as Dovecot shows them to EXAMINE.
            try:
                count = int(self.storage.status(name).get("RECENT", 0))
            except Exception:  # noqa: BLE001
                count = 0
            sel.recent = set(sel.uids[len(sel.uids) - count:]) if count else set()
        sel.recent_count = len(sel.recent)
        sel.keywords = self._stored_keywords(box)
        for uid in sel.uids:
            self._learn_keywords(sel, sel.flags[uid])
        sel.announced_keywords = len(sel.keywords)
        return sel

    @staticmethod
    def _stored_keywords(box: Any) -> list[str]:
        reader = getattr(box, "_read_keywords", None)
        if reader is None:
            return []
        try:
            table = reader()
        except Exception:  # noqa: BLE001
            return []
        items = sorted(table.items()) if isinstance(table, dict) else []
        names = [v if isinstance(k, str) and len(k) == 1 else k for k, v in items]
        return [n for n in names if isinstance(n, str) and not n.startswith("\\")]

    @staticmethod
    def _learn_keywords(sel: Selected, flags: Iterable[str]) -> None:
        for flag in sorted(flags):
            if not flag.startswith("\\") and flag not in sel.keywords:
                sel.keywords.append(flag)

    def _mailbox_flags(self, sel: Selected, selecting: bool) -> None:
        """imap-commands-util.c ``client_send_mailbox_flags``."""
        if not selecting and len(sel.keywords) == sel.announced_keywords:
            return
        sel.announced_keywords = len(sel.keywords)
        names = " ".join(list(SYSTEM_FLAGS) + sel.keywords)
        self.untagged(f"FLAGS ({names})")
        if sel.readonly:
            self.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox.")
        else:
            self.untagged(f"OK [PERMANENTFLAGS ({names} \\*)] Flags permitted.")

    def _flags_of(self, sel: Selected, uid: int) -> str:
        return format_flags(sel.flags.get(uid, frozenset()), uid in sel.recent, sel.keywords)

    def sync(self, *, expunges: bool = True, send_uid: bool = False,
             own: Iterable[int] = ()) -> None:
        """Send what changed in the selected mailbox; ``own`` are UIDs whose flags this
        session changed and should be reported too (STORE without .SILENT)."""
        sel = self.selected
        if sel is None:
            return
        try:
            result = sel.box.sync()
        except Exception as exc:  # noqa: BLE001 - e.g. the folder was deleted under us
            self.log("Error", f"Mailbox {sel.name}: sync failed: {exc}")
            return
        present = set(sel.flags)
        for uid in result.expunged_uids:
            if uid in present:
                sel.pending_expunges.add(uid)
        changed: set[int] = {u for u in own if u in present}
        for info in result.flag_changes:
            if info.uid in present and info.uid not in sel.pending_expunges:
                if sel.flags.get(info.uid) != info.flags:
                    sel.flags[info.uid] = info.flags
                    changed.add(info.uid)
        for uid in changed:
            self._learn_keywords(sel, sel.flags[uid])
        new = [i for i in result.new if i.uid not in present]
        for info in new:
            self._learn_keywords(sel, info.flags)
        self._mailbox_flags(sel, selecting=False)
        if changed:
            seqs = sel.seq_of()
            for uid in sorted(changed, key=lambda u: seqs[u]):
                uid_part = f"UID {uid} " if send_uid else ""
                self.untagged(f"{seqs[uid]} FETCH ({uid_part}FLAGS "
                              f"{self._flags_of(sel, uid)})")
        if expunges and sel.pending_expunges:
            seqs = sel.seq_of()
            for uid in sorted(sel.pending_expunges, key=lambda u: -seqs[u]):
                self.untagged(f"{seqs[uid]} EXPUNGE")
            sel.uids = [u for u in sel.uids if u not in sel.pending_expunges]
            for uid in sel.pending_expunges:
                sel.flags.pop(uid, None)
                sel.recent.discard(uid)
            sel.pending_expunges.clear()
        before = len(sel.uids)
        for info in new:
            sel.uids.append(info.uid)
            sel.flags[info.uid] = info.flags
        if sel.readonly:
            sel.recent = {u for u in sel.uids if u in sel.recent} | {i.uid for i in new}
        else:
            box_recent = set(sel.box.recent_uids)
            sel.recent = {u for u in sel.uids if u in box_recent or
                          (u in sel.recent and u in sel.pending_expunges)}
        if len(sel.uids) != before:
            self.untagged(f"{len(sel.uids)} EXISTS")
        if len(sel.recent) != sel.recent_count:
            self.untagged(f"{len(sel.recent)} RECENT")
        sel.recent_count = len(sel.recent)

    def poll(self) -> None:
        """IDLE: report changes now; ``* OK Still here`` every imap_idle_notify_interval."""
        self.sync()
        now = self.conn._now()
        interval = self.conn.settings.imap_idle_notify_interval
        if interval and now - self.idle_last_notify >= interval:
            self.idle_last_notify = now
            self.untagged("OK Still here")

    def _close_box(self) -> None:
        sel, self.selected = self.selected, None
        if sel is not None:
            try:
                sel.box.close()
            except Exception:  # noqa: BLE001
                pass

    def _uids(self, seqset: c.SequenceSet, uid: bool, command: str) -> list[int]:
        """The UIDs a message set names; Dovecot's "Invalid messageset" for bad numbers."""
        sel = self.selected
        assert sel is not None
        if uid:
            largest = sel.uids[-1] if sel.uids else 0
            have = set(sel.uids)
            wanted: set[int] = set()
            for lo, hi in seqset.resolved(largest):
                if hi - lo > len(sel.uids):
                    wanted.update(u for u in sel.uids if lo <= u <= hi)
                else:
                    wanted.update(u for u in range(lo, hi + 1) if u in have)
            return [u for u in sel.uids if u in wanted]
        count = len(sel.uids)
        if count == 0 or seqset.max_number() > count:
            raise Failed(f"BAD Error in IMAP command {command}: Invalid messageset")
        return [sel.uids[n - 1] for n in seqset.iter(count)]

    # ---- any state ---------------------------------------------------------------

    def cmd_capability(self, cmd: c.Capability) -> str:
        self.untagged("CAPABILITY " + self.capability())
        return "OK Capability completed."

    def cmd_noop(self, cmd: c.Noop) -> str:
        self.sync()
        return "OK NOOP completed."

    def cmd_logout(self, cmd: c.Logout) -> None:
        self.untagged("BYE Logging out")
        self.tagged(cmd.tag, "OK Logout completed.")
        self.disconnect("Logged out")
        return None

    def cmd_id(self, cmd: c.Id) -> str:
        self.send(self.conn.id_reply())
        return "OK ID completed."

    def cmd_enable(self, cmd: c.Enable) -> str:
        # CONDSTORE, QRESYNC and UTF8=ACCEPT are not implemented: nothing gets enabled.
        return "OK Enabled."

    def cmd_namespace(self, cmd: c.Namespace) -> str:
        if self.conn.settings.namespace_reply:
            self.send(f"* NAMESPACE {self.conn.settings.namespace_reply}\r\n")
            return "OK Namespace completed."
        ns = self.conn.settings.namespace
        prefix = ns.prefix if ns is not None else getattr(self.storage, "prefix", "")
        sep = self.separator()
        self.send(b"* NAMESPACE ((" + r.quoted(mutf7_encode(prefix or "")) + b" "
                  + r.quoted(sep.encode()) + b")) NIL NIL\r\n")
        return "OK Namespace completed."

    # ---- authenticated state ------------------------------------------------------

    def cmd_select(self, cmd: c.Select) -> str:
        if self.selected is not None:
            self._close_box()
            self.untagged("OK [CLOSED] Previous mailbox closed.")
        name = self._name(cmd.mailbox)
        if cmd.condstore:
            raise Failed("BAD Error in IMAP command " + cmd.name
                         + ": Unknown FETCH modifier.")
        try:
            sel = self._open(name, cmd.readonly)
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, cmd.name) from None
        self.selected = sel
        self._mailbox_flags(sel, selecting=True)
        self.untagged(f"{len(sel.uids)} EXISTS")
        self.untagged(f"{len(sel.recent)} RECENT")
        for i, uid in enumerate(sel.uids):
            if "\\Seen" not in sel.flags[uid]:
                self.untagged(f"OK [UNSEEN {i + 1}] First unseen.")
                break
        self.untagged(f"OK [UIDVALIDITY {sel.box.uidvalidity}] UIDs valid")
        self.untagged(f"OK [UIDNEXT {sel.box.uidnext}] Predicted next UID")
        if cmd.readonly:
            return "OK [READ-ONLY] Examine completed"
        return "OK [READ-WRITE] Select completed"

    def cmd_create(self, cmd: c.Create) -> str:
        name = self._name(cmd.mailbox)
        try:
            self.storage.create(name)
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, "CREATE") from None
        return "OK Create completed."

    def cmd_delete(self, cmd: c.Delete) -> str:
        name = self._name(cmd.mailbox)
        if name.upper() == "INBOX":
            raise Failed("NO INBOX can't be deleted.")
        if self.selected is not None and self.selected.name == self._shown(name):
            # cmd-delete.c: deleting the selected mailbox closes it first.
            self._close_box()
        try:
            self.storage.delete(name)
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, "DELETE") from None
        return "OK Delete completed."

    def cmd_rename(self, cmd: c.Rename) -> str:
        old, new = self._name(cmd.old), self._name(cmd.new)
        sep = self.separator()
        if new.startswith(old + sep) and old.upper() != "INBOX":
            raise Failed("NO Can't rename mailbox under its own child.")
        try:
            self.storage.rename(old, new)
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, "RENAME") from None
        return "OK Rename completed."

    def cmd_subscribe(self, cmd: c.Subscribe) -> str:
        name = self._name(cmd.mailbox)
        try:
            if not self._exists(name):
                raise Failed(f"NO Mailbox doesn't exist: {self._shown(name)}")
            self.storage.subscribe(name)
        except Failed:
            raise
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, "SUBSCRIBE") from None
        return "OK Subscribe completed."

    def cmd_unsubscribe(self, cmd: c.Unsubscribe) -> str:
        name = self._name(cmd.mailbox)
        try:
            self.storage.unsubscribe(name)
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, "UNSUBSCRIBE") from None
        return "OK Unsubscribe completed."

    def _exists(self, name: str) -> bool:
        shown = self._shown(name)
        return any(m.name == shown and "\\Noselect" not in m.flags
                   for m in self.storage.list())

    def _pattern(self, reference: bytes, pattern: bytes) -> re.Pattern[str]:
        """A LIST pattern as a regular expression: ``*`` any, ``%`` not the separator."""
        sep = self.separator()
        ref = _lenient(reference)
        pat = _lenient(pattern)
        if ref and ref.endswith(sep) and pat.startswith(sep):
            pat = pat[len(sep):]
        full = ref + pat
        out = []
        for ch in full:
            if ch == "*":
                out.append(".*")
            elif ch == "%":
                out.append(f"[^{re.escape(sep)}]*")
            else:
                out.append(re.escape(ch))
        regex = "".join(out)
        # INBOX is case-insensitive (RFC 3501 §5.1): also as a pattern's first component.
        if full[:5].upper() == "INBOX" and (len(full) == 5 or full[5:6] in (sep, "*", "%")):
            regex = "(?i:INBOX)" + regex[5:] if full[:5].isalpha() else regex
        return re.compile(regex + r"\Z", re.DOTALL)

    def _list_flags(self, flags: Iterable[str], special: str | None) -> str:
        order = ("\\Noselect", "\\NonExistent", "\\Noinferiors", "\\Subscribed", "\\Marked",
                 "\\Unmarked", "\\HasChildren", "\\HasNoChildren")
        flags = set(flags)
        out = [f for f in order if f in flags]
        if special:
            out.append(special)
        return "(" + " ".join(out) + ")"

    def cmd_list(self, cmd: c.List) -> str:
        sep = self.separator()
        if cmd.selection or cmd.return_opts or len(cmd.patterns) != 1:
            raise Failed("BAD Error in IMAP command LIST: LIST-EXTENDED is not supported.")
        if cmd.patterns[0] == b"":
            # RFC 3501 §6.3.8: the hierarchy delimiter and the root of the reference.
            self.send(b"* LIST (\\Noselect) " + r.quoted(sep.encode()) + b" "
                      + r.astring(b"") + b"\r\n")
            return "OK List completed."
        regex = self._pattern(cmd.reference, cmd.patterns[0])
        specials = {self._shown(k): v.split()[0] for k, v in self._special_uses().items()}
        for item in self.storage.list():
            if not regex.match(item.name):
                continue
            special = item.special_use or specials.get(item.name)
            self.send(r.list_line("LIST", self._list_flags(item.flags, special)[1:-1].split(),
                                  sep, mutf7_encode(item.name)))
        return "OK List completed."

    def cmd_lsub(self, cmd: c.Lsub) -> str:
        sep = self.separator()
        regex = self._pattern(cmd.reference, cmd.pattern)
        subs = self.storage.subscriptions()
        existing = {m.name for m in self.storage.list() if "\\Noselect" not in m.flags}
        seen: set[str] = set()
        for name in subs:
            if regex.match(name):
                if name not in seen:
                    seen.add(name)
                    flags = [] if name in existing else ["\\Noselect"]
                    self.send(r.list_line("LSUB", flags, sep, mutf7_encode(name)))
                continue
            parts = name.split(sep)
            for i in range(len(parts) - 1, 0, -1):
                parent = sep.join(parts[:i])
                if regex.match(parent) and parent not in subs and parent not in seen:
                    seen.add(parent)
                    self.send(r.list_line("LSUB", ["\\Noselect"], sep, mutf7_encode(parent)))
                    break
        return "OK Lsub completed."

    def cmd_status(self, cmd: c.Status) -> str:
        name = self._name(cmd.mailbox)
        for item in cmd.items:
            if item == "HIGHESTMODSEQ":
                raise Failed("BAD Error in IMAP command STATUS: Invalid status item "
                             "HIGHESTMODSEQ")
        sel = self.selected
        on_selected = sel is not None and sel.name == self._shown(name)
        if on_selected and sel is not None:
            self.sync(expunges=False)
            values = {"MESSAGES": len(sel.uids), "RECENT": len(sel.recent),
                      "UIDNEXT": sel.box.uidnext, "UIDVALIDITY": sel.box.uidvalidity,
                      "UNSEEN": sum(1 for u in sel.uids if "\\Seen" not in sel.flags[u])}
            if "SIZE" in cmd.items:
                values["SIZE"] = sum(m.virtual_size for m in sel.box.messages)
        else:
            try:
                values = dict(self.storage.status(name))
                if "SIZE" in cmd.items:
                    box = self.storage.open(name, readonly=True)
                    try:
                        values["SIZE"] = sum(m.virtual_size for m in box.messages)
                    finally:
                        box.close()
            except Exception as exc:  # noqa: BLE001
                raise storage_error(exc, "STATUS") from None
        order = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE")
        items = [(k, int(values.get(k, 0))) for k in order if k in cmd.items]
        self.send(r.status_line(mutf7_encode(self._shown(name)), items))
        if on_selected:
            return "OK [CLIENTBUG] Status on selected mailbox completed."
        return "OK Status completed."

    def cmd_append(self, cmd: c.Append) -> str:
        box = self._append_box
        self._append_box = None
        if box is None:
            try:
                box = self.storage.open_for_save(self._name(cmd.mailbox))
            except Failed:
                raise
            except Exception as exc:  # noqa: BLE001
                raise storage_error(exc, "APPEND") from None
        try:
            if not cmd.message:
                raise Failed("NO Can't save a zero byte message.")
            try:
                uid = box.append(cmd.message, cmd.flags, cmd.date)
            except Exception as exc:  # noqa: BLE001
                raise storage_error(exc, "APPEND") from None
            validity = box.uidvalidity
        finally:
            try:
                box.close()
            except Exception:  # noqa: BLE001
                pass
        self.counters["appended"] += 1
        self.sync()
        return f"OK [APPENDUID {validity} {uid}] Append completed."

    def cmd_idle(self, cmd: c.Idle) -> None:
        self.send(b"+ idling\r\n")
        self.idle_tag = cmd.tag
        self.idle_last_notify = self.conn._now()
        self.conn.reader.expect_done(cmd.tag)
        self.sync()
        return None

    # ---- selected state --------------------------------------------------------------

    def cmd_check(self, cmd: c.Check) -> str:
        self.sync()
        return "OK Check completed."

    def cmd_close(self, cmd: c.Close) -> str:
        sel = self.selected
        assert sel is not None
        if not sel.readonly:
            try:
                gone = sel.box.expunge()
                self.counters["expunged"] += len(gone)
            except Exception as exc:  # noqa: BLE001
                self._close_box()
                return f"OK Closed without expunging: {exc}"
        self._close_box()
        return "OK Close completed."

    def cmd_unselect(self, cmd: c.Unselect) -> str:
        self._close_box()
        return "OK Unselect completed."

    def cmd_expunge(self, cmd: c.Expunge) -> str:
        sel = self.selected
        assert sel is not None
        if sel.readonly:
            # A read-only view expunges nothing, and Dovecot says so no differently.
            self.sync()
            return "OK Expunge completed."
        only = None
        if cmd.uid_set is not None:
            only = self._uids(cmd.uid_set, True, "UID EXPUNGE")
        gone = sel.box.expunge(only)
        self.counters["expunged"] += len(gone)
        sel.pending_expunges.update(u for u in gone if u in sel.flags)
        self.sync()
        return "OK Expunge completed."

    def cmd_search(self, cmd: c.Search) -> str:
        sel = self.selected
        assert sel is not None
        key = cmd.key
        if cmd.charset is not None and cmd.charset.upper() not in ("UTF-8", "US-ASCII"):
            try:
                key = _recode(key, cmd.charset)
            except LookupError:
                raise Failed("NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset") \
                    from None
        max_seq = len(sel.uids)
        max_uid = sel.uids[-1] if sel.uids else 0
        info = {m.uid: m for m in sel.box.messages}
        found = []
        for i, uid in enumerate(sel.uids):
            m = info.get(uid)
            flags = set(sel.flags.get(uid, frozenset()))
            if uid in sel.recent:
                flags.add("\\Recent")
            when = m.internaldate if m is not None else dt.datetime.now(dt.UTC)
            size = m.virtual_size if m is not None else 0
            msg = _LazyMessage(sel.box, i + 1, uid, frozenset(flags), when, size)
            if search_matches(key, msg, max_seq=max_seq, max_uid=max_uid):
                found.append(uid if cmd.uid else i + 1)
        self.send(r.search(found))
        self.sync(expunges=cmd.uid and not _has_seqset(key))
        return "OK Search completed."

    def cmd_fetch(self, cmd: c.Fetch) -> str:
        sel = self.selected
        assert sel is not None
        if cmd.changedsince is not None:
            raise Failed("BAD Error in IMAP command " + ("UID FETCH" if cmd.uid else "FETCH")
                         + ": Unknown FETCH modifier.")
        for att in cmd.items:
            if att.name in ("MODSEQ", "BINARY[]", "BINARY.SIZE[]"):
                raise Failed("BAD Error in IMAP command " + ("UID FETCH" if cmd.uid else
                                                              "FETCH")
                             + f": Unknown parameter {att.name.rstrip('[]')}.")
        uids = self._uids(cmd.seqset, cmd.uid, "UID FETCH" if cmd.uid else "FETCH")
        seqs = sel.seq_of()
        info = {m.uid: m for m in sel.box.messages}
        sets_seen = not sel.readonly and any(a.sets_seen for a in cmd.items)
        needs_data = any(a.name not in ("FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE")
                         for a in cmd.items)
        skipped = False
        for uid in uids:
            m = info.get(uid)
            if m is None or uid in sel.pending_expunges:
                if needs_data or any(a.name in ("INTERNALDATE", "RFC822.SIZE")
                                     for a in cmd.items):
                    skipped = True
                    continue
            data = parsed = None
            if needs_data:
                try:
                    data = sel.box.read(uid)
                except Exception:  # noqa: BLE001 - expunged meanwhile
                    skipped = True
                    continue
            add_flags = False
            if sets_seen and "\\Seen" not in sel.flags.get(uid, frozenset()):
                try:
                    sel.box.set_flags([uid], ["\\Seen"], "add")
                except Exception:  # noqa: BLE001
                    pass
                else:
                    sel.flags[uid] = sel.flags.get(uid, frozenset()) | {"\\Seen"}
                    add_flags = not any(a.name == "FLAGS" for a in cmd.items)
            # imap-fetch.c: "buffered" items (UID, FLAGS, INTERNALDATE, RFC822.SIZE) come
            # first in the order asked, then FLAGS when \Seen was set, then the rest.
            first: list[bytes] = []
            rest: list[bytes] = []
            for att in cmd.items:
                if att.name == "UID":
                    first.append(b"UID %d" % uid)
                elif att.name == "FLAGS":
                    first.append(b"FLAGS " + self._flags_of(sel, uid).encode())
                elif att.name == "INTERNALDATE":
                    assert m is not None
                    first.append(b"INTERNALDATE "
                                 + r.internaldate(m.internaldate.astimezone()))
                elif att.name == "RFC822.SIZE":
                    assert m is not None
                    first.append(b"RFC822.SIZE %d" % m.virtual_size)
                else:
                    assert data is not None
                    if parsed is None:
                        parsed = ParsedMessage(data)
                    rest.append(self._fetch_value(att, parsed))
            if add_flags:
                first.append(b"FLAGS " + self._flags_of(sel, uid).encode())
            parts = first + rest
            self.send(b"* %d FETCH (" % seqs[uid] + b" ".join(parts) + b")\r\n")
        self.sync(expunges=cmd.uid)
        if skipped:
            return "OK [EXPUNGEISSUED] Some messages were already expunged."
        return "OK Fetch completed."

    def _fetch_value(self, att: c.FetchAtt, msg: ParsedMessage) -> bytes:
        name = att.name
        if name == "ENVELOPE":
            return b"ENVELOPE " + msg.envelope()
        if name == "BODY":
            return b"BODY " + msg.body()
        if name == "BODYSTRUCTURE":
            return b"BODYSTRUCTURE " + msg.bodystructure()
        if name == "RFC822":
            value, header = msg.data, False
        elif name == "RFC822.HEADER":
            value, header = msg.rfc822_header(), True
        elif name == "RFC822.TEXT":
            value, header = msg.rfc822_text(), False
        else:
            literal = msg.fetch_body_section(att)
            section = att.section
            header = section is not None and section.text in (
                "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "MIME")
            size = len(literal) - literal.index(b"\r\n") - 2
            self._count(header, size)
            return att.response_name().encode("latin-1") + b" " + literal
        self._count(header, len(value))
        return name.encode() + b" " + r.literal(value)

    def _count(self, header: bool, size: int) -> None:
        kind = "hdr" if header else "body"
        self.counters[f"fetch_{kind}_count"] += 1
        self.counters[f"fetch_{kind}_bytes"] += size

    def cmd_store(self, cmd: c.Store) -> str:
        sel = self.selected
        assert sel is not None
        name = "UID STORE" if cmd.uid else "STORE"
        uids = self._uids(cmd.seqset, cmd.uid, name)
        if sel.readonly:
            self.sync(expunges=cmd.uid)
            return "OK Store ignored with read-only mailbox."
        mode = {"+": "add", "-": "remove", "": "replace"}[cmd.mode]
        targets = [u for u in uids if u not in sel.pending_expunges]
        before = {u: sel.flags.get(u, frozenset()) for u in targets}
        try:
            changed = sel.box.set_flags(targets, cmd.flags, mode)
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, name) from None
        own = []
        for info in changed:
            if info.uid in sel.flags:
                if "\\Deleted" in info.flags and "\\Deleted" not in before.get(info.uid, ()):
                    self.counters["deleted"] += 1
                sel.flags[info.uid] = info.flags
                own.append(info.uid)
        self.sync(expunges=cmd.uid, send_uid=cmd.uid and not cmd.silent,
                  own=() if cmd.silent else own)
        return "OK Store completed."

    def _copy(self, cmd: c.Copy | c.Move, move: bool) -> str:
        sel = self.selected
        assert sel is not None
        verb = "MOVE" if move else "COPY"
        name = ("UID " if cmd.uid else "") + verb
        uids = self._uids(cmd.seqset, cmd.uid, name)
        dest = self._name(cmd.mailbox)
        if not uids:
            self.sync(expunges=cmd.uid)
            return "OK No messages found."
        if move and sel.readonly:
            raise Failed("NO [CANNOT] Mailbox is read-only.")
        expunged = [u for u in uids if u in sel.pending_expunges]
        live = [u for u in uids if u not in sel.pending_expunges]
        try:
            pairs = sel.box.copy(live, dest)
            validity = self.storage.status(dest)["UIDVALIDITY"]
        except Exception as exc:  # noqa: BLE001
            raise storage_error(exc, name) from None
        if self._is_trash(dest):
            self.counters["trashed"] += len(pairs)
        src = _seq_range([a for a, _ in pairs])
        dst = _seq_range([b for _, b in pairs])
        if move and pairs:
            moved = [a for a, _ in pairs]
            sel.box.set_flags(moved, ["\\Deleted"], "add")
            gone = sel.box.expunge(moved)
            self.counters["expunged"] += len(gone)
            sel.pending_expunges.update(u for u in gone if u in sel.flags)
            self.untagged(f"OK [COPYUID {validity} {src} {dst}] Moved UIDs.")
        if expunged or len(pairs) < len(live):
            self.sync(expunges=False)
            return "NO [EXPUNGEISSUED] Some of the requested messages no longer exist."
        if move:
            self.sync(expunges=True)
            return "OK Move completed."
        self.sync(expunges=cmd.uid)
        return f"OK [COPYUID {validity} {src} {dst}] Copy completed."

    def _is_trash(self, name: str) -> bool:
        shown = self._shown(name)
        for box, use in self._special_uses().items():
            if self._shown(box) == shown and "\\Trash" in use.split():
                return True
        return False

    def cmd_copy(self, cmd: c.Copy) -> str:
        return self._copy(cmd, move=False)

    def cmd_move(self, cmd: c.Move) -> str:
        return self._copy(cmd, move=True)


def _lenient(raw: bytes) -> str:
    try:
        return mutf7_decode(raw)
    except UTF7Error:
        return raw.decode("utf-8", "replace")


def _seq_range(numbers: list[int]) -> str:
    """lib-imap ``imap_write_seq_range``: ``1:3,5``."""
    out: list[str] = []
    nums = sorted(set(numbers))
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}:{nums[j]}")
        i = j + 1
    return ",".join(out)


def _has_seqset(key: c.SearchKey) -> bool:
    if key.op == "SEQSET":
        return True
    return any(isinstance(a, c.SearchKey) and _has_seqset(a) for a in key.args)


def _recode(key: c.SearchKey, charset: str) -> c.SearchKey:
    """Search strings given in ``charset`` turned into UTF-8 (LookupError if unknown)."""
    "x".encode(charset)
    args = []
    for a in key.args:
        if isinstance(a, c.SearchKey):
            args.append(_recode(a, charset))
        elif isinstance(a, bytes):
            args.append(a.decode(charset, "replace").encode("utf-8"))
        else:
            args.append(a)
    return c.SearchKey(key.op, tuple(args))
