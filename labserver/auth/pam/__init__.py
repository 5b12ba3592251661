"""A simulation of Linux-PAM for the lab's ``passdb { driver = pam }``.

Real PAM loads shared objects named in ``/etc/pam.d/<service>`` and runs them; the lab
reads the same files from its sandbox root and runs Python stand-ins for the common
modules, with libpam's rules for combining their answers::

    handle = PamHandle("dovecot", "alice", resolver, password="secret", rhost="127.0.0.2")
    handle.authenticate()  # Pam.SUCCESS, Pam.AUTH_ERR, Pam.USER_UNKNOWN...
    handle.acct_mgmt()

``conf`` parses the files, ``dispatch`` runs a stack, ``modules`` holds the modules,
``codes`` the return codes and their ``pam_strerror()`` texts.
"""

from __future__ import annotations

from collections.abc import Callable

from labserver.config.resolve import PathResolver

from .codes import MUST_FAIL, Pam, strerror
from .conf import Loader, PamConfAbort, Rule, Service
from .dispatch import run_stack
from .modules import MODULES

PROMPT_ECHO_OFF, PROMPT_ECHO_ON, ERROR_MSG, TEXT_INFO = 1, 2, 3, 4

# conv(style, message) -> the answer (the password for PROMPT_ECHO_OFF), or None.
Conversation = Callable[[int, str], str | None]


class PamHandle:
    """pam_start() .. pam_end(): one service, one user, one conversation."""

    def __init__(self, service: str, user: str, resolver: PathResolver, *,
                 conv: Conversation | None = None, password: str | None = None,
                 rhost: str = "", ruser: str = "", tty: str = "") -> None:
        # libpam keeps only the last path component of the service name, in lower case.
        self.service = service.rsplit("/", 1)[-1].lower()
        self.user = user
        self.resolver = resolver
        self.rhost, self.ruser, self.tty = rhost, ruser, tty
        self._password = password
        self.conv = conv or self._default_conv
        self.authtok: str | None = None
        self.messages: list[tuple[str, str]] = []
        self.trace: list[tuple[str, int, object]] = []
        self.config: Service = Loader(resolver).load(self.service)

    def _default_conv(self, style: int, message: str) -> str | None:
        return self._password if style == PROMPT_ECHO_OFF else None

    # --- what modules use --------------------------------------------------------

    def get_authtok(self) -> str | None:
        """pam_get_authtok(): ask once, then remember (like PAM_AUTHTOK)."""
        if self.authtok is None:
            self.authtok = self.conv(PROMPT_ECHO_OFF, "Password: ")
        return self.authtok

    def message(self, kind: str, text: str) -> None:
        self.messages.append((kind, text))
        self.conv(ERROR_MSG if kind == "error" else TEXT_INFO, text)

    # --- the application's calls -------------------------------------------------

    def _call(self, kind: str, call: str) -> Pam:
        def run(rule: Rule) -> int:
            module = MODULES.get(rule.module)
            if module is None:
                return Pam.MODULE_UNKNOWN if not rule.silent else Pam.IGNORE
            return module(self, rule.args, call)

        return run_stack(self.config.stacks[kind], run, self.trace)

    def authenticate(self) -> Pam:
        return self._call("auth", "authenticate")

    def setcred(self) -> Pam:
        return self._call("auth", "setcred")

    def acct_mgmt(self) -> Pam:
        return self._call("account", "acct_mgmt")

    def open_session(self) -> Pam:
        return self._call("session", "open_session")

    def close_session(self) -> Pam:
        return self._call("session", "close_session")


def pam_start(service: str, user: str, resolver: PathResolver, **kwargs: object
              ) -> tuple[Pam, PamHandle | None]:
    """(PAM_SUCCESS, handle), or (PAM_ABORT, None) when the configuration is unusable."""
    try:
        return Pam.SUCCESS, PamHandle(service, user, resolver, **kwargs)  # type: ignore[arg-type]
    except PamConfAbort:
        return Pam.ABORT, None


__all__ = ["MODULES", "MUST_FAIL", "Pam", "PamConfAbort", "PamHandle", "Rule", "pam_start",
           "run_stack", "strerror"]
