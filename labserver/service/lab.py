"""``Lab``: a lab server for notebooks, graders and tests.

A lab lives in a directory that stands for ``/``: its configuration is
``/etc/dovecot/dovecot.conf`` inside it, users' homes are under ``/home`` inside it,
and every absolute path in the configuration resolves there. ``start()`` returns
once every listener is bound (then it serves from a background thread);
``reload()`` keeps the running configuration when the new one is refused, as a
Dovecot reload does, and says why.

``engine="dovecot"`` runs Debian's real Dovecot instead, on the same configuration,
sandbox and mailboxes (see ``dovecot_engine``): the same notebook cell can then check
what the lab does against the real server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..auth import AuthConfigError, Authenticator, schemes
from ..config import Config, ConfigError, load
from ..config.registry import load_registry
from ..config.resolve import PathResolver
from ..storage import deliver as storage_deliver
from ..storage import open_storage
from ..tls import TLSConfigError, TLSSettings, server_context
from .context import LabContext
from .listeners import ListenerSpec, PortPolicy, listener_specs
from .log import LogBook
from .pop3_handler import serve_pop3
from .rawlog import Transcript
from .server import Channel, Server

CONFIG_PATH = "/etc/dovecot/dovecot.conf"
ENGINES = ("lab", "dovecot")
# Which server the lab imitates: Dovecot, or Courier (labserver.courier.lab.CourierLab,
# which reads /etc/courier instead of dovecot.conf).
FLAVORS = ("dovecot", "courier")
USERS_PATH = "/etc/dovecot/users"

DEFAULT_CONFIG = f"""\
# A small, complete lab configuration: IMAP and POP3, Maildir, users in a file.
protocols = imap pop3
mail_location = maildir:~/Maildir
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


class LabError(Exception):
    """The lab cannot do what was asked; the message says why in plain words."""


