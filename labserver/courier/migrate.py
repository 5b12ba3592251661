"""Moving a maildir from Courier to Dovecot without clients noticing.

Three things keep a client's view the same:

- the namespace: Courier-IMAP shows every folder under ``INBOX.`` with ``.`` as the
  separator, so Dovecot needs ``namespace inbox { prefix = INBOX.  separator = . }``
  (``DOVECOT_CONFIG`` is such a configuration, Maildir++ on the same ``~/Maildir``);
- the UIDs: ``courierimapuiddb`` becomes ``dovecot-uidlist`` with the same UIDVALIDITY,
  next UID and UIDs (``convert``, which does for the lab what Dovecot's
  ``courier-dovecot-migrate.pl`` does: header ``3 V<uidvalidity> N<nextuid>``, then
  ``<uid> :<file name>`` per message, in each folder);
- the subscriptions: ``courierimapsubscribed`` lists ``INBOX.Sent``, Dovecot's
  ``subscriptions`` file lists names inside the namespace (``Sent``); ``INBOX`` stays.

Flags need nothing: both servers keep them in the file names (``:2,FS``).
``imap_view`` records what a client sees (folders, separators, subscriptions, and per
folder UIDVALIDITY, UIDs and flags) and ``compare`` lists what changed, so a grader can
check a migration by behaviour.
"""

from __future__ import annotations

import imaplib
import os
import re
from dataclasses import dataclass, field

from ..service.lab import USERS_PATH
from .maildir import SUBSCRIBED, UIDDB, CourierUiddb

UIDLIST = "dovecot-uidlist"
SUBSCRIPTIONS = "subscriptions"

DOVECOT_CONFIG = f"""\
# Dovecot on a maildir that Courier-IMAP used to serve.
protocols = imap pop3
mail_location = maildir:~/Maildir
namespace inbox {{
  prefix = INBOX.
  separator = .
  inbox = yes
}}
# Courier's POP3 UIDLs: UID<uid>-<uidvalidity>
pop3_uidl_format = UID%u-%v
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {USERS_PATH}
}}
userdb {{
  driver = passwd-file
  args = {USERS_PATH}
  default_fields = home=/home/%u
}}
"""


def folders(maildir: str) -> list[str]:
    """The maildir and its Maildir++ folders (``.Name`` directories with ``cur``)."""
    out = [maildir]
    for entry in sorted(os.listdir(maildir)):
        path = os.path.join(maildir, entry)
        if entry.startswith(".") and entry not in (".", "..") and not entry.startswith("..") \
                and os.path.isdir(os.path.join(path, "cur")) and not os.path.islink(path):
            out.append(path)
    return out


def convert(maildir: str, overwrite: bool = False) -> list[str]:
    """Write ``dovecot-uidlist`` and ``subscriptions`` from Courier's files; a report.

    An existing Dovecot file is kept unless ``overwrite`` (as the script's
    ``--overwrite``); a broken ``courierimapuiddb`` is reported and skipped.
    """
    report: list[str] = []
    for folder in folders(maildir):
        source = os.path.join(folder, UIDDB)
        target = os.path.join(folder, UIDLIST)
        if not os.path.exists(source):
            report.append(f"{folder}: no {UIDDB}")
            continue
        if os.path.exists(target) and not overwrite:
            report.append(f"{target} already exists, not overwritten")
            continue
        try:
            with open(source, encoding="utf-8", errors="surrogateescape") as f:
                uiddb = CourierUiddb.parse(f.read())
        except ValueError as exc:
            report.append(f"{source}: {exc}")
            continue
        names = _file_names(folder)
        lines = [f"3 V{uiddb.uidvalidity} N{uiddb.next_uid}"]
        lines += [f"{r.uid} :{names.get(r.base, r.base)}" for r in uiddb.records]
        _write(target, "\n".join(lines) + "\n")
        report.append(f"{target}: {len(uiddb.records)} UIDs, UIDVALIDITY "
                      f"{uiddb.uidvalidity}, next UID {uiddb.next_uid}")
    source = os.path.join(maildir, SUBSCRIBED)
    target = os.path.join(maildir, SUBSCRIPTIONS)
    if os.path.exists(source) and (overwrite or not os.path.exists(target)):
        with open(source, encoding="utf-8", errors="surrogateescape") as f:
            subscribed = [line for line in f.read().split("\n") if line]
        converted = []
        for name in subscribed:
            if name.upper() == "INBOX":
                converted.append("INBOX")
            elif name.upper().startswith("INBOX."):
                converted.append(name[len("INBOX."):])
            else:
                converted.append(name)
        _write(target, "".join(n + "\n" for n in converted))
        report.append(f"{target}: {len(converted)} subscriptions")
    elif os.path.exists(target):
        report.append(f"{target} already exists, not overwritten")
    return report


