"""The PAM modules the lab knows, each a small function of (handle, args, call).

``call`` is what libpam calls: ``authenticate``, ``setcred``, ``acct_mgmt``,
``open_session``, ``close_session`` or ``chauthtok``. Every module reads only the
lab root. Behaviour follows the modules' manual pages (pam_unix(8), pam_deny(8),
pam_permit(8), pam_nologin(8), pam_listfile(8), pam_succeed_if(8)); a module the lab
does not know answers ``PAM_MODULE_UNKNOWN``, as libpam does when the shared object
cannot be loaded. A few session-only helpers that have no effect on a login here
(pam_env, pam_limits, pam_systemd...) answer ``PAM_IGNORE``.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from labserver.auth import db_unix, schemes

from .codes import Pam

if TYPE_CHECKING:
    from . import PamHandle

Module = Callable[["PamHandle", tuple[str, ...], str], int]


def _today() -> int:
    return int(time.time() // 86400)


# --- pam_unix -------------------------------------------------------------------------

def _unix_hash(handle: PamHandle, user: str) -> tuple[int, str | None]:
    try:
        pw = db_unix.getpwnam(handle.resolver, user)
    except OSError:
        return Pam.AUTHINFO_UNAVAIL, None
    if pw is None:
        return Pam.USER_UNKNOWN, None
    stored = pw.passwd
    if stored in ("x", "*NP*") or (stored.startswith("##")):
        sp = db_unix.getspnam(handle.resolver, user)
        if sp is None:
            return Pam.AUTHINFO_UNAVAIL, None
        stored = sp.pwdp
    return Pam.SUCCESS, stored


def pam_unix(handle: PamHandle, args: tuple[str, ...], call: str) -> int:
    user = handle.user or ""
    if call == "authenticate":
        code, stored = _unix_hash(handle, user)
        if code != Pam.SUCCESS or stored is None:
            return code
        if stored == "" and "nullok" in args:
            # pam_unix does not even ask for a password then
            return Pam.SUCCESS
        password = handle.get_authtok()
        if password is None:
            return Pam.AUTH_ERR
        if stored == "" or stored.startswith(("!", "*")):
            return Pam.AUTH_ERR  # no password, or locked (passwd -l)
        try:
            ok = schemes.verify(password, stored, "CRYPT")
        except schemes.SchemeError:
            return Pam.AUTH_ERR
        return Pam.SUCCESS if ok else Pam.AUTH_ERR
    if call == "setcred":
        return Pam.SUCCESS
    if call == "acct_mgmt":
        return _unix_account(handle, user)
    if call in ("open_session", "close_session"):
        return Pam.SUCCESS
    return Pam.AUTHTOK_ERR


def _unix_account(handle: PamHandle, user: str) -> int:
    """pam_unix's account checks: shadow expiry dates (passverify.c check_shadow_expiry)."""
    try:
        pw = db_unix.getpwnam(handle.resolver, user)
    except OSError:
        return Pam.AUTHINFO_UNAVAIL
    if pw is None:
        return Pam.USER_UNKNOWN
    sp = db_unix.getspnam(handle.resolver, user)
    if sp is None:
        return Pam.SUCCESS  # no shadow entry: no aging
    today = _today()
    if sp.expire is not None and sp.expire > 0 and today >= sp.expire:
        handle.message("error", "Your account has expired; please contact your "
                                "system administrator.")
        return Pam.ACCT_EXPIRED
    if sp.lstchg == 0:
        handle.message("error", "You are required to change your password immediately "
                                "(administrator enforced).")
        return Pam.NEW_AUTHTOK_REQD
    if sp.lstchg is not None and sp.max is not None and sp.max >= 0:
        if (sp.inact is not None and sp.inact >= 0
                and today >= sp.lstchg + sp.max + sp.inact):
            handle.message("error", "Your account has expired; please contact your "
                                    "system administrator.")
            return Pam.ACCT_EXPIRED
        if today > sp.lstchg + sp.max:
            handle.message("error", "You are required to change your password immediately "
                                    "(password expired).")
            return Pam.NEW_AUTHTOK_REQD
    return Pam.SUCCESS


# --- the simple ones -----------------------------------------------------------------

_DENY = {"authenticate": Pam.AUTH_ERR, "setcred": Pam.CRED_ERR, "acct_mgmt": Pam.AUTH_ERR,
         "open_session": Pam.SESSION_ERR, "close_session": Pam.SESSION_ERR,
         "chauthtok": Pam.AUTHTOK_ERR}


def pam_deny(handle: PamHandle, args: tuple[str, ...], call: str) -> int:
    return _DENY.get(call, Pam.AUTH_ERR)


def pam_permit(handle: PamHandle, args: tuple[str, ...], call: str) -> int:
    return Pam.SUCCESS


def pam_ignore(handle: PamHandle, args: tuple[str, ...], call: str) -> int:
    return Pam.IGNORE


def _opts(args: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, _, v in (a.partition("=") for a in args)}