class Lab:
    """One lab server: a sandbox directory, a configuration and its listeners."""

    context_class: type[LabContext] = LabContext
    flavor = "dovecot"

    def __new__(cls, *args: Any, flavor: str = "dovecot", **kwargs: Any) -> Lab:
        if flavor not in FLAVORS:
            raise LabError(f"unknown flavor {flavor!r}: use {' or '.join(FLAVORS)}")
        if flavor != cls.flavor and cls is Lab:
            from ..courier.lab import CourierLab

            return super().__new__(CourierLab)
        return super().__new__(cls)

    def __init__(self, config: str | os.PathLike[str] | None = None, *,
                 root: str | os.PathLike[str] | None = None, ports: str = "offset",
                 config_path: str = CONFIG_PATH, engine: str = "lab",
                 flavor: str = "dovecot") -> None:
        if engine not in ENGINES:
            raise LabError(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}")
        self.engine = engine
        self._dovecot: Any = None
        if engine == "dovecot":
            from .dovecot_engine import dovecot_binary
            if dovecot_binary() is None:
                raise LabError("engine 'dovecot' needs real Dovecot, which is not installed "
                               "(Debian's dovecot-core, dovecot-imapd, dovecot-pop3d)")
        self._own_root = root is None
        self.config_path = config_path
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="lab-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.resolver = PathResolver(self.root)
        if engine == "dovecot" and self.resolver.root is None:
            raise LabError("engine 'dovecot' needs a lab directory to stand for /, not the "
                           "real root: it writes its run directory and hands mail files to "
                           "Dovecot's mail user there")
        self.policy = PortPolicy.parse(ports)
        self.log = LogBook()
        self.server: Server | None = None
        self.config: Config | None = None
        self._context: LabContext | None = None
        if config is None:
            if not self.path(config_path).exists():
                self.write_config(DEFAULT_CONFIG)
        elif isinstance(config, os.PathLike):
            self.write_config(Path(config).read_text())
        else:
            self.write_config(config)

    # -- files in the sandbox ---------------------------------------------------

    def path(self, virtual: str) -> Path:
        """The real path of a path as the configuration names it."""
        return Path(self.resolver.real(virtual))

    def write_config(self, text: str, path: str | None = None) -> Path:
        """Write the configuration file (or, with ``path``, an included one) into the lab."""
        real = self.path(path or self.config_path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(text)
        return real

    def add_user(self, user: str, password: str, *, scheme: str = "SHA512-CRYPT",
                 home: str | None = None, extra: str = "", path: str = USERS_PATH) -> str:
        """Add (or replace) a user in a passwd-file; returns the stored hash."""
        # A passwd-file line cannot hold ':' or a line break, and the home directory is
        # made from the name: no '/', no NUL or other control character, no '.' or '..'.
        if (not user or user in (".", "..") or any(c in ":/" for c in user)
                or any(ord(c) < 0x20 or c == "\x7f" for c in user)):
            raise LabError(f"invalid user name: {user!r}")
        stored = schemes.generate(password, scheme, user=user)
        home = home or f"/home/{user}"
        # Dovecot refuses uid/gid 0 in a passwd-file; the lab never switches users, so
        # when it runs as root it writes nobody's ids (65534) instead.
        uid = os.getuid() or 65534
        gid = os.getgid() or 65534
        line = f"{user}:{stored}:{uid}:{gid}::{home}::{extra}".rstrip(":")
        # The home first: a name the file system refuses (too long) leaves no user behind.
        try:
            self.path(home).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabError(f"cannot make the home directory {home}: {exc.strerror}") from None
        real = self.path(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        lines = real.read_text().splitlines() if real.exists() else []
        lines = [x for x in lines if x.split(":", 1)[0] != user] + [line]
        real.write_text("\n".join(lines) + "\n")
        if self._dovecot is not None:
            self._dovecot.sync_users()
            self._dovecot.fix_user(user)
        return stored

    def storage(self, user: str, home: str | None = None) -> Any:
        """A user's mail storage as the running configuration describes it; a ``mail``
        field from the userdb replaces mail_location, as for Dovecot's LDA."""
        config = self.config or self._load()
        return open_storage(config, user, home or f"/home/{user}", self.resolver,
                            mail=self._userdb_mail(config, user))

    def _userdb_mail(self, config: Config, user: str) -> str | None:
        auth = self._context.auth if self._context is not None else None
        try:
            result = (auth or Authenticator(config, self.resolver)).lookup_user(user)
        except Exception:  # noqa: BLE001 - an auth setup that cannot start: mail_location
            return None
        return result.mail if result.success else None

    def deliver(self, user: str, message: bytes | str, folder: str = "INBOX",
                home: str | None = None) -> int:
        """Deliver a message to a user's folder, as an MDA would; returns its UID."""
        uid = storage_deliver(self.storage(user, home), message, folder)
        if self._dovecot is not None:
            self._dovecot.fix_user(user)
        return uid

    # -- lifecycle -------------------------------------------------------------

    def _load(self) -> Config:
        return load(self.config_path, root=str(self.root))

    def _make_context(self, config: Config) -> LabContext:
        run_dir = self.path(config.get("base_dir"))
        try:
            context = self.context_class(config=config, resolver=self.resolver,
                                         log=self.log, run_dir=run_dir)
        except AuthConfigError as exc:
            raise LabError(f"auth: {exc}") from None
        for protocol in ("imap", "pop3"):
            settings = TLSSettings.from_config(config, protocol)
            if settings.mode == "no":
                continue
            if settings.verbose:
                self.log.debug_enabled = True  # Dovecot writes verbose_ssl's debug lines
            try:
                context.tls_contexts[protocol] = server_context(
                    settings, run_dir,
                    log=lambda text, p=protocol: self.log.error(f"{p}-login: ", text),
                    debug=lambda text, p=protocol: self.log.log(f"{p}-login: ", "Debug", text))
            except TLSConfigError as exc:
                # As Dovecot: the service starts; each TLS connection fails and logs why.
                context.tls_errors[protocol] = str(exc)
                continue
            for warning in settings.warnings:
                self.log.warning(f"{protocol}-login: ", warning)
        return context

    def start(self) -> Lab:
        """Read the configuration, bind every listener, serve in the background."""
        if self.running:
            raise LabError("the lab is already running; use reload() or stop()")
        if self.engine == "dovecot":
            return self._start_dovecot()
        config = self._load()
        context = self._make_context(config)
        specs = listener_specs(config, self.policy)
        server = Server(log=self.log, handlers=self._handlers(context),
                        tls_contexts=context.tls_contexts, tls_errors=context.tls_errors)
        server.start(specs)
        self.server, self.config, self._context = server, config, context
        self.log.info("master: ", self._startup_message(config))
        return self

    def _startup_message(self, config: Config) -> str:
        protocols = ", ".join(config.get("protocols").split())
        return f"Dovecot v{load_registry().version} (labserver) starting up for {protocols}"

    def _start_dovecot(self) -> Lab:
        from .dovecot_engine import DovecotEngine

        engine = self._dovecot or DovecotEngine(self)
        self._dovecot = engine
        engine.start()
        self.config = engine.expanded
        return self

    def _handlers(self, context: LabContext) -> dict[str, Any]:
        async def pop3(ch: Channel) -> None:
            await serve_pop3(ch, self._context or context)

        handlers: dict[str, Any] = {"pop3": pop3}
        try:
            from .imap_handler import serve_imap
        except ImportError:
            return handlers

        async def imap(ch: Channel) -> None:
            await serve_imap(ch, self._context or context)

        handlers["imap"] = imap
        return handlers

    def reload(self, config: str | None = None) -> str | None:
        """Switch to a new configuration; on error keep the old one and return the error."""
        if config is not None:
            old = self.path(self.config_path).read_text()
            self.write_config(config)
        if self.engine == "dovecot":
            return self._reload_dovecot(None if config is None else old)
        self.log.warning("master: ", "SIGHUP received - reloading configuration")
        try:
            new = self._load()
            context = self._make_context(new)
            specs = listener_specs(new, self.policy)
        except (ConfigError, LabError) as exc:
            if config is not None:
                self.write_config(old)
            message = exc.message if isinstance(exc, ConfigError) else str(exc)
            self.log.error("master: ", f"Error reading configuration: {message}")
            return message
        if self.server is None:
            self.config, self._context = new, context
            return None
        old_specs = [b.spec for b in self.server.bound]
        self.server.handlers = self._handlers(context)
        self.server.tls_contexts = context.tls_contexts
        self.server.tls_errors = context.tls_errors
        if _spec_keys(old_specs) != _spec_keys(specs):
            try:
                self.server.call(self.server.rebind(specs))
            except OSError as exc:
                self.server.call(self.server.rebind(old_specs))
                self.log.error("master: ", f"Config reload failed: {exc}")
                return str(exc)
        self.config, self._context = new, context
        return None

    def _reload_dovecot(self, old: str | None) -> str | None:
        from .dovecot_engine import DovecotEngine

        engine = self._dovecot or DovecotEngine(self)
        self._dovecot = engine
        try:
            engine.reload()
        except (ConfigError, LabError) as exc:
            if old is not None:
                self.write_config(old)
            return exc.message if isinstance(exc, ConfigError) else str(exc)
        self.config = engine.expanded
        return None

    def stop(self) -> None:
        """Stop serving (open sessions are ended)."""
        if self._dovecot is not None:
            self._dovecot.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
            self.log.info("master: ", "Dovecot (labserver) stopped")

    def cleanup(self) -> None:
        """Stop, and remove the lab directory if the lab created it."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self.start() if self.server is None else self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- what a notebook asks ------------------------------------------------------

    @property
    def running(self) -> bool:
        if self._dovecot is not None:
            return bool(self._dovecot.running)
        return self.server is not None

    def listeners(self) -> list[tuple[ListenerSpec, int]]:
        """Each bound listener with the port it really listens on."""
        if self._dovecot is not None:
            return list(self._dovecot.bound) if self._dovecot.running else []
        if self.server is None:
            return []
        return [(b.spec, b.port) for b in self.server.bound]

    def port(self, name: str) -> int:
        """The real port of a listener by name (``imap``, ``imaps``, ``pop3``, ``pop3s``)."""
        for spec, port in self.listeners():
            if spec.name == name:
                return port
        raise LabError(f"no listener named {name!r} is open "
                       f"(open: {', '.join(s.name for s, _ in self.listeners()) or 'none'})")

    def table(self) -> str:
        """A netstat-like table of what listens where."""
        rows = [("Proto", "Service", "Listener", "Address", "Config port", "Real port", "TLS")]
        for spec, port in self.listeners():
            rows.append(("tcp6" if ":" in spec.address else "tcp", spec.service, spec.name,
                         spec.address, str(spec.configured_port), str(port),
                         "implicit" if spec.ssl else "STARTTLS" if self._starttls(spec)
                         else "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                         for r in rows)

    def _starttls(self, spec: ListenerSpec) -> bool:
        if self._dovecot is not None:
            return self.config is not None and self.config.get(
                "ssl", protocol=spec.protocol) != "no"
        return self._context is not None and self._context.tls(spec.protocol) is not None

    def logs(self, contains: str | None = None) -> list[str]:
        """Log lines in Dovecot's format, optionally only those containing a text.

        With the dovecot engine these are the lines real Dovecot wrote since it started,
        with paths shown as the configuration names them.
        """
        if self._dovecot is not None:
            return [x for x in self._dovecot.logs() if contains is None or contains in x]
        return self.log.lines(contains)

    def transcripts(self, protocol: str | None = None) -> list[Transcript]:
        """Per-session transcripts (oldest first; the dovecot engine keeps none)."""
        if self.server is None:
            return []
        return [t for t in self.server.transcripts if protocol in (None, t.protocol)]


def _spec_keys(specs: list[ListenerSpec]) -> list[tuple[str, str, int, bool]]:
    return sorted((s.protocol, s.address, s.port, s.ssl) for s in specs)
