"""Storage details a POP3 or IMAP administrator must get right, judged by the server.

- ``mail-location-virtual``: virtual users (``name@domain``) whose mail lives under
  ``/var/vmail/DOMAIN/NAME``; the check delivers and appends mail for a made-up user of a
  made-up domain and looks where it lands, so only the variables ``%d`` and ``%n`` (or
  their long names) pass, never a path typed for one user.
- ``mail-location-control``: Maildir in ``~/Maildir`` with Dovecot's control files (UID
  lists, subscriptions) under ``/var/lib/dovecot/control/USER``; the check opens folders,
  subscribes and appends, then looks for those files on both sides.
- ``maildir-size-fields``: the ``,S=`` and ``,W=`` values in the names of the files a
  Maildir save writes; the check APPENDs the messages and reads the names on disk.
- ``pop3-uidl``: the learner's function that computes a POP3 UIDL from a message's UID
  and its folder's UIDVALIDITY; the check asks the server for UIDs and UIDLs of fresh
  messages (with gaps in the UIDs) and compares.

Each runs on the lab or on real Dovecot (``engine=``) with the same verdict.
"""

from __future__ import annotations

import imaplib
import poplib
import re
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from labserver.service.lab import DEFAULT_CONFIG, Lab

from .mail_tasks import message
from .probe import Submission, close, evidence, fresh_user, imap_client, judge, lab_for, pop3_client
from .verdict import Verdict

SEE_VARIABLES = "04-mail-location: Variables"
SEE_CONTROL = "04-mail-location: Where files land"
SEE_NAMES = "08-pop3-sizing: Maildir ,S= and ,W="
SEE_UIDL = "08-pop3-sizing: UIDL and pop3_uidl_format"

_SIZE = re.compile(r",([SW])=(\d+)")


def _imap_session(lab: Lab, user: str, password: str, folder: str, appended: bytes
                  ) -> tuple[bool, bool, bool]:
    """Log in, SELECT INBOX, CREATE ``folder``, APPEND to INBOX: what succeeded."""
    client = imap_client(lab, source=None)
    try:
        client.login(user, password)
        selected = client.select("INBOX")[0] == "OK"
        created = client.create(folder)[0] == "OK"
        client.append("INBOX", None, imaplib.Time2Internaldate(time.time()), appended)
        return True, selected, created
    except (imaplib.IMAP4.error, OSError):
        return False, False, False
    finally:
        close(client)


def _subjects(lab: Lab, user: str, password: str) -> list[str]:
    """The subjects of INBOX's messages, as an IMAP client sees them."""
    client = imap_client(lab, source=None)
    try:
        client.login(user, password)
        typ, data = client.select("INBOX", readonly=True)
        if typ != "OK" or not int(data[0] or 0):
            return []
        _, got = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [part[1].decode(errors="replace") for part in got if isinstance(part, tuple)]
    except (imaplib.IMAP4.error, OSError):
        return []
    finally:
        close(client)


def _holding(root: Path, marker: bytes) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name in ("cur", "new")
            and marker in p.read_bytes()]


def mail_location_virtual(submission: Submission, *, engine: str = "lab") -> Verdict:
    """Maildir per virtual user (name@domain) in /var/vmail/DOMAIN/NAME, via %d and %n."""
    task = "mail-location-virtual"
    name, password = fresh_user()
    domain = f"example{secrets.randbelow(900) + 100}.org"
    user = f"{name}@{domain}"
    dropped, appended = secrets.token_hex(6), secrets.token_hex(6)
    folder = f"Invoices{secrets.randbelow(900) + 100}"
    maildir = f"/var/vmail/{domain}/{name}"
    files: dict[str, str | bytes | None] = {
        f"{maildir}/new/{int(time.time())}.M1P1.grader": message(dropped),
        f"{maildir}/cur": None, f"{maildir}/tmp": None}
    with lab_for(task, submission, engine=engine, users=[(user, password)], files=files,
                 default_auth=True, see=SEE_VARIABLES) as lab:
        logged_in, selected, created = _imap_session(lab, user, password, folder,
                                                     message(appended))
        subjects = _subjects(lab, user, password)
        on_disk = _holding(lab.path(maildir), appended.encode())
        parts = [
            (logged_in and selected, f"{user} can log in over IMAP and open INBOX",
             "the login or SELECT failed; look at the log below"),
            (any(dropped in s for s in subjects),
             f"mail delivered to {maildir}/new shows in INBOX",
             f"INBOX showed {len(subjects)} message(s), none of them the one delivered "
             f"to {maildir}"),
            (bool(on_disk) and all(p.parent.parent == lab.path(maildir) for p in on_disk),
             f"a message the client APPENDs to INBOX is a file in {maildir}/cur or new",
             "no file there holds it, so INBOX is somewhere else"),
            (created and (lab.path(f"{maildir}/.{folder}") / "cur").is_dir(),
             f"a folder the client CREATEs is {maildir}/.{folder}",
             "that folder is not there" + ("" if created else " (CREATE failed)")),
        ]
        return judge(task, parts, see=SEE_VARIABLES, evidence=evidence(lab),
                     hint="for user@domain, %d is the domain and %n the part before the @ "
                          "(%u is the whole address): mail_location = "
                          "maildir:/var/vmail/%d/%n")


