"""Which addresses and ports the lab listens on, from the configuration.

Dovecot opens the ``inet_listener`` blocks of each ``*-login`` service whose
protocol is in ``protocols``; ``port = 0`` means that listener is not opened, and
a listener without an ``address`` uses the global ``listen``. The lab adds two
things of its own, both reported in its listener table: it listens on loopback
when ``listen`` was left at Dovecot's default (``*, ::``), so a lab never exposes a
learner's server to the network by accident; and it maps ports (below 1024 a
normal user may not listen) by a policy: ``offset:N`` adds N to privileged ports,
``ephemeral`` lets the system pick free ports (for graders and tests running many
labs at once), ``exact`` uses the configured numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Config

DEFAULT_OFFSET = 10000


@dataclass(frozen=True, slots=True)
class PortPolicy:
    """How configured ports become real ports."""

    mode: str = "offset"  # "offset", "ephemeral" or "exact"
    offset: int = DEFAULT_OFFSET

    @classmethod
    def parse(cls, text: str) -> PortPolicy:
        """``offset``, ``offset:N``, ``ephemeral`` or ``exact``."""
        name, _, arg = text.partition(":")
        if name == "offset":
            if arg and not arg.isdigit():
                raise ValueError(f"invalid port offset: {arg}")
            return cls("offset", int(arg) if arg else DEFAULT_OFFSET)
        if name in ("ephemeral", "exact") and not arg:
            return cls(name)
        raise ValueError(f"invalid port policy {text!r}: use offset[:N], ephemeral or exact")

    def map(self, port: int) -> int:
        """The port to bind for a configured port (0 asks the system for a free one)."""
        if self.mode == "ephemeral":
            return 0
        if self.mode == "offset" and port < 1024 and os.geteuid() != 0:
            return port + self.offset
        return port


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """One socket to open: which service and listener it belongs to, and where."""

    protocol: str  # "imap" or "pop3"
    service: str  # "imap-login"
    name: str  # the inet_listener name, e.g. "imaps"
    address: str  # an IP address to bind
    configured_port: int
    port: int  # the port to bind (after mapping; 0 = let the system choose)
    ssl: bool  # implicit TLS (imaps/pop3s)
    haproxy: bool = False


SUPPORTED_PROTOCOLS = ("imap", "pop3")


def _addresses(text: str, explicit: bool) -> list[str]:
    out: list[str] = []
    for word in text.replace(",", " ").split():
        if word == "*":
            out.append("0.0.0.0" if explicit else "127.0.0.1")
        elif word in ("::", "[::]"):
            if explicit:
                out.append("::")
        else:
            out.append(word.strip("[]"))
    return list(dict.fromkeys(out))


def listener_specs(config: Config, policy: PortPolicy) -> list[ListenerSpec]:
    """Every socket the configuration asks for, in the order Dovecot lists them."""
    protocols = config.get("protocols").split()
    ssl_disabled = config.get("ssl") == "no"
    listen_explicit = config.global_store.is_changed("listen")
    specs: list[ListenerSpec] = []
    for service in config.sections("service"):
        protocol = service.get("protocol")
        if protocol not in protocols or protocol not in SUPPORTED_PROTOCOLS:
            continue
        if service.get("type") != "login":
            continue
        for listener in service.children("inet_listener"):
            port = listener.get("port")
            # Dovecot opens no implicit-TLS listener while the global ssl is "no".
            if port == 0 or (listener.get("ssl") and ssl_disabled):
                continue
            address_text = listener.get("address") or config.get("listen")
            explicit = bool(listener.get("address")) or listen_explicit
            for address in _addresses(address_text, explicit):
                specs.append(ListenerSpec(
                    protocol=protocol, service=service.get("name"), name=listener.get("name"),
                    address=address, configured_port=port, port=policy.map(port),
                    ssl=bool(listener.get("ssl")), haproxy=bool(listener.get("haproxy")),
                ))
    return specs