def _file_names(folder: str) -> dict[str, str]:
    """Base name -> current file name (with ``:2,flags``) in ``cur`` and ``new``."""
    out = {}
    for sub in ("new", "cur"):
        try:
            for name in os.listdir(os.path.join(folder, sub)):
                out[name.split(":", 1)[0]] = name
        except FileNotFoundError:
            continue
    return out


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)
    os.replace(tmp, path)


# --- what a client sees ------------------------------------------------------------

@dataclass
class FolderView:
    uidvalidity: int
    messages: dict[int, frozenset[str]]  # UID -> flags (without \Recent)


@dataclass
class MailboxView:
    """One user's mailbox as an IMAP client sees it."""

    separator: str = ""
    folders: dict[str, FolderView] = field(default_factory=dict)
    subscribed: list[str] = field(default_factory=list)


_LIST = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?P<sep>[^"]*)"|NIL) (?P<name>.*)$')
_FETCH = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)")


def _unquote(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def imap_view(host: str, port: int, user: str, password: str, timeout: float = 30
              ) -> MailboxView:
    """Log in and record folders, subscriptions, UIDVALIDITY, UIDs and flags."""
    view = MailboxView()
    with imaplib.IMAP4(host, port, timeout=timeout) as imap:
        imap.login(user, password)
        names = []
        _, listed = imap.list('""', "*")
        for item in listed:
            match = _LIST.match(item) if isinstance(item, bytes) else None
            if match is None:
                continue
            view.separator = (match.group("sep") or b"").decode()
            if b"\\Noselect" not in match.group("flags"):
                names.append(_unquote(match.group("name")))
        _, subs = imap.lsub('""', "*")
        for item in subs:
            match = _LIST.match(item) if isinstance(item, bytes) else None
            if match is not None and b"\\Noselect" not in match.group("flags"):
                view.subscribed.append(_unquote(match.group("name")))
        view.subscribed.sort()
        for name in sorted(names):
            typ, _ = imap.select(f'"{name}"', readonly=True)
            if typ != "OK":
                continue
            uidvalidity = int((imap.untagged_responses.get("UIDVALIDITY") or [b"0"])[-1])
            messages: dict[int, frozenset[str]] = {}
            typ, data = imap.uid("FETCH", "1:*", "(FLAGS)")
            for item in data if typ == "OK" else []:
                raw = item[0] if isinstance(item, tuple) else item
                if not isinstance(raw, bytes):
                    continue
                uid, flags = None, frozenset()
                for m in _FETCH.finditer(raw):
                    if m.group(1):
                        uid = int(m.group(1))
                    else:
                        flags = frozenset(f for f in m.group(2).decode().split()
                                          if f != "\\Recent")
                if uid is not None:
                    messages[uid] = flags
            view.folders[name] = FolderView(uidvalidity, messages)
            imap.close()
        imap.logout()
    return view


def compare(before: MailboxView, after: MailboxView) -> list[str]:
    """What a client would notice, one sentence each; empty when nothing changed."""
    out = []
    if before.separator != after.separator:
        out.append(f"the hierarchy separator changed from {before.separator!r} to "
                   f"{after.separator!r}")
    for name in sorted(set(before.folders) - set(after.folders)):
        out.append(f"folder {name} is gone")
    for name in sorted(set(after.folders) - set(before.folders)):
        out.append(f"folder {name} is new")
    for name in sorted(set(before.folders) & set(after.folders)):
        a, b = before.folders[name], after.folders[name]
        if a.uidvalidity != b.uidvalidity:
            out.append(f"{name}: UIDVALIDITY changed from {a.uidvalidity} to {b.uidvalidity}"
                       " (clients download everything again)")
        if sorted(a.messages) != sorted(b.messages):
            out.append(f"{name}: UIDs changed from {sorted(a.messages)} to "
                       f"{sorted(b.messages)}")
        for uid in sorted(set(a.messages) & set(b.messages)):
            if a.messages[uid] != b.messages[uid]:
                out.append(f"{name}: UID {uid} flags changed from "
                           f"{' '.join(sorted(a.messages[uid])) or '()'} to "
                           f"{' '.join(sorted(b.messages[uid])) or '()'}")
    if before.subscribed != after.subscribed:
        out.append(f"subscriptions changed from {before.subscribed} to {after.subscribed}")
    return out