def _names_under(root: Path, name: str) -> list[Path]:
    return sorted(root.rglob(name)) if root.is_dir() else []


def mail_location_control(submission: Submission, *, engine: str = "lab") -> Verdict:
    """Maildir in ~/Maildir; control files (CONTROL=) in /var/lib/dovecot/control/USER."""
    task = "mail-location-control"
    user, password = fresh_user()
    dropped, appended = secrets.token_hex(6), secrets.token_hex(6)
    folder = f"Reports{secrets.randbelow(900) + 100}"
    maildir, control = f"/home/{user}/Maildir", f"/var/lib/dovecot/control/{user}"
    files: dict[str, str | bytes | None] = {
        f"{maildir}/new/{int(time.time())}.M1P1.grader": message(dropped),
        f"{maildir}/cur": None, f"{maildir}/tmp": None, control: None,
        # Ready for an INDEX= beside it, as an administrator would make it.
        f"/var/lib/dovecot/index/{user}": None}
    with lab_for(task, submission, engine=engine, users=[(user, password)], files=files,
                 default_auth=True, see=SEE_CONTROL) as lab:
        logged_in, selected, created = _imap_session(lab, user, password, folder,
                                                     message(appended))
        subscribed = False
        client = imap_client(lab, source=None)
        try:
            client.login(user, password)
            subscribed = client.subscribe(folder)[0] == "OK"
        except (imaplib.IMAP4.error, OSError):
            pass
        finally:
            close(client)
        subjects = _subjects(lab, user, password)
        on_disk = _holding(lab.path(maildir), appended.encode())
        in_control = _names_under(lab.path(control), "dovecot-uidlist")
        in_maildir = _names_under(lab.path(maildir), "dovecot-uidlist")
        parts = [
            (logged_in and selected and any(dropped in s for s in subjects),
             "mail delivered to ~/Maildir/new shows in INBOX",
             "INBOX does not show it; look at the log below"),
            (bool(on_disk), "a message the client APPENDs is a file under ~/Maildir",
             "no file under ~/Maildir holds it"),
            (len(in_control) >= 2, f"the folders' dovecot-uidlist files are under {control}",
             f"found {len(in_control)} there"),
            (not in_maildir, "no dovecot-uidlist is left beside the mail in ~/Maildir",
             f"found {len(in_maildir)} under ~/Maildir"),
            (created and subscribed and (lab.path(control) / "subscriptions").is_file(),
             f"SUBSCRIBE writes {control}/subscriptions",
             "no subscriptions file there" + ("" if subscribed else " (SUBSCRIBE failed)")),
        ]
        return judge(task, parts, see=SEE_CONTROL, evidence=evidence(lab),
                     hint="add :CONTROL=/var/lib/dovecot/control/%u to the Maildir location; "
                          "the mail root stays ~/Maildir")


def _pairs(submission: object) -> list[tuple[int, int]]:
    """The learner's (S, W) per message: pairs, {"S": s, "W": w} or file names."""
    out = []
    for item in submission:  # type: ignore[attr-defined]
        if isinstance(item, str):
            found = dict(_SIZE.findall(item))
            if set(found) != {"S", "W"}:
                raise ValueError(f"{item!r} has no ,S= and ,W= values")
            out.append((int(found["S"]), int(found["W"])))
        elif isinstance(item, dict):
            out.append((int(item["S"]), int(item["W"])))
        else:
            s, w = item
            out.append((int(s), int(w)))
    return out


def _maildir_files(root: Path) -> set[str]:
    return {p.name for sub in ("cur", "new") if (root / sub).is_dir()
            for p in (root / sub).iterdir()}