def pam_nologin(handle: PamHandle, args: tuple[str, ...], call: str) -> int:
    """/etc/nologin (or file=...) refuses everyone but root; absent: PAM_IGNORE."""
    if call not in ("authenticate", "acct_mgmt"):
        return Pam.IGNORE if call == "setcred" else Pam.SUCCESS
    opts = _opts(args)
    path = opts.get("file", "/etc/nologin")
    try:
        with open(handle.resolver.real(path), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return Pam.SUCCESS if "successok" in args else Pam.IGNORE
    try:
        pw = db_unix.getpwnam(handle.resolver, handle.user or "")
    except OSError:
        pw = None
    if pw is None:
        return Pam.USER_UNKNOWN
    if pw.uid == 0:
        return Pam.SUCCESS if "successok" in args else Pam.IGNORE
    handle.message("error", text.strip() or "System is going down.")
    return Pam.AUTH_ERR


def pam_listfile(handle: PamHandle, args: tuple[str, ...], call: str) -> int:
    """item=user sense=allow|deny file=PATH [onerr=succeed|fail] [apply=...]."""
    opts = _opts(args)
    onerr = Pam.SUCCESS if opts.get("onerr") == "succeed" else Pam.SERVICE_ERR
    item, sense, path = opts.get("item"), opts.get("sense"), opts.get("file")
    if item is None or sense not in ("allow", "deny") or not path:
        return onerr
    values = {"user": handle.user or "", "rhost": handle.rhost, "ruser": handle.ruser,
              "tty": handle.tty}
    if item == "shell":
        try:
            pw = db_unix.getpwnam(handle.resolver, handle.user or "")
        except OSError:
            pw = None
        if pw is None:
            return onerr
        value = pw.shell
    elif item in values:
        value = values[item]
    else:
        return onerr
    try:
        with open(handle.resolver.real(path), encoding="utf-8", errors="replace") as fh:
            names = {line.strip() for line in fh}
    except OSError:
        return onerr
    found = value in names
    if sense == "allow":
        return Pam.SUCCESS if found else Pam.AUTH_ERR
    return Pam.AUTH_ERR if found else Pam.SUCCESS


_NUMERIC = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "eq": lambda a, b: a == b,
            ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "ne": lambda a, b: a != b,
            "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
            "ge": lambda a, b: a >= b}
_STRING = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b,
           "=~": lambda a, b: fnmatch.fnmatchcase(a, b),
           "!~": lambda a, b: not fnmatch.fnmatchcase(a, b),
           "in": lambda a, b: a in b.split(":"), "notin": lambda a, b: a not in b.split(":")}
_FLAGS = ("debug", "use_uid", "quiet", "quiet_fail", "quiet_success", "audit")


def pam_succeed_if(handle: PamHandle, args: tuple[str, ...], call: str) -> int:
    """Tests such as ``user in alice:bob`` or ``uid >= 1000``, all of which must hold."""
    words = [a for a in args if a not in _FLAGS]
    try:
        pw = db_unix.getpwnam(handle.resolver, handle.user or "")
    except OSError:
        pw = None
    if pw is None:
        return Pam.USER_UNKNOWN
    fields = {"user": pw.name, "uid": str(pw.uid), "gid": str(pw.gid), "shell": pw.shell,
              "home": pw.home, "service": handle.service, "rhost": handle.rhost,
              "ruser": handle.ruser, "tty": handle.tty, "login": pw.name}
    if not words or len(words) % 3:
        return Pam.SERVICE_ERR
    for i in range(0, len(words), 3):
        left, op, right = words[i:i + 3]
        if left not in fields:
            return Pam.SERVICE_ERR
        value = fields[left]
        if op in _NUMERIC:
            try:
                ok = _NUMERIC[op](int(value), int(right))
            except ValueError:
                return Pam.SERVICE_ERR
        elif op in _STRING:
            ok = _STRING[op](value, right)
        elif op in ("ingroup", "notingroup"):
            ok = _in_group(handle, pw, right) == (op == "ingroup")
        else:
            return Pam.SERVICE_ERR
        if not ok:
            return Pam.AUTH_ERR
    return Pam.SUCCESS


def _in_group(handle: PamHandle, pw: db_unix.Passwd, group: str) -> bool:
    try:
        with open(handle.resolver.real("/etc/group"), encoding="utf-8",
                  errors="replace") as fh:
            for line in fh:
                f = line.rstrip("\n").split(":")
                if len(f) == 4 and f[0] == group:
                    return f[2] == str(pw.gid) or pw.name in f[3].split(",")
    except OSError:
        return False
    return False


MODULES: dict[str, Module] = {
    "pam_unix.so": pam_unix,
    "pam_deny.so": pam_deny,
    "pam_permit.so": pam_permit,
    "pam_nologin.so": pam_nologin,
    "pam_listfile.so": pam_listfile,
    "pam_succeed_if.so": pam_succeed_if,
    # session helpers with nothing to do in the lab
    **{f"pam_{name}.so": pam_ignore for name in (
        "env", "limits", "systemd", "mail", "keyinit", "loginuid", "umask", "motd",
        "lastlog", "faildelay", "mkhomedir", "selinux", "warn")},
}
