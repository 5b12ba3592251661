"""Courier: an account made with Courier's tools, IMAP over TLS only, and a migration.

Each check runs the lab's Courier personality (``CourierLab``) in its own directory on
ephemeral ports, with a user it makes up, and judges what a client and ``authtest`` see:

- ``courier-user``: the learner's function makes an account with ``userdbpw``,
  ``userdb``, ``makeuserdb`` and ``maildirmake``; authdaemon must accept it (and refuse a
  wrong password), and an IMAP client must log in and find the mail delivered to it;
- ``courier-imap-tls-only``: the learner's changes to ``/etc/courier`` files leave no
  way to log in to IMAP without TLS, while IMAPS on 993 works (the certificate is the
  grader's business: it runs ``mkimapdcert``);
- ``courier-migration``: a Courier mailbox is used by a client (folders, flags, a
  subscription, an expunge), then served by Dovecot on the learner's configuration after
  the learner's conversion step; the client must notice nothing (folders, separator,
  UIDVALIDITY, UIDs, flags, subscriptions, POP3 UIDLs).
"""

from __future__ import annotations

import imaplib
import poplib
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from labserver.config import ConfigError
from labserver.courier import authdaemon, migrate, settings
from labserver.courier.lab import CourierLab
from labserver.service.lab import Lab, LabError

from .probe import Rejected, Submission, close, fresh_user, imap_client, judge, lab_for
from .verdict import Verdict

SEE_USER = "01-courier: Courier's components"
SEE_TLS = "01-courier: Where Courier keeps its files"
SEE_MIGRATION = "01-courier: Moving from Courier to Dovecot"
TIMEOUT = 5.0
FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Draft")
WORDS = ("Archive", "Projects", "Receipts", "Travel", "Family", "Lists", "Old", "Work")


@contextmanager
def _courier(task: str, see: str) -> Iterator[CourierLab]:
    """A Courier lab in a fresh directory, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"grader-{task}-"))
    lab = CourierLab(root=root, ports="ephemeral")
    try:
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)


def _start(task: str, lab: Lab, see: str) -> None:
    try:
        lab.start()
    except (LabError, ConfigError, OSError) as exc:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise Rejected(Verdict(task, False, 0.0, f"The server cannot start:\n  {message}",
                               tuple(lab.logs()[-10:]), see=see)) from None


def _message() -> bytes:
    token = secrets.token_hex(6)
    return (f"From: grader@example.org\nSubject: check {token}\n\n"
            f"Delivered by the check: {token}\n").encode()


# --- courier-user ---------------------------------------------------------------------

def courier_user(submission: Callable[[CourierLab, str, str], object]) -> Verdict:
    """An account made with Courier's tools (userdbpw, userdb, makeuserdb, maildirmake)."""
    task = "courier-user"
    if not callable(submission):
        return Verdict(task, False, 0.0, "Hand in the function itself, e.g. "
                       "graders.check('courier-user', add_courier_user).", see=SEE_USER)
    user, password = fresh_user("courier")
    with _courier(task, SEE_USER) as lab:
        lab.path(f"/home/{user}").mkdir(parents=True)  # as useradd -m would
        try:
            submission(lab, user, password)
        except Exception as exc:  # noqa: BLE001 - the learner's code failing is the verdict
            return Verdict(task, False, 0.0, f"Your function stopped with "
                           f"{type(exc).__name__}: {exc}", see=SEE_USER)
        accepted = lab.authtest(user, password)
        wrong = lab.authtest(user, "wrong-" + password)
        parts = [
            (accepted.returncode == 0, f"authtest {user} <password> succeeds",
             str(accepted).splitlines()[0] if str(accepted) else "authtest printed nothing"),
            (wrong.returncode != 0, "authtest with a wrong password fails",
             "authdaemon accepted a wrong password"),
        ]
        maildir = _maildir(lab, user)
        parts.append((maildir is not None and all(
            (maildir / sub).is_dir() for sub in ("cur", "new", "tmp")),
            "the account's maildir exists (cur, new, tmp)",
            f"{_virtual(lab, maildir)} is not a maildir" if maildir is not None
            else "authdaemon does not know where the account's mail is"))
        login, found = (False, "not tried: the account is not complete"), (
            False, "not tried")
        if accepted.returncode == 0 and parts[-1][0]:
            message = _message()
            try:
                lab.deliver(user, message)
            except Exception as exc:  # noqa: BLE001 - an undeliverable account
                found = (False, f"mail cannot be delivered ({exc})")
            _start(task, lab, SEE_USER)
            login, found = _imap_sees(lab, user, password, message, found)
        parts += [(login[0], "an IMAP client logs in", login[1]),
                  (found[0], "the message delivered to the account is in INBOX", found[1])]
        return judge(task, parts, see=SEE_USER, evidence=lab.logs()[-6:],
                     hint="userdbpw makes the hash, `userdb NAME set ...` writes "
                          "/etc/courier/userdb (uid, gid, home, systempw), makeuserdb "
                          "compiles it (nothing counts before that), maildirmake makes "
                          "~/Maildir.")


