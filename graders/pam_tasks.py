"""PAM graders: a service file that admits the right users, and a PAM passdb that uses it.

Each check builds a small Unix world of its own in a fresh lab root (``/etc/passwd``,
``/etc/shadow``, Debian's ``common-*`` files) with users made up for this run, so a
hidden test judges a PAM file with users the learner has never seen. The verdict rests
on what happens when those users log in over IMAP and POP3, never on the file's text:
``@include common-auth``, a substack or the bracket ``[success=1 default=ignore]`` form
pass as well as the chapter's two lines when they behave the same.

PAM here is the lab's simulation of Linux-PAM (``labserver.auth.pam``): real Dovecot
would ask the host's PAM about the host's accounts, so these checks run on the lab only.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import poplib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from labserver.auth import schemes
from labserver.config.resolve import PathResolver
from labserver.service.lab import Lab

from . import probe
from .verdict import Verdict

SEE = "02-pam-auth: Stacks that fail"
SEE_PASSDB = "02-pam-auth: Password databases"
PAM_FILE = "/etc/pam.d/dovecot"
ALLOW_FILE = "/etc/dovecot/allowed-users"

# Debian 12's stock files, so a learner's "@include common-auth" means what it means there.
COMMON = {
    "/etc/pam.d/common-auth": ("auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
                               "auth\trequisite\t\t\tpam_deny.so\n"
                               "auth\trequired\t\t\tpam_permit.so\n"),
    "/etc/pam.d/common-account": (
        "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
        "account\trequisite\t\t\tpam_deny.so\n"
        "account\trequired\t\t\tpam_permit.so\n"),
    "/etc/pam.d/common-session": "session\trequired\tpam_permit.so\n"
                                 "session\toptional\tpam_unix.so\n",
    "/etc/pam.d/common-password": "password\t[success=1 default=ignore]\tpam_unix.so "
                                  "obscure yescrypt\npassword\trequisite\tpam_deny.so\n"
                                  "password\trequired\tpam_permit.so\n",
}
DEBIAN_DOVECOT = "#%PAM-1.0\n@include common-auth\n@include common-account\n" \
                 "@include common-session\n"

# The lab's side of the test: a PAM passdb on the default service name.
PAM_CONFIG = """protocols = imap pop3
mail_location = maildir:~/Maildir
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
passdb {
  driver = pam
}
userdb {
  driver = passwd
}
"""


@dataclass(frozen=True)
class Account:
    """One made-up Unix account and how the check will try it."""

    name: str
    password: str  # what the account's hash is made of ("" = empty password field)
    kind: str  # "good", "locked", "expired", "empty", "unlisted"
    uid: int


@dataclass
class World:
    """The Unix accounts of one check, as files for the lab root."""

    accounts: list[Account] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)  # in ALLOW_FILE

    def by_kind(self, kind: str) -> Account:
        return next(a for a in self.accounts if a.kind == kind)

    def files(self) -> dict[str, str]:
        today = int(time.time() // 86400)
        passwd = ["root:x:0:0:root:/root:/bin/bash",
                  "vmail:x:5000:5000::/var/vmail:/usr/sbin/nologin"]
        shadow = ["root:*:19000:0:99999:7:::", "vmail:*:19000:0:99999:7:::"]
        for a in self.accounts:
            passwd.append(f"{a.name}:x:{a.uid}:{a.uid}::/home/{a.name}:/bin/bash")
            stored = schemes.generate(a.password, "SHA512-CRYPT", prefix=False) \
                if a.password else ""
            if a.kind == "locked":
                stored = "!" + stored
            expire = str(today - 1) if a.kind == "expired" else ""
            shadow.append(f"{a.name}:{stored}:{today - 1}:0:99999:7::{expire}:")
        group = ["root:x:0:", "mail:x:8:", "vmail:x:5000:"] + [
            f"{a.name}:x:{a.uid}:" for a in self.accounts]
        out = {"/etc/passwd": "\n".join(passwd) + "\n",
               "/etc/shadow": "\n".join(shadow) + "\n",
               "/etc/group": "\n".join(group) + "\n",
               ALLOW_FILE: "".join(f"{n}\n" for n in self.listed), **COMMON}
        return out


def make_world(kinds: tuple[str, ...], listed: tuple[str, ...] = ()) -> World:
    """Fresh accounts, one per kind; ``listed`` kinds go into the allow file."""
    world = World()
    taken: set[str] = set()
    for i, kind in enumerate(kinds):
        name, password = probe.fresh_user(kind[:4])
        while name in taken:
            name, password = probe.fresh_user(kind[:4])
        taken.add(name)
        world.accounts.append(Account(name, "" if kind == "empty" else password, kind,
                                      2000 + i))
        if kind in listed:
            world.listed.append(name)
    return world


def pam_files(submission: probe.Submission) -> dict[str, str]:
    """The learner's PAM files: a text or file is /etc/pam.d/dovecot; a folder is /etc/pam.d
    (it must hold ``dovecot``)."""
    if isinstance(submission, Path):
        if submission.is_dir():
            # Links in the folder are followed inside it, as the lab would (never out).
            folder = PathResolver(submission)
            files = {f"/etc/pam.d/{p.name}": Path(folder.real(f"/{p.name}")).read_text()
                     for p in sorted(submission.iterdir())
                     if Path(folder.real(f"/{p.name}")).is_file()}
            if PAM_FILE not in files:
                raise FileNotFoundError(f"no file named dovecot in {submission}")
            return files
        return {PAM_FILE: submission.read_text()}
    if not isinstance(submission, str):
        raise TypeError(f"a PAM file is text, not {type(submission).__name__}")
    return {PAM_FILE: submission}


_SOURCES = itertools.count()


def fresh_source() -> str:
    """A loopback address for the next probe (127.0.0.2 to .251, in turn).

    Real Dovecot delays the next login from an address that just failed one (its auth
    penalty, up to 15 s); spreading the probes over addresses keeps a check quick.
    None of them is 127.0.0.1, so no probe counts as a secured connection.
    """
    return f"127.0.0.{2 + next(_SOURCES) % 250}"


def imap_login(lab: Lab, user: str, password: str, listener: str = "imap") -> tuple[bool, str]:
    """(logged in?, the server's words) for one IMAP LOGIN."""
    try:
        client = probe.imap_client(lab, listener, source=fresh_source())
    except OSError as exc:
        return False, f"cannot connect: {exc}"
    try:
        client.login(user, password)
        return True, "OK Logged in"
    except imaplib.IMAP4.error as exc:
        return False, "NO " + _text(exc)
    except OSError as exc:
        return False, f"connection failed: {exc}"
    finally:
        probe.close(client)


def pop3_login(lab: Lab, user: str, password: str, listener: str = "pop3") -> tuple[bool, str]:
    """(logged in?, the server's words) for one POP3 USER/PASS."""
    try:
        client = probe.pop3_client(lab, listener, source=fresh_source())
    except OSError as exc:
        return False, f"cannot connect: {exc}"
    try:
        client.user(user)
        client.pass_(password)
        return True, "+OK Logged in."
    except poplib.error_proto as exc:
        return False, _text(exc)
    except OSError as exc:
        return False, f"connection failed: {exc}"
    finally:
        probe.close(client)


def _text(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


def _said(admitted: bool) -> str:
    return "was let in" if admitted else "was refused"


@contextlib.contextmanager
def _lab(task: str, files: dict[str, str], config: probe.Submission = PAM_CONFIG
         ) -> Iterator[Lab]:
    with probe.lab_for(task, config, files=files, see=SEE) as lab:
        yield lab


def pam_dovecot(submission: probe.Submission, *, policy: str = "unix", nullok: bool = True,
                nologin: bool = False) -> Verdict:
    """A PAM service file for Dovecot admits the right Unix users and refuses the rest."""
    task = "pam-dovecot"
    if policy not in ("unix", "allow-file"):
        raise ValueError(f"unknown policy {policy!r}: use 'unix' or 'allow-file'")
    files = pam_files(submission)
    kinds = ("good", "locked", "expired", "empty") + (
        ("unlisted",) if policy == "allow-file" else ())
    listed = ("good", "locked", "expired", "empty") if policy == "allow-file" else ()
    world = make_world(kinds, listed)
    good = world.by_kind("good")
    ghost, _ = probe.fresh_user("ghost")
    wrong = secrets.token_urlsafe(8)
    parts: list[tuple[bool, str, str]] = []
    with _lab(task, {**world.files(), **files}) as lab:
        ok, said = imap_login(lab, good.name, good.password)
        parts.append((ok, "a Unix user with the right password logs in over IMAP",
                      f"{good.name} {_said(ok)} ({said})"))
        ok, said = pop3_login(lab, good.name, good.password)
        parts.append((ok, "... and over POP3", f"{good.name} {_said(ok)} ({said})"))
        ok, said = imap_login(lab, good.name, wrong)
        parts.append((not ok, "a wrong password is refused", f"{good.name} {_said(ok)}"))
        ok, said = imap_login(lab, ghost, wrong)
        parts.append((not ok, "a user who has no Unix account is refused",
                      f"{ghost} {_said(ok)}"))
        locked = world.by_kind("locked")
        ok, said = imap_login(lab, locked.name, locked.password)
        parts.append((not ok, "a locked account (passwd -l: '!' before the hash) is refused",
                      f"{locked.name} {_said(ok)}"))
        expired = world.by_kind("expired")
        ok, said = imap_login(lab, expired.name, expired.password)
        parts.append((not ok, "an account whose expiry date has passed is refused (the "
                      "account stack)", f"{expired.name} {_said(ok)}"))
        empty = world.by_kind("empty")
        ok, said = imap_login(lab, empty.name, wrong)
        parts.append((ok == nullok, "an account with an empty password field is "
                      + ("let in (nullok)" if nullok else "refused (no nullok)"),
                      f"{empty.name} {_said(ok)}"))
        if policy == "allow-file":
            other = world.by_kind("unlisted")
            ok, said = imap_login(lab, other.name, other.password)
            parts.append((not ok, f"a valid user missing from {ALLOW_FILE} is refused",
                          f"{other.name} {_said(ok)}"))
        evidence = probe.evidence(lab, "pam(", last=10)
    if nologin:
        with _lab(task, {**world.files(), **files,
                         "/etc/nologin": "Mail is down for maintenance.\n"}) as lab:
            ok, said = imap_login(lab, good.name, good.password)
            parts.append((not ok, "while /etc/nologin exists, users are refused",
                          f"{good.name} {_said(ok)}"))
            evidence += probe.evidence(lab, "pam(", last=3)
    return probe.judge(task, parts, hint=_pam_hint(parts, evidence), see=SEE,
                       evidence=evidence)


def _pam_hint(parts: list[tuple[bool, str, str]], evidence: tuple[str, ...]) -> str:
    missed = " ".join(expected for ok, expected, _ in parts if not ok)
    log = " ".join(evidence)
    if "Module is unknown" in log:
        return ("a module name is misspelt or does not exist: PAM answers 'Module is "
                "unknown' and the whole stack fails. Check each .so name.")
    if "pam_acct_mgmt() failed" in log and "right password logs in" in missed:
        return ("the passwords are accepted but pam_acct_mgmt() fails: the account stack is "
                "missing or refuses everyone. Add 'account required pam_unix.so'.")
    if "expiry date" in missed:
        return ("pam_unix checks expiry dates only when it runs as an account module: add "
                "'account required pam_unix.so'.")
    if "wrong password" in missed or "no Unix account" in missed:
        return ("something lets people in without checking the password: look for "
                "pam_permit.so, or a 'sufficient' line that succeeds for everyone.")
    if "empty password" in missed:
        return ("nullok is the pam_unix option that lets an empty password field through; "
                "without it such accounts are refused.")
    if "allowed-users" in missed:
        return (f"pam_listfile.so item=user sense=allow file={ALLOW_FILE} onerr=fail, "
                "as a required (or requisite) auth line, admits only the users listed.")
    if "nologin" in missed:
        return "pam_nologin.so (auth requisite) refuses everyone but root while "\
               "/etc/nologin exists."
    return "read the pam(...) lines in the evidence: they say which call failed and why."


def pam_passdb(submission: probe.Submission, *, per_protocol: bool = False) -> Verdict:
    """dovecot.conf authenticates Unix users through PAM and finds their homes."""
    task = "pam-passdb"
    world = make_world(("good", "imaponly", "pop3only"))
    good, imap_only, pop3_only = world.accounts
    files = {**world.files(), PAM_FILE: DEBIAN_DOVECOT}
    if per_protocol:
        files.update({
            PAM_FILE: "auth requisite pam_deny.so\naccount requisite pam_deny.so\n",
            "/etc/pam.d/imap": _listed_stack("/etc/dovecot/imap-users"),
            "/etc/pam.d/pop3": _listed_stack("/etc/dovecot/pop3-users"),
            "/etc/dovecot/imap-users": f"{good.name}\n{imap_only.name}\n",
            "/etc/dovecot/pop3-users": f"{good.name}\n{pop3_only.name}\n",
        })
    parts: list[tuple[bool, str, str]] = []
    subject = f"Mail for {good.name} {secrets.token_hex(4)}"
    with probe.lab_for(task, submission, files=files, see=SEE_PASSDB) as lab:
        with contextlib.suppress(Exception):
            lab.deliver(good.name, f"Subject: {subject}\r\n\r\nhello\r\n",
                        home=f"/home/{good.name}")
        ok, said = imap_login(lab, good.name, good.password)
        parts.append((ok, "a Unix user logs in over IMAP with the Unix password",
                      f"{good.name} {_said(ok)} ({said})"))
        ok, said = imap_login(lab, good.name, secrets.token_urlsafe(8))
        parts.append((not ok, "a wrong password is refused", f"{good.name} {_said(ok)}"))
        seen = _inbox_subjects(lab, good.name, good.password)
        parts.append((subject in seen, "after login the user sees the mail in the home "
                      "/etc/passwd gives (/home/<user>/Maildir)",
                      f"INBOX holds {len(seen)} message(s) without it"))
        if per_protocol:
            for account, imap_ok, pop3_ok in ((imap_only, True, False),
                                              (pop3_only, False, True)):
                ok, said = imap_login(lab, account.name, account.password)
                parts.append((ok == imap_ok, f"IMAP logins use /etc/pam.d/imap ("
                              f"{'admits' if imap_ok else 'refuses'} {account.kind[:-4]}"
                              " users)", f"{account.name} {_said(ok)}"))
                ok, said = pop3_login(lab, account.name, account.password)
                parts.append((ok == pop3_ok, f"POP3 logins use /etc/pam.d/pop3 ("
                              f"{'admits' if pop3_ok else 'refuses'} {account.kind[:-4]}"
                              " users)", f"{account.name} {_said(ok)}"))
        else:
            ok, said = pop3_login(lab, good.name, good.password)
            parts.append((ok, "the same user logs in over POP3",
                          f"{good.name} {_said(ok)} ({said})"))
        evidence = probe.evidence(lab, "auth", last=10)
    hint = ("passdb { driver = pam } checks the password; a userdb (driver = passwd, or "
            "static with home=/home/%u) says where the mail is. "
            + ("'args = %s' (or '*') makes the PAM service name the protocol's."
               if per_protocol else "Without args the PAM service is 'dovecot'."))
    return probe.judge(task, parts, hint=hint, see=SEE_PASSDB, evidence=evidence)


def _listed_stack(path: str) -> str:
    return (f"auth required pam_listfile.so item=user sense=allow file={path} onerr=fail\n"
            "auth required pam_unix.so\naccount required pam_unix.so\n"
            "session required pam_permit.so\n")


def _inbox_subjects(lab: Lab, user: str, password: str) -> list[str]:
    try:
        client = probe.imap_client(lab, source=fresh_source())
    except OSError:
        return []
    try:
        client.login(user, password)
        client.select("INBOX", readonly=True)
        _, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [part[1].decode(errors="replace").split(":", 1)[-1].strip()
                for part in data if isinstance(part, tuple)]
    except (imaplib.IMAP4.error, OSError):
        return []
    finally:
        probe.close(client)


CHECKS = {
    "pam-dovecot": pam_dovecot,
    "pam-passdb": pam_passdb,
}