def maildir_size_fields(submission: object, *, messages: Sequence[bytes | str],
                        engine: str = "lab") -> Verdict:
    """The ,S= and ,W= values in the Maildir file names of messages a client APPENDs."""
    task = "maildir-size-fields"
    raw = [m.encode() if isinstance(m, str) else bytes(m) for m in messages]
    try:
        answers = _pairs(submission)
    except (TypeError, ValueError, KeyError) as exc:
        return Verdict(task, False, 0.0, "Give one (S, W) pair of whole numbers per message, "
                       f"in order ({exc}).", see=SEE_NAMES)
    if len(answers) != len(raw):
        return Verdict(task, False, 0.0, f"There are {len(raw)} messages but {len(answers)} "
                       "answers: give one (S, W) pair per message, in order.", see=SEE_NAMES)
    user, password = fresh_user()
    with lab_for(task, DEFAULT_CONFIG, engine=engine, users=[(user, password)],
                 see=SEE_NAMES) as lab:
        maildir = lab.path(f"/home/{user}/Maildir")
        client = imap_client(lab, source=None)
        names: list[str | None] = []
        try:
            client.login(user, password)
            for data in raw:
                before = _maildir_files(maildir)
                client.append("INBOX", None, imaplib.Time2Internaldate(time.time()), data)
                new = sorted(_maildir_files(maildir) - before)
                names.append(new[0] if new else None)
        finally:
            close(client)
    parts = []
    for number, (data, (s, w), name) in enumerate(zip(raw, answers, names, strict=True), 1):
        real = dict(_SIZE.findall(name or ""))
        lines = data.count(b"\n")
        crlf = data.count(b"\r\n")
        for key, said in (("S", s), ("W", w)):
            parts.append((str(said) == real.get(key),
                          f"message {number}: {key}={real.get(key, '?')}",
                          f"you said {key}={said}; the message as sent has {len(data)} "
                          f"bytes, {lines} line end(s), {crlf} of them CRLF"))
    return judge(task, parts, see=SEE_NAMES, evidence=[n for n in names if n],
                 hint="Dovecot saves with LF line ends: S= is the size of that file; W= "
                      "counts every line end as two bytes (CRLF), which is what POP3 reports.")


def _server_uidls(lab: Lab, user: str, password: str, count: int
                  ) -> tuple[int, list[int], list[str]]:
    """APPEND ``count`` messages, expunge some, then read UIDVALIDITY, UIDs and UIDLs."""
    client = imap_client(lab, source=None)
    try:
        client.login(user, password)
        for _ in range(count):
            client.append("INBOX", None, imaplib.Time2Internaldate(time.time()),
                          message(secrets.token_hex(6)))
        client.select("INBOX")
        validity = int(client.response("UIDVALIDITY")[1][0])
        gone = sorted(secrets.SystemRandom().sample(range(1, count + 1), count // 2))
        client.store(",".join(map(str, gone)), "+FLAGS.SILENT", "(\\Deleted)")
        client.expunge()
        _, data = client.uid("SEARCH", "ALL")
        uids = [int(x) for x in data[0].split()]
    finally:
        close(client)
    pop = pop3_client(lab, source=None)
    try:
        pop.user(user)
        pop.pass_(password)
        uidls = [line.split(b" ", 1)[1].decode() for line in pop.uidl()[1]]
    finally:
        close(pop)
    return validity, uids, uidls


def pop3_uidl(submission: Callable[[int, int], str], *, uidl_format: str | None = None,
              engine: str = "lab") -> Verdict:
    """A function uidl(uid, uidvalidity) that gives the UIDLs POP3 lists (pop3_uidl_format)."""
    task = "pop3-uidl"
    if not callable(submission):
        return Verdict(task, False, 0.0, "Hand in a function uidl(uid, uidvalidity) that "
                       "returns the UIDL text, not a value.", see=SEE_UIDL)
    config = DEFAULT_CONFIG + (f"pop3_uidl_format = {uidl_format}\n" if uidl_format else "")
    user, password = fresh_user()
    with lab_for(task, config, engine=engine, users=[(user, password)], see=SEE_UIDL) as lab:
        try:
            validity, uids, uidls = _server_uidls(lab, user, password,
                                                  4 + secrets.randbelow(3))
        except (imaplib.IMAP4.error, poplib.error_proto, OSError) as exc:
            return Verdict(task, False, 0.0, f"The server could not list UIDLs ({exc}).",
                           evidence(lab), see=SEE_UIDL)
    parts = []
    for uid, real in zip(uids, uidls, strict=True):
        try:
            said = str(submission(uid, validity))
        except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
            said = f"an error ({type(exc).__name__}: {exc})"
        parts.append((said == real, f"UID {uid} in a folder with UIDVALIDITY {validity}: "
                      f"UIDL {real}", f"your function gave {said!r}"))
    shown = uidl_format or "%08Xu%08Xv"
    return judge(task, parts, see=SEE_UIDL,
                 evidence=[f"pop3_uidl_format = {shown}", f"UIDVALIDITY {validity}",
                           f"UIDs {uids}", f"UIDLs {uidls}"],
                 hint=f"pop3_uidl_format = {shown}: %u is the UID, %v the UIDVALIDITY; "
                      "%08X means hexadecimal, 8 digits padded with zeros (Dovecot writes "
                      "the letters in lower case).")


CHECKS = {
    "mail-location-virtual": mail_location_virtual,
    "mail-location-control": mail_location_control,
    "maildir-size-fields": maildir_size_fields,
    "pop3-uidl": pop3_uidl,
}
