"""What every session of one lab shares: configuration, auth, storage, log, TLS.

Handlers get one ``LabContext``; a reload swaps in a new one for new sessions
while sessions already open keep the one they started with, as Dovecot's
processes keep their configuration until they exit.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..auth import Authenticator, AuthResult, CredentialsLookup, b64, policy
from ..auth.passdb import PassdbResult
from ..auth.request import AuthRequest as AuthdRequest
from ..auth.sasl import MECHANISMS, Challenge, Credentials, Failure
from ..auth.sasl.mech import (
    AUTH_FAILED_MSG,
    INVALID_BASE64_CONTINUED,
    Authorized,
    Mechanism,
    MechParams,
    NeedCredentials,
    Verdict,
)
from ..auth.sasl.mech import startup_errors as mechanism_startup_errors
from ..config import Config
from ..config.resolve import PathResolver
from ..storage import open_storage
from ..storage.model import MailStorage
from ..tls.client_cert import ClientCert, client_cert
from .log import LogBook

# service_monitor_throttle() in Dovecot's master: the first failed start of a service waits
# 2 seconds before the next, then twice as long each time, at most a minute.
CERT_REQUIRED_MSG = "Client didn't present valid SSL certificate"
AUTH_THROTTLE_MIN = 2.0
AUTH_THROTTLE_MAX = 60.0

# The protocol of the session running in this asyncio task ("imap", "pop3"), set by the
# session driver at login: settings in a protocol {} block (mail_location, namespaces)
# apply to that session's storage, as in Dovecot's imap and pop3 processes.
SESSION_PROTOCOL: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "session_protocol", default=None)
# A password check faster than this runs on the event loop (LabContext.authenticate).
QUICK_AUTH = 0.001


@dataclass
class LabContext:
    """Shared state of one lab's sessions."""

    config: Config
    resolver: PathResolver
    log: LogBook
    run_dir: Path
    tls_contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    # Why TLS cannot start for a protocol: Dovecot still starts and advertises STARTTLS,
    # and each TLS connection then fails with this error in the login process's log.
    tls_errors: dict[str, str] = field(default_factory=dict)
    connections: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # User names whose last password check took under QUICK_AUTH (see authenticate).
    _quick_auth: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.auth = Authenticator(self.config, self.resolver)
        fatal = mechanism_startup_errors(self.config.get("auth_mechanisms").split(),
                                         [_capabilities(e.driver) for e in self.auth.passdbs])
        # Dovecot starts all the same: its auth process dies with this message each time
        # the master starts it for a login process (see auth_process_start).
        self.auth_fatal: str | None = fatal[0] if fatal else None
        self._auth_throttle = 0.0
        self._auth_next_start = 0.0
        self._auth_last_start = -1.0

    async def auth_process_start(self) -> float:
        """A login process needs the auth process, which cannot start (``auth_fatal``).

        As Dovecot's master: a start attempt now, or at the end of the throttle the last
        failure set (2 s, doubling up to 60 s); each attempt logs the auth process's Fatal
        line and the master's throttling line. Clients arriving during a throttle wait
        for the next attempt. Returns the seconds this client waited.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._auth_next_start)
        attempt = start > self._auth_last_start
        if attempt:
            self._auth_last_start = start
            self._auth_throttle = min(AUTH_THROTTLE_MAX, self._auth_throttle * 2
                                      or AUTH_THROTTLE_MIN)
            self._auth_next_start = start + self._auth_throttle
            throttle = self._auth_throttle
        await asyncio.sleep(start - now)
        if attempt:
            self.log.log("auth: ", "Fatal", str(self.auth_fatal))
            self.log.error("master: ", "service(auth): command startup failed, throttling "
                                       f"for {throttle:.3f} secs")
        return loop.time() - now

    def client_cert(self, ssl_object: ssl.SSLObject | None) -> ClientCert:
        """What the client's TLS certificate allows (nothing on a plaintext connection)."""
        if ssl_object is None:
            return ClientCert()
        field = str(_setting(self.config, "ssl_cert_username_field", "commonName"))
        return client_cert(ssl_object, field)

    def cert_refusal(self, cert: ClientCert, *, protocol: str, mech: str, local_ip: str,
                     remote_ip: str, session: str, secured: bool) -> Failure | None:
        """auth_ssl_require_client_cert: Dovecot's auth process fails every request of a
        connection without a valid certificate, before the mechanism starts."""
        if cert.valid or not _yes(_setting(self.config, "auth_ssl_require_client_cert",
                                           False)):
            return None
        request = self.auth.new_request(service=protocol, local_ip=local_ip,
                                        remote_ip=remote_ip, session=session, mech=mech,
                                        secured=secured)
        request.mech_log("Info", CERT_REQUIRED_MSG)
        self._log_lines(request.log)
        return Failure("authfailed_reason", CERT_REQUIRED_MSG)

    def cert_username(self, cert: ClientCert) -> str | None:
        """auth_ssl_username_from_cert: the certificate's name replaces the one the client
        gives (and is the user of EXTERNAL)."""
        if cert.valid and cert.name and _yes(_setting(self.config,
                                                      "auth_ssl_username_from_cert", False)):
            return cert.name
        return None

    def tls(self, protocol: str) -> ssl.SSLContext | None:
        return self.tls_contexts.get(protocol)

    def tls_offered(self, protocol: str) -> bool:
        """STARTTLS is advertised: TLS is configured, even when it cannot start."""
        return protocol in self.tls_contexts or protocol in self.tls_errors

    def secured(self, local_ip: str, remote_ip: str, tls: bool, protocol: str) -> bool:
        trusted = self.config.get("login_trusted_networks", protocol=protocol,
                                  remote=_net(remote_ip))
        return policy.is_secured(local_ip, remote_ip, tls, trusted)

    def failure_delay(self, protocol: str) -> float:
        return policy.failure_delay(self.config, protocol)

    def personalize(self, settings: Any) -> Any:
        """A protocol engine's settings as this lab's server gives them (another server's
        personality, such as Courier's, rewrites them; Dovecot's are the engines' own)."""
        return settings

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
        """Check a password against the passdbs.

        Hashing can be slow (SHA512-CRYPT, bcrypt), so a check runs in a worker thread,
        unless the last one for this user name took under ``QUICK_AUTH`` seconds (a PLAIN
        or cheap scheme): then it runs here, on the loop. A quick check costs less than
        the hand-over, and a worker holding the interpreter lock makes the loop wait up
        to the switch interval (5 ms) after each of its socket calls."""
        def check() -> tuple[AuthResult, float]:
            start = time.perf_counter()
            result = self.auth.authenticate(
                username, password, service=protocol, local_ip=local_ip,
                remote_ip=remote_ip, session=session, mech=mech, secured=secured,
                authzid=authzid)
            return result, time.perf_counter() - start

        if username in self._quick_auth:
            result, took = check()
        else:
            result, took = await asyncio.get_running_loop().run_in_executor(None, check)
        with self._lock:
            if took < QUICK_AUTH:
                self._quick_auth.add(username)
            else:
                self._quick_auth.discard(username)
        for line in result.log:
            self.log.log(f"{line.process}: ", line.level, line.message)
        return result

    # -- SASL exchanges with credentials lookups (CRAM-MD5, SCRAM, DIGEST-MD5, APOP) ----

    def start_sasl(self, name: str, initial: bytes | None, *, protocol: str, local_ip: str,
                   remote_ip: str, session: str, secured: bool,
                   apop_challenge: str | None = None, cert_username: str | None = None
                   ) -> tuple[SaslExchange | None, object]:
        """A mechanism with this lab's parameters, fed the initial response."""
        cls = MECHANISMS.get(name.upper())
        if cls is None:
            return None, Failure("unsupported", "Unsupported authentication mechanism.")
        params = MechParams(
            hostname=socket.gethostname(),
            realms=tuple(str(_setting(self.config, "auth_realms", "")).split()),
            anonymous_username=str(_setting(self.config, "auth_anonymous_username",
                                            "anonymous")),
            cert_username=cert_username, apop_challenge=apop_challenge)
        mech = cls(params)
        exchange = SaslExchange(mech, protocol, local_ip, remote_ip, session, secured,
                                cert_user=cert_username)
        return exchange, mech.start(initial)

    async def sasl_continue(self, exchange: SaslExchange, data: bytes) -> object:
        """The client's next line: to the mechanism, or the answer to a final challenge."""
        if exchange.pending is not None:
            # auth_request_continue() after success: any valid base64 finishes the login.
            if b64.decode(data.decode("latin-1")) is None:
                return Failure("invalid_base64", INVALID_BASE64_CONTINUED,
                               INVALID_BASE64_CONTINUED)
            return exchange.pending
        return await self.sasl_resolve(exchange, exchange.mech.step(data))

    async def sasl_resolve(self, exchange: SaslExchange, event: object) -> object:
        """Run the passdb work a mechanism asks for until it needs the client again.

        Returns a ``Challenge`` to send, a ``Failure`` to reply, ``Credentials`` for a
        plaintext check (``authenticate``), or the ``AuthResult`` of a finished login.
        """
        loop = asyncio.get_running_loop()
        while True:
            if isinstance(event, Challenge) and self._login_name_refused(exchange):
                return self._logged(self.auth.finish(CredentialsLookup(
                    exchange.lookup_request, PassdbResult.USER_UNKNOWN), False))
            if isinstance(event, NeedCredentials):
                lookup = await loop.run_in_executor(None, lambda e=event: self._lookup(
                    exchange, e))
                if lookup.result is not PassdbResult.OK or lookup.credentials is None:
                    return self._logged(self.auth.finish(lookup, False))
                exchange.lookup = lookup
                event = exchange.mech.credentials(lookup.credentials)
            elif isinstance(event, Verdict):
                return self._verdict(exchange, event)
            elif isinstance(event, Authorized):
                request = self._request(exchange)
                request.user = exchange.mech.username or ""
                if event.log:
                    request.mech_log("Info", event.log)
                return self._logged(self.auth.authorize(request, event.user))
            elif isinstance(event, Failure):
                if event.log and event.code != "aborted":
                    request = exchange.lookup.request if exchange.lookup else \
                        self._request(exchange)
                    # the name as auth accepted it (LOGIN: after auth_username_format)
                    request.user = exchange.lookup_request.user if exchange.lookup_request \
                        else exchange.mech.username
                    # auth_request_fail_on_nuls() logs at debug level only
                    request.mech_log("Debug" if event.code == "nul" else "Info", event.log)
                    self._log_lines(request.log)
                if exchange.lookup_request is not None and event.code not in (
                        "aborted", "invalid_base64"):
                    # LOGIN's user name was accepted: the mechanism's failure names it (bad
                    # base64 is refused before the mechanism, without a name)
                    return replace(event, user=exchange.lookup_request.user)
                return event
            else:
                return event

    def _login_name_refused(self, exchange: SaslExchange) -> bool:
        """mech-login.c checks the user name as soon as it arrives (before asking for the
        password): an empty or disallowed name fails the exchange there."""
        mech = exchange.mech
        if mech.name != "LOGIN" or mech.username is None or exchange.lookup_request:
            return False
        request = exchange.lookup_request = self._request(exchange)
        if self.auth.set_username(request, exchange.cert_user or mech.username):
            return False
        self._log_lines(request.log)
        request.log.clear()
        return True

    def _request(self, exchange: SaslExchange) -> AuthdRequest:
        return self.auth.new_request(service=exchange.protocol, local_ip=exchange.local_ip,
                                     remote_ip=exchange.remote_ip, session=exchange.session,
                                     mech=exchange.mech.name, secured=exchange.secured)

    def _lookup(self, exchange: SaslExchange, event: NeedCredentials) -> CredentialsLookup:
        request = self._request(exchange)
        if event.authzid and event.authzid != event.authcid:
            # As authenticate(): master user logins are not modelled yet.
            request.user = event.authcid
            request.mech_log("Info", "login user: Master user logins are not supported "
                                     "by the lab")
            return CredentialsLookup(request, PassdbResult.USER_UNKNOWN)
        return self.auth.lookup_credentials(exchange.cert_user or event.authcid, event.scheme,
                                            request=request)

    def _verdict(self, exchange: SaslExchange, verdict: Verdict) -> object:
        lookup = exchange.lookup
        assert lookup is not None
        if not verdict.ok:
            # The mechanism logs the mismatch under its own name (mech_event), not the
            # passdb's: "cram-md5(alice,...): Password mismatch".
            if verdict.log != "":
                lookup.request.mech_log("Info", verdict.log or "Password mismatch")
            failed = CredentialsLookup(lookup.request, PassdbResult.PASSWORD_MISMATCH)
            return self._logged(self.auth.finish(failed, True))
        result = self._logged(self.auth.finish(lookup, True))
        if result.success and verdict.final:
            exchange.pending = result
            return Challenge(verdict.final)
        return result

    def _logged(self, result: AuthResult) -> AuthResult:
        self._log_lines(result.log)
        return result

    def _log_lines(self, lines: list) -> None:
        for line in lines:
            self.log.log(f"{line.process}: ", line.level, line.message)

    def storage_for(self, result: AuthResult) -> MailStorage:
        """The mail storage of a logged-in user (home and mail from the userdb)."""
        assert result.user is not None
        home = result.home or ""
        return open_storage(self.config, result.user, home, self.resolver,
                            protocol=SESSION_PROTOCOL.get(), mail=result.mail)


