"""``CourierLab``: a lab server with Courier's personality, for notebooks and tests.

``Lab(flavor="courier")`` (or ``CourierLab()``) is a ``Lab`` whose configuration is
Courier's: ``/etc/courier/imapd``, ``imapd-ssl``, ``pop3d``, ``pop3d-ssl`` and
``authdaemonrc`` inside the lab root (written with Debian's values when missing).
``start()`` reads them, writes the configuration they amount to for the lab's engines
to ``/run/labserver/engines.conf`` (for the curious; it is regenerated at each start),
and serves IMAP and POP3 with Courier's words. Users live in Courier's userdb
(``add_user``), mail in Courier's Maildir. The tools a Courier administrator runs are
methods: ``authtest``, ``maildirmake``, ``userdb``, ``makeuserdb``, ``userdbpw``,
``mkimapdcert``, ``mkpop3dcert``; ``set_courier`` changes one variable of a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError
from ..config.config import load
from ..service.lab import Lab, LabError
from ..storage.model import MailStorage
from . import authdaemon, certs, maildir, settings, shellconf, userdb
from .personality import CourierContext, dovecot_config, open_storage

ENGINES_CONF = "/run/labserver/engines.conf"


@dataclass(frozen=True)
class ToolResult:
    """What a command printed and its exit code (``print(result)`` shows the output)."""

    returncode: int
    stdout: str
    stderr: str = ""

    def __str__(self) -> str:
        return (self.stdout + self.stderr).rstrip("\n")


class CourierLab(Lab):
    """A lab server that reads ``/etc/courier`` and answers as Courier-IMAP and pop3d."""

    context_class = CourierContext
    flavor = "courier"

    def __init__(self, config: dict[str, str] | None = None, *,
                 root: str | os.PathLike[str] | None = None, ports: str = "offset",
                 engine: str = "lab", flavor: str = "courier", **_: Any) -> None:
        if engine != "lab":
            raise LabError("the Courier personality runs on the lab's engines only "
                           "(engine='lab')")
        if config is not None and not isinstance(config, dict):
            raise LabError("a Courier lab takes its files as {name: text}, e.g. "
                           "{'imapd': '...'}; it has no dovecot.conf")
        super().__init__("", root=root, ports=ports, config_path=ENGINES_CONF)
        self.courier: settings.CourierSettings | None = None
        self._warnings: list[str] = []
        settings.write_defaults(self.resolver)
        certs.write_templates(self.resolver)
        for name, text in (config or {}).items():
            self.write_courier(name, text)

    # -- Courier's files --------------------------------------------------------------

    def write_courier(self, name: str, text: str) -> Path:
        """Replace one of Courier's files (``imapd``, ``pop3d``, ``authdaemonrc``...)."""
        if name not in settings.KNOWN:
            raise LabError(f"not one of Courier's files: {name!r} "
                           f"(use {', '.join(settings.KNOWN)})")
        return self.write_config(text, f"{settings.ETC}/{name}")

    def read_courier(self, name: str) -> str:
        return self.path(f"{settings.ETC}/{name}").read_text()

    def set_courier(self, name: str, variable: str, value: str) -> Path:
        """Set ``variable`` in file ``name`` (as an administrator would edit it)."""
        return self.write_courier(name, shellconf.assign(self.read_courier(name), variable,
                                                         value))

    # -- what Lab asks of a flavor ----------------------------------------------------

    def _load(self) -> Config:
        try:
            found = settings.load(self.resolver)
        except shellconf.CourierConfigError as exc:
            raise LabError(str(exc)) from None
        text, warnings = dovecot_config(found, self.resolver)
        self.write_config(text)
        try:
            config = load(self.config_path, root=str(self.root))
        except ConfigError as exc:
            raise LabError(exc.message) from None
        self.courier = found
        self._warnings = warnings
        return config

    def _make_context(self, config: Config) -> CourierContext:
        for warning in self._warnings:
            self.log.warning("courier: ", warning)
        context = super()._make_context(config)
        assert isinstance(context, CourierContext)
        context.courier = self.courier
        return context

    def _startup_message(self, config: Config) -> str:
        protocols = ", ".join(config.get("protocols").split())
        return f"Courier personality (labserver) starting up for {protocols}"

    def reload(self, config: dict[str, str] | None = None) -> str | None:  # type: ignore[override]
        """Re-read Courier's files (after writing ``config``'s, if given); on error keep
        the running configuration and return the error."""
        old = {name: self.read_courier(name) for name in (config or {})}
        for name, text in (config or {}).items():
            self.write_courier(name, text)
        error = super().reload(None)
        if error is not None:
            for name, text in old.items():
                self.write_courier(name, text)
        return error

    def storage(self, user: str, home: str | None = None) -> MailStorage:
        """A user's Maildir as Courier keeps it (found through authdaemon)."""
        config = self.config or self._load()
        assert self.courier is not None
        info = authdaemon.authenticate(self.resolver, self.courier.authmodulelist, user,
                                       None, "imap")
        if info is None and home is None:
            raise LabError(f"authdaemon does not know {user!r} (authmodulelist="
                           f"{' '.join(self.courier.authmodulelist)})")
        return open_storage(config, self.resolver, self.courier, user,
                            home or (info.home if info else ""),
                            info.maildir if info else "")

    # -- users ---------------------------------------------------------------------

    def add_user(self, user: str, password: str, *, scheme: str = "-md5",  # type: ignore[override]
                 home: str | None = None, extra: str = "") -> str:
        """An account in Courier's userdb (``userdb``, ``userdbpw``, ``makeuserdb``) with
        a maildir made by ``maildirmake``; returns the stored hash.

        ``scheme`` is userdbpw's option (``-md5``, ``""`` for DES crypt, ``-hmac-md5``);
        ``extra`` adds userdb fields, e.g. ``"mail=/var/mail/alice quota=10000000S"``."""
        if not user or any(c in user for c in ":/\n\t|"):
            raise LabError(f"invalid user name: {user!r}")
        home = home or f"/home/{user}"
        stored = userdb.userdbpw(password, scheme)
        fields = {"uid": str(os.getuid() or 65534), "gid": str(os.getgid() or 65534),
                  "home": home, "systempw": stored}
        for item in extra.split():
            key, _, value = item.partition("=")
            fields[key] = value
        userdb.userdb_set(self.resolver, user, fields)
        userdb.makeuserdb(self.resolver)
        real_home = self.path(home)
        real_home.mkdir(parents=True, exist_ok=True)
        mail = self.path(fields.get("mail") or f"{home}/{self._maildirpath()}")
        if not mail.exists():
            maildir.maildirmake(str(mail))
        return stored

    def _maildirpath(self) -> str:
        try:
            return settings.load(self.resolver).imap.maildirpath
        except shellconf.CourierConfigError:
            return "Maildir"

    # -- Courier's tools -------------------------------------------------------------

    def authtest(self, user: str, password: str | None = None,
                 service: str = "login") -> ToolResult:
        """``authtest [-s service] user [password]`` against this lab's authdaemon."""
        try:
            modules = settings.load_authmodules(self.resolver)
        except shellconf.CourierConfigError as exc:
            return ToolResult(1, "", f"{exc}\n")
        return ToolResult(*authdaemon.authtest(self.resolver, modules, user, password,
                                               service))

    def maildirmake(self, path: str, folder: str | None = None,
                    quota: str | None = None) -> ToolResult:
        """``maildirmake [-f folder] [-q quota] path`` (path as the lab root sees it)."""
        try:
            maildir.maildirmake(str(self.path(path)), folder, quota)
        except maildir.MaildirMakeError as exc:
            return ToolResult(1, "", str(exc).replace(str(self.root), "") + "\n")
        return ToolResult(0, "")

    def userdb(self, user: str, **fields: str) -> ToolResult:
        """``userdb user set field=value ...`` (run ``makeuserdb`` afterwards)."""
        try:
            userdb.userdb_set(self.resolver, user, fields)
        except userdb.UserdbError as exc:
            return ToolResult(1, "", f"{exc}\n")
        return ToolResult(0, "")

    def makeuserdb(self) -> ToolResult:
        try:
            userdb.makeuserdb(self.resolver)
        except userdb.UserdbError as exc:
            return ToolResult(1, "", f"{exc}\n")
        return ToolResult(0, "")

    def userdbpw(self, password: str, option: str = "-md5") -> ToolResult:
        try:
            return ToolResult(0, userdb.userdbpw(password, option) + "\n")
        except userdb.UserdbError as exc:
            return ToolResult(1, "", f"{exc}\n")

    def mkimapdcert(self) -> ToolResult:
        return ToolResult(*certs.mkcert(self.resolver, "imapd"))

    def mkpop3dcert(self) -> ToolResult:
        return ToolResult(*certs.mkcert(self.resolver, "pop3d"))
