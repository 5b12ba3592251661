"""Where mail lands: ``mail_location`` judged by what the server does with real mail.

Each check makes up a user and messages with unguessable markers, plays the mail
delivery agent by writing mail where the task says it belongs (a file in
``~/Maildir/new``, a message appended to ``/var/mail/USER``), and then looks from both
sides: the IMAP and POP3 servers must see that mail, and what a client APPENDs or
CREATEs must appear on disk where the task says. A configuration that stores mail
somewhere else fails, however its text is spelled.
"""

from __future__ import annotations

import email.utils
import imaplib
import secrets
import time
from pathlib import Path

from labserver.service.lab import DEFAULT_CONFIG, Lab

from .probe import Submission, close, evidence, fresh_user, imap_client, judge, lab_for, pop3_client
from .verdict import Verdict

SEE_LOCATION = "04-mail-location: Maildir and mbox in Dovecot 2.3"
SEE_SIZES = "08-pop3-sizing: Counting the bytes"


def message(marker: str, body_lines: int = 2) -> bytes:
    """A small message whose subject and body carry ``marker`` (LF line ends, as on disk)."""
    body = "".join(f"Line {i} of the message {marker}.\n" for i in range(body_lines))
    return (f"From: Grader <grader@example.com>\nTo: learner@example.com\n"
            f"Subject: {marker}\nDate: {email.utils.formatdate()}\n"
            f"Message-ID: <{marker}@example.com>\n\n{body}").encode()


def _files_containing(root: Path, marker: bytes) -> list[Path]:
    if not root.exists():
        return []
    found = []
    for path in root.rglob("*") if root.is_dir() else [root]:
        if path.is_file() and marker in path.read_bytes():
            found.append(path)
    return found


def _imap_view(lab: Lab, user: str, password: str, folder: str, appended: bytes,
               into: str) -> tuple[bool, list[str], bool]:
    """Log in, list INBOX's subjects, CREATE ``folder`` and APPEND ``appended`` to ``into``."""
    client = imap_client(lab, source=None)
    try:
        client.login(user, password)
        typ, data = client.select("INBOX")
        subjects: list[str] = []
        if typ == "OK" and int(data[0] or 0):
            typ, got = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subjects = [part[1].decode(errors="replace") for part in got
                        if isinstance(part, tuple)]
        created = client.create(folder)[0] == "OK"
        client.append(into, None, imaplib.Time2Internaldate(time.time()), appended)
        return True, subjects, created
    except (imaplib.IMAP4.error, OSError):
        return False, [], False
    finally:
        close(client)


def _pop3_count(lab: Lab, user: str, password: str) -> int | None:
    client = pop3_client(lab, source=None)
    try:
        client.user(user)
        client.pass_(password)
        return client.stat()[0]
    except Exception:  # noqa: BLE001 - any failure means POP3 did not show the mail
        return None
    finally:
        close(client)


def mail_location_maildir(submission: Submission, *, engine: str = "lab") -> Verdict:
    """Mail lives in Maildir format under ~/Maildir, folders as Maildir++ (.Name)."""
    task = "mail-location-maildir"
    user, password = fresh_user()
    # A second user whose home is still empty: without mail_location, Dovecot would
    # autodetect the first user's ~/Maildir and fail for this one.
    newcomer, newcomer_password = fresh_user("newcomer")
    first_mail = secrets.token_hex(6)
    dropped, appended = secrets.token_hex(6), secrets.token_hex(6)
    folder = f"Project{secrets.randbelow(900) + 100}"
    maildir = f"/home/{user}/Maildir"
    files: dict[str, str | bytes | None] = {
        f"{maildir}/new/{int(time.time())}.M1P1.grader": message(dropped),
        f"{maildir}/cur": None, f"{maildir}/tmp": None}
    with lab_for(task, submission, engine=engine,
                 users=[(user, password), (newcomer, newcomer_password)], files=files,
                 default_auth=True, see=SEE_LOCATION) as lab:
        logged_in, subjects, created = _imap_view(lab, user, password, folder,
                                                  message(appended), "INBOX")
        _imap_view(lab, newcomer, newcomer_password, folder, message(first_mail), "INBOX")
        newcomer_files = [p for p in _files_containing(lab.path(f"/home/{newcomer}/Maildir"),
                                                       first_mail.encode())
                          if p.parent.name in ("cur", "new")]
        on_disk = [p for p in _files_containing(lab.path(maildir), appended.encode())
                   if p.parent.name in ("cur", "new")]
        folder_dir = lab.path(f"{maildir}/.{folder}")
        pop3 = _pop3_count(lab, user, password)
        parts = [
            (logged_in, "an IMAP client can log in and open INBOX",
             "the login or SELECT failed; look at the log below"),
            (any(dropped in s for s in subjects),
             "mail delivered to ~/Maildir/new shows in INBOX",
             f"INBOX showed {len(subjects)} message(s), not the one in ~/Maildir/new"),
            (bool(on_disk), "a message a client APPENDs is a file in ~/Maildir/cur or new",
             "no file under ~/Maildir holds it, so the server keeps INBOX elsewhere"),
            (created and (folder_dir / "cur").is_dir(),
             f"a folder a client CREATEs is ~/Maildir/.{folder}",
             "the folder is not there" + ("" if created else " (CREATE failed)")),
            (pop3 is not None and pop3 >= 2, "POP3 sees the same INBOX",
             f"POP3 STAT showed {pop3} message(s)" if pop3 is not None else
             "the POP3 login failed"),
            (bool(newcomer_files), "a new user's first message lands in a new ~/Maildir",
             "it is not there: a server that guesses the format (mail_location unset) "
             "cannot serve a user whose home has no mail yet"),
        ]
        return judge(task, parts, see=SEE_LOCATION, evidence=evidence(lab),
                     hint="mail_location = maildir:~/Maildir (the ~ is the user's home from "
                          "the userdb); check it with doveconf mail_location.")