def _maildir(lab: CourierLab, user: str) -> Path | None:
    """Where authdaemon says the account's mail is (``mail``, else ~/MAILDIRPATH)."""
    try:
        modules = settings.load_authmodules(lab.resolver)
        info = authdaemon.authenticate(lab.resolver, modules, user, None, "imap")
        path = settings.load(lab.resolver).imap.maildirpath
    except Exception:  # noqa: BLE001 - broken files: authtest reports them
        return None
    if info is None:
        return None
    return lab.path(info.maildir or f"{info.home.rstrip('/')}/{path}")


def _virtual(lab: Lab, path: Path) -> str:
    return "/" + str(path.relative_to(lab.root)) if path.is_relative_to(lab.root) else str(path)


def _imap_sees(lab: Lab, user: str, password: str, message: bytes,
               found: tuple[bool, str]) -> tuple[tuple[bool, str], tuple[bool, str]]:
    try:
        client = imap_client(lab, "imap", timeout=TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        return (False, f"no connection ({exc})"), found
    try:
        client.login(user, password)
    except Exception as exc:  # noqa: BLE001
        close(client)
        return (False, f"LOGIN failed ({exc})"), found
    try:
        if found[1] == "not tried":
            client.select("INBOX", readonly=True)
            _, data = client.search(None, "ALL")
            bodies = []
            for number in (data[0] or b"").split():
                _, fetched = client.fetch(number, "(BODY.PEEK[])")
                bodies += [item[1] for item in fetched if isinstance(item, tuple)]
            token = message.split(b"check ")[1].split(b"\n")[0]
            found = (any(token in body for body in bodies),
                     f"INBOX holds {len(bodies)} message(s), none of them the delivered one")
    except Exception as exc:  # noqa: BLE001
        found = (False, f"INBOX cannot be read ({exc})")
    finally:
        close(client)
    return (True, ""), found


# --- courier-imap-tls-only --------------------------------------------------------------

CourierFiles = Mapping[str, str | Mapping[str, str]]


def _apply(lab: CourierLab, submission: CourierFiles) -> None:
    for name, value in submission.items():
        if isinstance(value, str):
            lab.write_courier(name, value)
        else:
            for variable, text in value.items():
                lab.set_courier(name, variable, str(text))


def courier_imap_tls_only(submission: CourierFiles) -> Verdict:
    """Courier-IMAP admits logins only over TLS; IMAPS on 993 works."""
    task = "courier-imap-tls-only"
    if not isinstance(submission, Mapping):
        return Verdict(task, False, 0.0, "Hand in a dict: file name -> its text, or file "
                       "name -> {VARIABLE: value}, e.g. {'imapd': {'MAXPERIP': '4'}}.",
                       see=SEE_TLS)
    user, password = fresh_user("courier")
    with _courier(task, SEE_TLS) as lab:
        lab.add_user(user, password)
        try:
            _apply(lab, submission)
        except (LabError, KeyError, TypeError) as exc:
            return Verdict(task, False, 0.0, f"These changes cannot be made: {exc}",
                           see=SEE_TLS)
        lab.mkimapdcert()
        _start(task, lab, SEE_TLS)
        names = {spec.name for spec, _ in lab.listeners() if spec.protocol == "imap"}
        secure = (False, "there is no IMAPS listener (IMAPDSSLSTART, SSLPORT)")
        if "imaps" in names:
            secure = _logs_in(lambda: imap_client(lab, "imaps", timeout=TIMEOUT), user,
                              password)
        plain = (True, "")
        if "imap" in names:
            ok, _ = _logs_in(lambda: imap_client(lab, "imap", timeout=TIMEOUT), user,
                             password)
            plain = (not ok, "a LOGIN on port 143 without STARTTLS succeeded")
        parts = [(secure[0], "IMAPS on 993 completes a TLS handshake and a login", secure[1]),
                 (plain[0], "no IMAP login without TLS (143 closed, or TLS required there)",
                  plain[1])]
        return judge(task, parts, see=SEE_TLS, evidence=[*lab.table().splitlines(),
                                                          *lab.logs("courier")[-4:]],
                     hint="In /etc/courier/imapd, IMAPDSTART=NO stops the plaintext server; "
                          "or keep it and set IMAP_TLS_REQUIRED=1 (imapd-ssl) so it "
                          "demands STARTTLS. IMAPDSSLSTART=YES keeps 993.")


def _logs_in(make: Callable[[], imaplib.IMAP4], user: str, password: str) -> tuple[bool, str]:
    try:
        client = make()
    except Exception as exc:  # noqa: BLE001
        return False, f"no connection ({exc})"
    try:
        client.login(user, password)
        return True, ""
    except Exception as exc:  # noqa: BLE001
        return False, f"login failed ({exc})"
    finally:
        close(client)


# --- courier-migration ------------------------------------------------------------------

def _use(lab: CourierLab, user: str, password: str) -> None:
    """A client's life on Courier: folders, a subscription, flags, an expunge."""
    top, sub = secrets.choice(WORDS), secrets.choice(WORDS)
    folders = ["INBOX.Sent", f"INBOX.{top}", f"INBOX.{top}.{sub}{secrets.randbelow(90) + 10}"]
    imap = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=TIMEOUT)
    try:
        imap.login(user, password)
        for folder in folders:
            imap.create(folder)
        imap.subscribe(secrets.choice(folders))
        for folder in ["INBOX", *folders]:
            for _ in range(1 + secrets.randbelow(3)):
                flags = " ".join(f for f in FLAGS if secrets.randbelow(2))
                imap.append(folder, f"({flags})", None, _message())
        imap.select("INBOX")
        imap.store("1", "+FLAGS", "(\\Deleted)")
        imap.expunge()
        imap.logout()
    finally:
        with suppress(Exception):
            imap.sock.close()