@dataclass
class SaslExchange:
    """One SASL exchange of a session: the mechanism and what auth has found so far."""

    mech: Mechanism
    protocol: str
    local_ip: str
    remote_ip: str
    session: str
    secured: bool
    lookup: CredentialsLookup | None = None
    cert_user: str | None = None  # auth_ssl_username_from_cert's name, if any
    lookup_request: AuthdRequest | None = None  # LOGIN: where its user name was checked
    pending: AuthResult | None = None  # success waiting for the final challenge's answer

    def step(self, data: bytes) -> object:
        return self.mech.step(data)


def _setting(cfg: Config, key: str, default: object) -> object:
    try:
        value = cfg.get(key)
    except KeyError:
        return default
    return default if value is None else value


def _yes(value: object) -> bool:
    return value is True or str(value).lower() in ("yes", "y", "1", "true")


def _capabilities(driver: object) -> set[str]:
    """What a passdb driver can do, in the terms of Dovecot's mechanism checks."""
    caps = {"verify_plain"}
    if hasattr(driver, "lookup_credentials"):
        caps.add("lookup_credentials")
    if hasattr(driver, "set_credentials"):
        caps.add("set_credentials")
    return caps


def _net(ip: str) -> str | None:
    return ip if ip and ":" not in ip else None


__all__ = ["AUTH_FAILED_MSG", "Challenge", "Credentials", "Failure", "LabContext",
           "SaslExchange"]
