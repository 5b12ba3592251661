"""The settings the IMAP session engine reads, parsed once at the edge.

``ImapSettings.from_config(cfg, local=..., remote=...)`` asks the configuration for the
values one connection sees (``protocol imap {}`` and ``local``/``remote`` filters apply)
and turns them into plain Python values; the engine never reads configuration strings
again. Tests build ``ImapSettings(...)`` directly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from labserver.auth.sasl.mech import MECH_RULES
from labserver.rewording import Rewording

# imap/imap-settings.c: imap_client_workarounds
WORKAROUNDS = ("delay-newmail", "tb-extra-mailbox-sep", "tb-lsub-flags")


def parse_mechanisms(text: str) -> tuple[str, ...]:
    """``auth_mechanisms`` in the order the auth process registers them."""
    seen: list[str] = []
    for name in text.replace(",", " ").split():
        if name.upper() not in seen:
            seen.append(name.upper())
    return tuple(seen)


def parse_networks(text: str) -> tuple[Any, ...]:
    nets = []
    for item in text.replace(",", " ").split():
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            break  # login-common logs "Invalid network" and stops there
    return tuple(nets)


def is_plaintext_mech(name: str) -> bool:
    rule = MECH_RULES.get(name.upper())
    return rule is not None and rule.plaintext


def is_private_mech(name: str) -> bool:
    """MECH_SEC_PRIVATE: usable only through a protocol command (POP3's APOP)."""
    rule = MECH_RULES.get(name.upper())
    return rule is not None and rule.private


@dataclass(frozen=True)
class NamespaceSettings:
    """The private namespace as NAMESPACE and LIST show it."""

    prefix: str = ""
    separator: str = "."


@dataclass(frozen=True)
class FixedCapabilities:
    """Capability strings given verbatim, as another server computes them: before and
    after login, each without and with TLS."""

    prelogin: str
    prelogin_tls: str
    postlogin: str
    postlogin_tls: str


@dataclass(frozen=True)
class ImapSettings:
    """Everything imap-login and imap read from dovecot.conf, typed."""

    # login (login-common/login-settings.c)
    login_greeting: str = "Dovecot ready."
    login_trusted_networks: tuple[Any, ...] = ()
    login_log_format_elements: str = (
        "user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>")
    login_log_format: str = "%$: %s"
    disable_plaintext_auth: bool = True
    auth_verbose: bool = False
    ssl: str = "yes"  # no, yes, required
    auth_mechanisms: tuple[str, ...] = ("PLAIN",)
    # imap (imap/imap-settings.c)
    imap_capability: str = ""
    imap_max_line_length: int = 64 * 1024
    imap_logout_format: str = (
        "in=%i out=%o deleted=%{deleted} expunged=%{expunged} trashed=%{trashed} "
        "hdr_count=%{fetch_hdr_count} hdr_bytes=%{fetch_hdr_bytes} "
        "body_count=%{fetch_body_count} body_bytes=%{fetch_body_bytes}")
    imap_idle_notify_interval: int = 120
    imap_id_send: str = "name *"
    imap_literal_minus: bool = False
    imap_client_workarounds: frozenset[str] = field(default_factory=frozenset)
    mail_log_prefix: str = "%s(%u)<%{pid}><%{session}>: "
    mail_max_userip_connections: int = 10
    namespace: NamespaceSettings | None = None  # None: the storage's own separator
    # Another server's personality on this engine (labserver.courier); the defaults are
    # Dovecot's own behaviour. ``replies`` rewords tagged and untagged replies,
    # ``reply_timing`` adds Dovecot's "(0.001 + 0.000 secs)" to them, ``namespace_reply``
    # is the NAMESPACE response after "* NAMESPACE ", ``disabled_commands`` (by name,
    # "MOVE" also disables "UID MOVE") answer as unknown commands.
    replies: Rewording = field(default_factory=Rewording, compare=False)
    disabled_commands: frozenset[str] = frozenset()
    reply_timing: bool = True
    fixed_capabilities: FixedCapabilities | None = None
    login_capability_code: bool = True
    namespace_reply: str = ""

    @classmethod
    def from_config(cls, cfg: Any, *, local: str | None = None,
                    remote: str | None = None) -> ImapSettings:
        """Read the settings one connection sees from a ``labserver.config.Config``."""

        def get(key: str, default: Any = "") -> Any:
            try:
                return cfg.get(key, protocol="imap", local=local, remote=remote)
            except (KeyError, TypeError):
                return default

        namespace = None
        for ns in cfg.sections("namespace"):
            values = ns.values
            if values.get("disabled") or values.get("type", "private") != "private":
                continue
            if values.get("separator") or values.get("prefix"):
                namespace = NamespaceSettings(prefix=values.get("prefix", "") or "",
                                              separator=values.get("separator", "") or "")
            break
        workarounds = frozenset(
            w for w in str(get("imap_client_workarounds")).replace(",", " ").split()
            if w in WORKAROUNDS)
        return cls(
            login_greeting=str(get("login_greeting", "Dovecot ready.")),
            login_trusted_networks=parse_networks(str(get("login_trusted_networks"))),
            login_log_format_elements=str(get("login_log_format_elements")),
            login_log_format=str(get("login_log_format", "%$: %s")),
            disable_plaintext_auth=bool(get("disable_plaintext_auth", True)),
            auth_verbose=bool(get("auth_verbose", False)),
            ssl=str(get("ssl", "yes")),
            auth_mechanisms=parse_mechanisms(str(get("auth_mechanisms", "plain"))),
            imap_capability=str(get("imap_capability")),
            imap_max_line_length=int(get("imap_max_line_length", 65536)),
            imap_logout_format=str(get("imap_logout_format", cls.imap_logout_format)),
            imap_idle_notify_interval=int(get("imap_idle_notify_interval", 120)),
            imap_id_send=str(get("imap_id_send", "name *")),
            imap_literal_minus=bool(get("imap_literal_minus", False)),
            imap_client_workarounds=workarounds,
            mail_log_prefix=str(get("mail_log_prefix", cls.mail_log_prefix)),
            mail_max_userip_connections=int(get("mail_max_userip_connections", 10)),
            namespace=namespace,
        )