def _uidls(lab: Lab, user: str, password: str) -> list[str]:
    pop = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=TIMEOUT)
    try:
        pop.user(user)
        pop.pass_(password)
        return sorted(line.decode() for line in pop.uidl()[1])
    finally:
        close(pop)


def courier_migration(submission: Submission, *,
                      convert: Callable[[str], object] | None = None,
                      engine: str = "lab") -> Verdict:
    """A Courier mailbox served by Dovecot after the move: a client notices nothing."""
    task = "courier-migration"
    see = SEE_MIGRATION
    user, password = fresh_user("moving")
    with lab_for(task, submission, engine=engine, users=[(user, password)],
                 default_auth=True, start=False, see=see) as dovecot:
        courier = CourierLab(root=dovecot.root, ports="ephemeral")
        try:
            courier.add_user(user, password)
            courier.deliver(user, _message())
            courier.deliver(user, _message())
            _start(task, courier, see)
            _use(courier, user, password)
            before = migrate.imap_view("127.0.0.1", courier.port("imap"), user, password,
                                       timeout=TIMEOUT)
            uidls_before = _uidls(courier, user, password)
        finally:
            courier.stop()
        maildir = str(dovecot.path(f"/home/{user}/Maildir"))
        if convert is not None:
            try:
                convert(maildir)
            except Exception as exc:  # noqa: BLE001 - the learner's code failing
                return Verdict(task, False, 0.0, f"Your conversion stopped with "
                               f"{type(exc).__name__}: {exc}", see=see)
        _start(task, dovecot, see)
        try:
            after = migrate.imap_view("127.0.0.1", dovecot.port("imap"), user, password,
                                      timeout=TIMEOUT)
            uidls_after = _uidls(dovecot, user, password)
        except (OSError, imaplib.IMAP4.error, poplib.error_proto, LabError) as exc:
            return judge(task, [(False, "a client logs in to Dovecot as before",
                                 f"it cannot ({exc})")], see=see,
                         evidence=dovecot.logs()[-6:])
        return judge(task, _migration_parts(before, after, uidls_before, uidls_after),
                     see=see, evidence=migrate.compare(before, after)[:8],
                     hint="Dovecot needs `namespace inbox { prefix = INBOX.  separator = .  "
                          "inbox = yes }` on maildir:~/Maildir to show Courier's names, "
                          "Courier's UID lists converted (courierimapuiddb -> "
                          "dovecot-uidlist, courierimapsubscribed -> subscriptions) before "
                          "it first opens the maildir, and pop3_uidl_format = UID%u-%v.")


def _migration_parts(before: migrate.MailboxView, after: migrate.MailboxView,
                     uidls_before: list[str], uidls_after: list[str]
                     ) -> list[tuple[bool, str, str]]:
    common = sorted(set(before.folders) & set(after.folders))
    validity = [n for n in common
                if before.folders[n].uidvalidity != after.folders[n].uidvalidity]
    uids = [n for n in common
            if sorted(before.folders[n].messages) != sorted(after.folders[n].messages)]
    flags = [n for n in common if before.folders[n].messages != after.folders[n].messages
             and n not in uids]
    return [
        (before.separator == after.separator, f"the separator stays {before.separator!r}",
         f"it is {after.separator!r}"),
        (sorted(before.folders) == sorted(after.folders),
         "the same folders: " + ", ".join(sorted(before.folders)),
         "Dovecot shows " + ", ".join(sorted(after.folders))),
        (bool(common) and not validity, "each folder keeps its UIDVALIDITY",
         "changed in " + ", ".join(validity) if validity else "no folder to compare"),
        (bool(common) and not uids, "each message keeps its UID",
         "changed in " + ", ".join(uids) if uids else "no folder to compare"),
        (bool(common) and not flags, "each message keeps its flags",
         "changed in " + ", ".join(flags) if flags else "no folder to compare"),
        (before.subscribed == after.subscribed,
         "the same subscriptions: " + ", ".join(before.subscribed),
         "Dovecot lists " + (", ".join(after.subscribed) or "none")),
        (uidls_before == uidls_after, "POP3 UIDLs stay the same",
         f"before {uidls_before[:2]}..., after {uidls_after[:2]}..."),
    ]


CHECKS = {"courier-user": courier_user, "courier-imap-tls-only": courier_imap_tls_only,
          "courier-migration": courier_migration}
