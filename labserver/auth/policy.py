"""When plaintext authentication is allowed: ``disable_plaintext_auth`` and ``ssl``.

Dovecot's login processes (login-common/client-common.c, sasl-server.c,
client-common-auth.c) decide per connection:

* A connection is *secured* when it runs over TLS, when the client's IP is in
  ``login_trusted_networks``, or when the client's IP equals the server's (a local
  connection: 127.0.0.1 to 127.0.0.1 counts, 127.0.0.2 to 127.0.0.1 does not).
* ``ssl = required``: nothing may authenticate on an insecure connection, no
  mechanism is advertised there, and the IMAP LOGIN command is disabled.
* ``disable_plaintext_auth = yes`` (the default): plaintext mechanisms (PLAIN, LOGIN)
  and the LOGIN/USER+PASS commands are refused and hidden on insecure connections;
  CRAM-MD5 and other non-plaintext mechanisms stay available.

``auth_failure_delay`` (default 2 s) is how long a failed login waits before its
answer; the service layer sleeps that long, ``failure_delay(cfg)`` reads it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from .sasl.mech import is_plaintext

AUTH_FAILED_MSG = "Authentication failed."
AUTH_TEMP_FAILED_MSG = "Temporary authentication failure."
AUTH_PLAINTEXT_DISABLED_MSG = ("Plaintext authentication disallowed on non-secure (SSL/TLS) "
                               "connections.")
PLAINTEXT_DISABLED_SASL_MSG = "Plaintext authentication disabled."
SSL_REQUIRED_MSG = "Authentication not allowed until SSL/TLS is enabled."
PASSWORD_EXPOSED_MSG = ("Plaintext authentication not allowed without SSL/TLS, but your "
                        "client did it anyway. If anyone was listening, the password was "
                        "exposed.")


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed, or refused with the reply text and the IMAP response code."""

    allowed: bool
    reply: str = ""
    code: str = ""  # "PRIVACYREQUIRED" for both refusals in imap-login
    ssl_required: bool = False


def _setting(cfg: Any, key: str, protocol: str | None, default: Any) -> Any:
    try:
        return cfg.get(key, protocol=protocol)
    except (KeyError, TypeError):
        try:
            return cfg.get(key)
        except KeyError:
            return default


def _yes(value: Any) -> bool:
    return value is True or str(value).lower() in ("yes", "y", "1", "true")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0]) if text else None
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted(remote_ip: str, trusted_networks: str | list[str] | None) -> bool:
    """client_is_trusted(): the client is in ``login_trusted_networks``."""
    if not trusted_networks:
        return False
    nets = trusted_networks if isinstance(trusted_networks, list) else \
        trusted_networks.replace(",", " ").split()
    remote = _ip(remote_ip)
    if remote is None:
        return False
    for net in nets:
        try:
            network = ipaddress.ip_network(net, strict=False)
        except ValueError:
            break  # Dovecot logs "Invalid network" and stops looking
        if network.version == remote.version and remote in network:
            return True
    return False


def is_secured(local_ip: str, remote_ip: str, tls: bool,
               trusted_networks: str | list[str] | None = None) -> bool:
    """TLS, a trusted network, or the client's IP equal to the server's."""
    if tls or is_trusted(remote_ip, trusted_networks):
        return True
    local, remote = _ip(local_ip), _ip(remote_ip)
    return local is not None and local == remote


def ssl_required(cfg: Any, protocol: str | None = None) -> bool:
    return str(_setting(cfg, "ssl", protocol, "yes")) == "required"


def plaintext_allowed(cfg: Any, secured: bool, protocol: str | None = None) -> bool:
    """client_check_plaintext_auth(): may LOGIN / USER+PASS send a password here?"""
    if secured:
        return True
    return (not _yes(_setting(cfg, "disable_plaintext_auth", protocol, True))
            and not ssl_required(cfg, protocol))


def check_plaintext_login(cfg: Any, secured: bool, protocol: str | None = None) -> Decision:
    """The answer to a LOGIN command (IMAP) or USER/PASS (POP3) on this connection."""
    if plaintext_allowed(cfg, secured, protocol):
        return Decision(True)
    return Decision(False, AUTH_PLAINTEXT_DISABLED_MSG, "PRIVACYREQUIRED",
                    ssl_required=ssl_required(cfg, protocol))


def check_mechanism(cfg: Any, mech: str, secured: bool, protocol: str | None = None
                    ) -> Decision:
    """The answer to AUTHENTICATE/AUTH with ``mech`` before any data is exchanged."""
    if not secured and ssl_required(cfg, protocol):
        return Decision(False, SSL_REQUIRED_MSG, "PRIVACYREQUIRED", ssl_required=True)
    if mech.upper() not in mechanisms(cfg, protocol):
        return Decision(False, "Unsupported authentication mechanism.")
    if (not secured and _yes(_setting(cfg, "disable_plaintext_auth", protocol, True))
            and is_plaintext(mech)):
        return Decision(False, PLAINTEXT_DISABLED_SASL_MSG, "PRIVACYREQUIRED")
    return Decision(True)


def mechanisms(cfg: Any, protocol: str | None = None) -> list[str]:
    """``auth_mechanisms``, upper case, in order."""
    return str(_setting(cfg, "auth_mechanisms", protocol, "plain")).upper().split()


def advertised_mechanisms(cfg: Any, secured: bool, protocol: str | None = None) -> list[str]:
    """sasl_server_get_advertised_mechs(): the AUTH= capabilities to show."""
    if not secured and ssl_required(cfg, protocol):
        return []
    hide_plain = not secured and _yes(_setting(cfg, "disable_plaintext_auth", protocol, True))
    return [m for m in mechanisms(cfg, protocol) if not (hide_plain and is_plaintext(m))]


def login_command_disabled(cfg: Any, secured: bool, protocol: str | None = None) -> bool:
    """imap-login's is_login_cmd_disabled(): LOGINDISABLED in the capabilities."""
    if secured:
        return "PLAIN" not in mechanisms(cfg, protocol)
    return not plaintext_allowed(cfg, secured, protocol)


def failure_delay(cfg: Any, protocol: str | None = None) -> float:
    """``auth_failure_delay`` in seconds: the wait before answering a failed login."""
    return float(_setting(cfg, "auth_failure_delay", protocol, 2))
