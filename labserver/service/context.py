"""What every session of one lab shares: configuration, auth, storage, log, TLS.

Handlers get one ``LabContext``; a reload swaps in a new one for new sessions
while sessions already open keep the one they started with, as Dovecot's
processes keep their configuration until they exit.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..auth import Authenticator, AuthResult, policy
from ..auth.sasl import MECHANISMS, Challenge, Credentials, Failure
from ..config import Config
from ..config.resolve import PathResolver
from ..storage import open_storage
from ..storage.model import MailStorage
from .log import LogBook


@dataclass
class LabContext:
    """Shared state of one lab's sessions."""

    config: Config
    resolver: PathResolver
    log: LogBook
    run_dir: Path
    tls_contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    connections: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.auth = Authenticator(self.config, self.resolver)

    def tls(self, protocol: str) -> ssl.SSLContext | None:
        return self.tls_contexts.get(protocol)

    def secured(self, local_ip: str, remote_ip: str, tls: bool, protocol: str) -> bool:
        trusted = self.config.get("login_trusted_networks", protocol=protocol,
                                  remote=_net(remote_ip))
        return policy.is_secured(local_ip, remote_ip, tls, trusted)

    def failure_delay(self, protocol: str) -> float:
        return policy.failure_delay(self.config, protocol)

    # -- per-user connection limits (mail_max_userip_connections) ----------------

    def enter(self, protocol: str, user: str, remote_ip: str) -> int | None:
        """Count a logged-in session; returns the limit if it is exceeded (then not counted)."""
        limit = self.config.get("mail_max_userip_connections", protocol=protocol)
        key = (protocol, user, remote_ip)
        with self._lock:
            if limit and self.connections[key] >= limit:
                return limit
            self.connections[key] += 1
        return None

    def leave(self, protocol: str, user: str, remote_ip: str) -> None:
        key = (protocol, user, remote_ip)
        with self._lock:
            self.connections[key] -= 1
            if self.connections[key] <= 0:
                del self.connections[key]

    # -- authentication and mail -----------------------------------------------

    async def authenticate(self, username: str, password: str | bytes, *, protocol: str,
                           local_ip: str, remote_ip: str, session: str, mech: str,
                           secured: bool, authzid: str = "") -> AuthResult:
        """Check a password against the passdbs (in a worker thread: hashing is slow)."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, lambda: self.auth.authenticate(
            username, password, service=protocol, local_ip=local_ip, remote_ip=remote_ip,
            session=session, mech=mech, secured=secured, authzid=authzid))
        for line in result.log:
            self.log.log(f"{line.process}: ", line.level, line.message)
        return result

    def storage_for(self, result: AuthResult) -> MailStorage:
        """The mail storage of a logged-in user (home and mail from the userdb)."""
        assert result.user is not None
        home = result.home or ""
        return open_storage(self.config, result.user, home, self.resolver)


def _net(ip: str) -> str | None:
    return ip if ip and ":" not in ip else None


def start_mechanism(name: str, initial: bytes | None) -> tuple[object | None, object]:
    """Create a mechanism and feed it the initial response; (mechanism, first event)."""
    cls = MECHANISMS.get(name.upper())
    if cls is None:
        return None, Failure("unsupported", "Unsupported authentication mechanism.")
    mech = cls()
    return mech, mech.start(initial)


__all__ = ["Challenge", "Credentials", "Failure", "LabContext", "start_mechanism"]