def mail_location_mbox_inbox(submission: Submission, *, engine: str = "lab") -> Verdict:
    """Mail in mbox files under ~/mail, with INBOX in the spool file /var/mail/USER."""
    task = "mail-location-mbox-inbox"
    user, password = fresh_user()
    dropped, appended = secrets.token_hex(6), secrets.token_hex(6)
    folder = f"Archive{secrets.randbelow(900) + 100}"
    spool = f"/var/mail/{user}"
    envelope = f"From grader@example.com {time.asctime(time.gmtime())}\n".encode()
    files: dict[str, str | bytes | None] = {spool: envelope + message(dropped) + b"\n",
                                            f"/home/{user}/mail": None}
    with lab_for(task, submission, engine=engine, users=[(user, password)], files=files,
                 default_auth=True, see=SEE_LOCATION) as lab:
        logged_in, subjects, created = _imap_view(lab, user, password, folder,
                                                  message(appended), folder)
        folder_file = lab.path(f"/home/{user}/mail/{folder}")
        pop3 = _pop3_count(lab, user, password)
        parts = [
            (logged_in, "an IMAP client can log in and open INBOX",
             "the login or SELECT failed; look at the log below"),
            (any(dropped in s for s in subjects), "mail in /var/mail/USER shows as INBOX",
             f"INBOX showed {len(subjects)} message(s), not the one in /var/mail/{user}"),
            (created and folder_file.is_file(),
             f"a folder a client CREATEs is the mbox file ~/mail/{folder}",
             "no such file" + ("" if created else " (CREATE failed)")),
            (bool(_files_containing(folder_file, appended.encode())),
             "a message APPENDed to that folder is inside that file",
             "the message is not in ~/mail/" + folder),
            (pop3 == 1, "POP3 sees the spool as INBOX",
             f"POP3 STAT showed {pop3} message(s)" if pop3 is not None else
             "the POP3 login failed"),
        ]
        return judge(task, parts, see=SEE_LOCATION, evidence=evidence(lab),
                     hint="mail_location = mbox:~/mail:INBOX=/var/mail/%u keeps folders in "
                          "~/mail and reads INBOX from the spool file.")


def pop3_sizes(submission: object, *, messages: list[bytes | str],
               engine: str = "lab") -> Verdict:
    """The sizes POP3's LIST reports for given messages (bytes with CRLF line ends)."""
    task = "pop3-sizes"
    raw = [m.encode() if isinstance(m, str) else m for m in messages]
    try:
        answers = [int(x) for x in (submission.values() if isinstance(submission, dict)
                                    else submission)]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return Verdict(task, False, 0.0, "Give one whole number per message, in order "
                       f"(a list of {len(raw)} numbers).", see=SEE_SIZES)
    if len(answers) != len(raw):
        return Verdict(task, False, 0.0, f"There are {len(raw)} messages but {len(answers)} "
                       "sizes: give one number per message, in order.", see=SEE_SIZES)
    user, password = fresh_user()
    with lab_for(task, DEFAULT_CONFIG, engine=engine, users=[(user, password)],
                 see=SEE_SIZES) as lab:
        for data in raw:
            lab.deliver(user, data)
        client = pop3_client(lab, source=None)
        try:
            client.user(user)
            client.pass_(password)
            listed = [int(line.split()[1]) for line in client.list()[1]]
        finally:
            close(client)
    parts = []
    for number, (data, said, real) in enumerate(zip(raw, answers, listed, strict=True), 1):
        lf = data.count(b"\n") - data.count(b"\r\n")
        parts.append((said == real, f"message {number}: {real} bytes",
                      f"you said {said}; the file has {len(data)} bytes and {lf} bare LF "
                      "line end(s)"))
    return judge(task, parts, see=SEE_SIZES,
                 hint="POP3 counts every line end as CRLF (two bytes), whatever the file "
                      "on disk uses.")


CHECKS = {
    "mail-location-maildir": mail_location_maildir,
    "mail-location-mbox-inbox": mail_location_mbox_inbox,
    "pop3-sizes": pop3_sizes,
}
