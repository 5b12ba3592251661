"""``passdb { driver = pam }``: a success/failure database through (simulated) PAM.

passdb-pam.c in small. ``args`` are words: ``session=yes`` (also open and close a PAM
session), ``setcred=yes``, ``failure_show_msg=yes`` (the module's prompt becomes the failed
lookup's ``reason`` field; Dovecot 2.3.19 then rolls back the fields of a passdb that
failed, so the client still reads "Authentication failed."), ``max_requests=N``,
``cache_key=...``, ``blocking=yes`` (ignored), ``*`` (service name = protocol, old
spelling of ``%Ls``), and a last word that is the PAM service name, default
``dovecot``; it may contain %-variables (``args = %s`` makes IMAP logins use
``/etc/pam.d/imap``). Any other word is fatal: ``pam: Unknown setting: X``.

A login runs ``pam_authenticate()``, then ``pam_setcred()`` if asked, then
``pam_acct_mgmt()``, then the session calls, and logs failures in Dovecot's words::

    pam(alice,127.0.0.1,<s>): pam_authenticate() failed: Authentication failure (Password mismatch?)
    pam(bob,127.0.0.1,<s>): unknown user
    pam(carol,127.0.0.1,<s>): pam_acct_mgmt() failed: User account has expired

PAM only answers "is this the password?": it cannot hand out stored credentials, so
the driver has no ``lookup_credentials``. The Authenticator then logs Dovecot's
"passdb doesn't support credential lookups" and CRAM-MD5 and friends fail, which is
the study chapter's point about success/failure databases.
"""

from __future__ import annotations

import os
from typing import ClassVar

from labserver.config.varexpand import expand

from . import pam
from .pam.codes import Pam, strerror
from .passdb import AuthConfigError, DriverContext, PassdbResult
from .request import AuthRequest

DEFAULT_SERVICE = "dovecot"
DEFAULT_MAX_REQUESTS = 100
_STYLE = {pam.PROMPT_ECHO_OFF: 1, pam.PROMPT_ECHO_ON: 2, pam.ERROR_MSG: 3, pam.TEXT_INFO: 4}


class PamPassdb:
    name: ClassVar[str] = "pam"
    default_pass_scheme = "PLAIN"

    blocking = True  # run by an auth-worker (see request.py)

    def __init__(self, args: str, ctx: DriverContext) -> None:
        self.resolver = ctx.resolver
        self.service_name = DEFAULT_SERVICE
        self.session = self.setcred = self.failure_show_msg = False
        self.requests_left = DEFAULT_MAX_REQUESTS
        self.cache_key: str | None = None
        self.startup_log: list[tuple[str, str]] = []
        self._service_checked = False
        words = args.split()
        for i, word in enumerate(words):
            if word in ("-session", "session=yes"):
                self.session = True
            elif word == "setcred=yes":
                self.setcred = True
            elif word.startswith("cache_key="):
                self.cache_key = word[len("cache_key="):]
            elif word == "blocking=yes":
                pass  # backwards compatibility
            elif word == "failure_show_msg=yes":
                self.failure_show_msg = True
            elif word == "*":
                self.service_name = "%Ls"
            elif word.startswith("max_requests="):
                value = word[len("max_requests="):]
                if value.isascii() and value.isdigit():
                    self.requests_left = int(value)
                else:
                    self.startup_log.append(("Error",
                                             f"pam: Invalid requests_left value: {value}"))
            elif i == len(words) - 1:
                self.service_name = word
            else:
                raise AuthConfigError(f"pam: Unknown setting: {word}")

    def _missing_service_file(self, service: str) -> str | None:
        """pam_get_missing_service_file_path(): complain once about a missing file."""
        if self._service_checked:
            return None
        self._service_checked = True
        path = f"/etc/pam.d/{service}"
        if not os.path.exists(self.resolver.real(path)) and os.path.isdir(
                self.resolver.real("/etc/pam.d")):
            return path
        return None

    def verify_plain(self, request: AuthRequest, password: str) -> PassdbResult:
        if self.requests_left > 0:
            self.requests_left -= 1  # a real worker would restart at 0
        exp = expand(self.service_name, request.var_values())
        if exp.error:
            request.db_log("Debug", f"Failed to expand service {self.service_name}: "
                                    f"{exp.error}")
            return PassdbResult.INTERNAL_FAILURE
        service = exp.text
        request.db_log("Debug", f"lookup service={service}")
        return self._call(request, service, password)

    def _call(self, request: AuthRequest, service: str, password: str) -> PassdbResult:
        failure_msg: list[str] = []

        def conv(style: int, message: str) -> str | None:
            request.db_log("Debug", f"#1/1 style={_STYLE.get(style, style)} msg={message}")
            if style == pam.PROMPT_ECHO_OFF:
                if self.failure_show_msg:
                    failure_msg[:] = [message]
                return password
            if style == pam.PROMPT_ECHO_ON:
                return request.user
            return None

        status, handle = pam.pam_start(service, request.user or "", self.resolver,
                                       conv=conv, rhost=request.remote_ip,
                                       ruser=request.user or "", tty="dovecot")
        if handle is None:
            request.db_log("Error", f"pam_start() failed: {strerror(status)}")
            return PassdbResult.INTERNAL_FAILURE
        status = self._try_auth(request, handle, service)
        if status == Pam.SUCCESS:
            result = PassdbResult.OK
        elif status == Pam.USER_UNKNOWN:
            result = PassdbResult.USER_UNKNOWN
        elif status in (Pam.NEW_AUTHTOK_REQD, Pam.ACCT_EXPIRED):
            result = PassdbResult.PASS_EXPIRED
        else:
            result = PassdbResult.PASSWORD_MISMATCH
        if result is not PassdbResult.OK and failure_msg:
            request.set_field("reason", failure_msg[0])
        return result

    def _try_auth(self, request: AuthRequest, handle: pam.PamHandle, service: str) -> int:
        status = handle.authenticate()
        if status != Pam.SUCCESS:
            path = self._missing_service_file(service)
            text = ("unknown user" if status == Pam.USER_UNKNOWN
                    else f"pam_authenticate() failed: {strerror(status)}")
            if path is not None:
                request.db_log("Error", f"{text} ({path} missing?)")
            elif status == Pam.AUTH_ERR:
                text += " (Password mismatch?)"
                request.db_log("Info", text)
            elif status == Pam.USER_UNKNOWN:
                request.log_login_failure("unknown user")
            else:
                request.db_log("Info", text)
            return status
        steps = [("pam_setcred", handle.setcred)] if self.setcred else []
        steps.append(("pam_acct_mgmt", handle.acct_mgmt))
        if self.session:
            steps += [("pam_open_session", handle.open_session),
                      ("pam_close_session", handle.close_session)]
        for name, step in steps:
            status = step()
            if status != Pam.SUCCESS:
                request.db_log("Error", f"{name}() failed: {strerror(status)}")
                return status
        request.set_field("user", handle.user)
        return Pam.SUCCESS
