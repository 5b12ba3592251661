"""Courier's authdaemon in small: the modules of ``authmodulelist`` and ``authtest``.

Courier's servers never read password files themselves: they ask ``authdaemond``,
which asks each module of ``authmodulelist`` in turn until one accepts the login.

- ``authuserdb``: the compiled ``/etc/courier/userdb.dat`` and ``userdbshadow.dat``
  (see ``userdb``). The password field is ``imappw`` or ``pop3pw`` for that service
  when the account has one, else ``systempw``; uid, gid, home and ``mail`` (the
  maildir) come from the record.
- ``authpam``: the PAM service named after the Courier service (``/etc/pam.d/imap``,
  ``/etc/pam.d/pop3``; ``authtest`` uses ``login``), through the lab's PAM simulation;
  uid, gid and home from the sandbox's ``/etc/passwd``.
- ``authshadow``: the sandbox's ``/etc/passwd`` and ``/etc/shadow`` (crypt(3) hashes).
  Debian builds authlib without it (PAM covers shadow there); the exam text names it.

All files are read inside the lab root: never the machine's own ``/etc/shadow``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..auth import schemes
from ..auth.db_unix import getpwnam, getspnam
from ..auth.pam import pam_start
from ..auth.pam.codes import Pam
from ..config.resolve import PathResolver
from . import userdb


@dataclass(frozen=True)
class AuthInfo:
    """What authdaemon hands a server after a login (Courier's ``struct authinfo``)."""

    user: str
    uid: int
    gid: int
    home: str
    maildir: str = ""
    quota: str = ""
    encrypted: str = ""
    options: str = ""
    module: str = ""


def _authuserdb(resolver: PathResolver, user: str, password: str | None,
                service: str) -> AuthInfo | None:
    found = userdb.lookup(resolver, user)
    if found is None:
        return None
    fields, secrets = found
    stored = secrets.get(f"{service}pw", secrets.get("systempw", ""))
    if password is not None and not userdb.check_password(password, stored):
        return None
    try:
        uid, gid = int(fields.get("uid", "")), int(fields.get("gid", ""))
    except ValueError:
        return None
    return AuthInfo(user, uid, gid, fields.get("home", ""), fields.get("mail", ""),
                    fields.get("quota", ""), stored, fields.get("options", ""), "authuserdb")


def _authpam(resolver: PathResolver, user: str, password: str | None,
             service: str) -> AuthInfo | None:
    pw = getpwnam(resolver, user)
    if pw is None:
        return None
    if password is not None:
        status, handle = pam_start(service, user, resolver, password=password)
        if status is not Pam.SUCCESS or handle is None:
            return None
        if handle.authenticate() is not Pam.SUCCESS or handle.acct_mgmt() is not Pam.SUCCESS:
            return None
    return AuthInfo(user, pw.uid, pw.gid, pw.home, module="authpam")


def _authshadow(resolver: PathResolver, user: str, password: str | None,
                service: str) -> AuthInfo | None:
    pw = getpwnam(resolver, user)
    sp = getspnam(resolver, user)
    if pw is None or sp is None:
        return None
    if password is not None:
        try:
            if not schemes.verify(password, sp.pwdp, default_scheme="CRYPT"):
                return None
        except schemes.SchemeError:
            return None
    return AuthInfo(user, pw.uid, pw.gid, pw.home, encrypted=sp.pwdp, module="authshadow")


MODULES = {"authuserdb": _authuserdb, "authpam": _authpam, "authshadow": _authshadow}


def authenticate(resolver: PathResolver, modules: tuple[str, ...], user: str,
                 password: str | None, service: str) -> AuthInfo | None:
    """Ask each module in turn; the first that accepts wins (None: nobody did).

    With ``password`` None only the account is looked up (``authtest USER``), which
    PAM cannot do beyond the passwd entry.
    """
    for name in modules:
        info = MODULES[name](resolver, user, password, service)
        if info is not None:
            return info
    return None


def authtest(resolver: PathResolver, modules: tuple[str, ...], user: str,
             password: str | None = None, service: str = "login") -> tuple[int, str, str]:
    """What Courier's ``authtest [-s service] user [password]`` prints: (code, out, err)."""
    info = authenticate(resolver, modules, user, password, service)
    if info is None:
        return 1, "", "Authentication FAILED: Operation not permitted\n"
    lines = [
        "Authentication succeeded.",
        "",
        f"     Authenticated: {info.user}  (uid {info.uid}, gid {info.gid})",
        f"    Home Directory: {info.home}",
        f"           Maildir: {info.maildir or '(none)'}",
        f"             Quota: {info.quota or '(none)'}",
        f"Encrypted Password: {info.encrypted or '(none)'}",
        f"Cleartext Password: {password if password is not None else '(none)'}",
        f"           Options: {info.options or '(none)'}",
    ]
    return 0, "\n".join(lines) + "\n", ""
