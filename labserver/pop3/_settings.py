"""The settings the POP3 engine reads, parsed once at the edge.

``Pop3Settings.from_config(cfg, local=..., remote=...)`` asks the configuration for
the values one connection sees (``protocol pop3 {}`` and ``remote``/``local``
filters apply) and turns them into plain Python values; the engine never looks at
configuration strings again. Tests build ``Pop3Settings(...)`` directly.

``MECHANISMS`` mirrors the flags Dovecot's auth process announces for each SASL
mechanism (src/auth/mech-*.c): they decide what pop3-login advertises in CAPA and
which mechanisms count as plaintext for ``disable_plaintext_auth``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Flag, auto
from typing import Any

from labserver.rewording import Rewording


class MechFlag(Flag):
    NONE = 0
    PRIVATE = auto()  # usable only through a protocol command (APOP), never advertised
    ANONYMOUS = auto()
    PLAINTEXT = auto()  # the password crosses the wire: disable_plaintext_auth applies


# src/auth/mech-*.c, ``.flags`` of each mech_module.
MECHANISMS: dict[str, MechFlag] = {
    "PLAIN": MechFlag.PLAINTEXT,
    "LOGIN": MechFlag.PLAINTEXT,
    "CRAM-MD5": MechFlag.NONE,
    "DIGEST-MD5": MechFlag.NONE,
    "APOP": MechFlag.PRIVATE,
    "ANONYMOUS": MechFlag.ANONYMOUS,
    "SCRAM-SHA-1": MechFlag.NONE,
    "SCRAM-SHA-256": MechFlag.NONE,
    "OTP": MechFlag.NONE,
    "EXTERNAL": MechFlag.NONE,
    "GSSAPI": MechFlag.NONE,
    "GSS-SPNEGO": MechFlag.NONE,
    "NTLM": MechFlag.NONE,
    "OAUTHBEARER": MechFlag.PLAINTEXT,
    "XOAUTH2": MechFlag.PLAINTEXT,
    "DOVECOT-TOKEN": MechFlag.PRIVATE,
}

# src/pop3/pop3-settings.c: pop3_client_workarounds
WORKAROUNDS = ("outlook-no-nuls", "oe-ns-eoh")


def parse_mechanisms(text: str) -> tuple[str, ...]:
    """``auth_mechanisms`` in the order the auth process registers them."""
    seen: list[str] = []
    for name in text.replace(",", " ").split():
        name = name.upper()
        if name not in seen:
            seen.append(name)
    return tuple(seen)


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in text.replace(",", " ").split():
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            # login-common/client-common.c logs "Invalid network" and stops there.
            break
    return tuple(nets)


@dataclass(frozen=True)
class Pop3Settings:
    """Everything pop3-login and pop3 read from dovecot.conf, typed."""

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
    # pop3 (pop3/pop3-settings.c, lib-storage/mail-storage-settings.c)
    pop3_uidl_format: str = "%08Xu%08Xv"
    pop3_logout_format: str = "top=%t/%p, retr=%r/%b, del=%d/%m, size=%s"
    pop3_delete_type: str = "default"
    pop3_deleted_flag: str = ""
    pop3_no_flag_updates: bool = False
    pop3_enable_last: bool = False
    pop3_lock_session: bool = False
    pop3_reuse_xuidl: bool = False
    pop3_save_uidl: bool = False
    pop3_uidl_duplicates: str = "allow"
    pop3_client_workarounds: frozenset[str] = field(default_factory=frozenset)
    mail_log_prefix: str = "%s(%u)<%{pid}><%{session}>: "
    mail_max_userip_connections: int = 10
    # Another server's personality on this engine (labserver.courier): its reply words
    # (keys may name the command: "USER +OK") and its whole CAPA reply; empty means
    # Dovecot's own.
    replies: Rewording = field(default_factory=Rewording, compare=False)
    capa_reply: bytes = b""

    @property
    def delete_by_flag(self) -> bool:
        """pop3-settings.c: ``default`` means flag when pop3_deleted_flag is set."""
        if self.pop3_delete_type == "default":
            return self.pop3_deleted_flag != ""
        return self.pop3_delete_type == "flag"

    @classmethod
    def from_config(cls, cfg: Any, *, local: str | None = None,
                    remote: str | None = None) -> Pop3Settings:
        """Read the settings one connection sees from a ``labserver.config.Config``."""

        def get(key: str) -> Any:
            return cfg.get(key, protocol="pop3", local=local, remote=remote)

        workarounds = frozenset(
            w for w in str(get("pop3_client_workarounds")).replace(",", " ").split()
            if w in WORKAROUNDS)
        return cls(
            login_greeting=str(get("login_greeting")),
            login_trusted_networks=parse_networks(str(get("login_trusted_networks"))),
            login_log_format_elements=str(get("login_log_format_elements")),
            login_log_format=str(get("login_log_format")),
            disable_plaintext_auth=bool(get("disable_plaintext_auth")),
            auth_verbose=bool(get("auth_verbose")),
            ssl=str(get("ssl")),
            auth_mechanisms=parse_mechanisms(str(get("auth_mechanisms"))),
            pop3_uidl_format=str(get("pop3_uidl_format")),
            pop3_logout_format=str(get("pop3_logout_format")),
            pop3_delete_type=str(get("pop3_delete_type")),
            pop3_deleted_flag=str(get("pop3_deleted_flag")),
            pop3_no_flag_updates=bool(get("pop3_no_flag_updates")),
            pop3_enable_last=bool(get("pop3_enable_last")),
            pop3_lock_session=bool(get("pop3_lock_session")),
            pop3_reuse_xuidl=bool(get("pop3_reuse_xuidl")),
            pop3_save_uidl=bool(get("pop3_save_uidl")),
            pop3_uidl_duplicates=str(get("pop3_uidl_duplicates")),
            pop3_client_workarounds=workarounds,
            mail_log_prefix=str(get("mail_log_prefix")),
            mail_max_userip_connections=int(get("mail_max_userip_connections")),
        )
