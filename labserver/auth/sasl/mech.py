"""The mechanism base class, its events, the registry and the rule table (mech.c).

Each mechanism declares, as Dovecot's ``struct mech_module`` does, its security
flags (is it a plaintext mechanism, for ``disable_plaintext_auth``? may its data hold
NUL bytes?) and what it needs from the passdb: a plaintext check
(``verify_plain``: any passdb, any scheme) or stored credentials in one scheme
(``lookup_credentials``: CRAM-MD5 needs ``{CRAM-MD5}`` or a plaintext password).

Base64 is decoded here, with Dovecot's decoder, so every mechanism sees bytes; a
response of ``*`` cancels (RFC 3501 §6.2.2, RFC 5034 §4). Events say whose fault a
failure is: ``Failure.code`` is ``"invalid_base64"``, ``"aborted"``, ``"nul"`` or
``"invalid_input"``; ``reply`` is the text the protocol sends.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .. import b64

ABORTED_MSG = "Authentication aborted by client."
INVALID_BASE64_INITIAL = "Invalid base64 data in initial response"
INVALID_BASE64_CONTINUED = "Invalid base64 data in continued response"
AUTH_FAILED_MSG = "Authentication failed."


@dataclass(frozen=True, slots=True)
class Challenge:
    """Send ``+ base64(data)`` (IMAP) or ``+ base64(data)`` (POP3) and wait."""

    data: bytes

    @property
    def base64(self) -> str:
        return b64.encode(self.data)


@dataclass(frozen=True, slots=True)
class Credentials:
    """The client said who it is and its password: verify with the passdbs."""

    authcid: str
    password: str
    authzid: str = ""


@dataclass(frozen=True, slots=True)
class Failure:
    """The exchange ends unsuccessfully. ``log`` is what auth logs (mech prefix, Info)."""

    code: str
    reply: str
    log: str | None = None
    user: str | None = None  # the user name auth had accepted, which its FAIL reply names


@dataclass(frozen=True, slots=True)
class NeedCredentials:
    """Look up ``authcid``'s stored credentials in ``scheme``, then call
    ``mech.credentials(raw)`` (auth_request_lookup_credentials()).

    Challenge-response mechanisms never see a plaintext password, so they ask the passdb
    for what they can compute with: the plaintext itself or a scheme-specific hash
    (``{CRAM-MD5}``, ``{DIGEST-MD5}``, ``{SCRAM-SHA-256}``). A crypt hash or PAM cannot
    give that, and the login fails with ``Requested CRAM-MD5 scheme, but we have only
    SHA512-CRYPT`` in the log.
    """

    authcid: str
    scheme: str
    authzid: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The mechanism compared the client's response with the stored credentials.

    ``ok`` False with ``log`` None is a wrong password (logged ``Password mismatch``);
    with ``log`` set the response was malformed and ``log`` says how; ``log=""`` is a
    mismatch the mechanism does not log (APOP). ``final`` is the
    success data a mechanism sends back (SCRAM's ``v=``, DIGEST-MD5's ``rspauth=``):
    imap-login and pop3-login cannot carry it in the OK reply, so it goes out as one more
    challenge whose answer the server ignores (auth-request.c, ``final_resp_ok``).
    """

    ok: bool
    final: bytes = b""
    log: str | None = None


@dataclass(frozen=True, slots=True)
class Authorized:
    """The mechanism itself decided who logs in, without any passdb (ANONYMOUS)."""

    user: str
    log: str | None = None  # e.g. ``login``, logged with the name the client gave
    trace: str = ""


Event = Challenge | Credentials | Failure | NeedCredentials | Verdict | Authorized


@dataclass(frozen=True, slots=True)
class MechParams:
    """What some mechanisms need from settings and the connection.

    ``hostname`` goes into CRAM-MD5 challenges, ``realms`` (``auth_realms``) into
    DIGEST-MD5's, ``anonymous_username`` is ``auth_anonymous_username``,
    ``cert_username`` the name from a verified client certificate (EXTERNAL),
    ``apop_challenge`` the timestamp pop3-login put in its greeting, ``now`` the clock
    for CRAM-MD5's challenge and ``random`` a source of random bytes (tests fix both).
    """

    hostname: str = "localhost"
    realms: tuple[str, ...] = ()
    anonymous_username: str = "anonymous"
    cert_username: str | None = None
    apop_challenge: str | None = None
    now: Callable[[], float] | None = None
    random: Callable[[int], bytes] | None = None


@dataclass(frozen=True, slots=True)
class MechRule:
    """What a mechanism is, for policy and passdb planning (mech_module flags)."""

    plaintext: bool
    passdb_need: str  # "verify_plain", "lookup_credentials", "verify_response", "nothing"
    credentials_scheme: str = ""  # the scheme a credentials lookup asks for
    allow_nuls: bool = False
    dictionary: bool = False  # MECH_SEC_DICTIONARY: open to dictionary attacks
    active: bool = False  # MECH_SEC_ACTIVE
    mutual_auth: bool = False
    private: bool = False  # MECH_SEC_PRIVATE: only through a protocol command (APOP)


# mech-*.c flags and passdb_need, for every mechanism Dovecot 2.3 ships. The lab
# implements the ones in MECHANISMS; the others are here so policy and learners'
# questions ("does SCRAM need the plaintext?") have one answer.
MECH_RULES: dict[str, MechRule] = {
    "PLAIN": MechRule(True, "verify_plain", allow_nuls=True),
    "LOGIN": MechRule(True, "verify_plain"),
    "CRAM-MD5": MechRule(False, "verify_response", "CRAM-MD5", dictionary=True, active=True),
    "DIGEST-MD5": MechRule(False, "lookup_credentials", "DIGEST-MD5", dictionary=True,
                           active=True, mutual_auth=True),
    "SCRAM-SHA-1": MechRule(False, "lookup_credentials", "SCRAM-SHA-1", mutual_auth=True),
    "SCRAM-SHA-256": MechRule(False, "lookup_credentials", "SCRAM-SHA-256",
                              mutual_auth=True),
    "APOP": MechRule(False, "verify_response", "PLAIN", allow_nuls=True, dictionary=True,
                     active=True, private=True),
    "ANONYMOUS": MechRule(False, "nothing", allow_nuls=True),
    "EXTERNAL": MechRule(False, "verify_plain"),
    "OTP": MechRule(False, "set_credentials", "OTP", allow_nuls=True, dictionary=True,
                    active=True),
    "OAUTHBEARER": MechRule(True, "nothing"),
    "XOAUTH2": MechRule(True, "nothing"),
    "GSSAPI": MechRule(False, "nothing", allow_nuls=True),
    "GSS-SPNEGO": MechRule(False, "nothing", allow_nuls=True),
    "NTLM": MechRule(False, "nothing", allow_nuls=True, dictionary=True, active=True),
}


# What Dovecot 2.3.19 does when ``auth_mechanisms`` names a mechanism the lab does not
# run, and what it would need. The auth process checks the list when it starts
# (mech.c mech_register_init(), auth.c auth_mech_list_verify_passdb()); a fatal error
# there stops the auth process, and logins then hang until the client gives up.
UNKNOWN_MECH_FATAL = "Unknown authentication mechanism '{name}'"
CANT_SUPPORT_FATAL = "{name} mechanism can't be supported with given passdbs"
NO_PASSDBS_FATAL = "No passdbs specified in configuration file. {name} mechanism needs one"


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A mechanism the lab knows about but does not run: Dovecot's error and the why."""

    fatal: str  # the auth process's fatal error, ``{name}`` filled in
    needs: str  # what a real server would need for it


UNAVAILABLE: dict[str, Unavailable] = {
    "NTLM": Unavailable(
        UNKNOWN_MECH_FATAL,
        "auth_use_winbind = yes and Samba's ntlm_auth helper (winbind_helper_path, default "
        "/usr/bin/ntlm_auth) joined to a Windows domain; Dovecot's own NTLM code was "
        "removed in 2.3, only the winbind variant remains."),
    "GSS-SPNEGO": Unavailable(
        UNKNOWN_MECH_FATAL,
        "auth_use_winbind = yes (Samba's ntlm_auth), or Dovecot built with GSSAPI SPNEGO "
        "support and the Kerberos plugin (Debian: dovecot-gssapi), plus a keytab."),
    "GSSAPI": Unavailable(
        UNKNOWN_MECH_FATAL,
        "the GSSAPI plugin (Debian package dovecot-gssapi, lib_mech_gssapi), a Kerberos "
        "realm and a keytab with imap/ and pop/ service principals (auth_krb5_keytab, "
        "auth_gssapi_hostname)."),
    "RPA": Unavailable(
        UNKNOWN_MECH_FATAL,
        "nothing will do: Compuserve's RPA was removed from Dovecot (2.3 has no mech-rpa)."),
    "SKEY": Unavailable(
        UNKNOWN_MECH_FATAL,
        "nothing will do: S/KEY was removed in Dovecot 2.3 (OTP, RFC 2289, replaces it)."),
    "OTP": Unavailable(
        CANT_SUPPORT_FATAL,
        "a passdb that can store credentials back (set_credentials: sql with "
        "update_query) holding {OTP} one-time-password state; passwd-file, passwd, shadow "
        "and PAM cannot, so the auth process refuses to start."),
}


def startup_errors(mechanisms: list[str], passdb_needs: list[set[str]]) -> list[str]:
    """The fatal errors Dovecot's auth process stops with for this ``auth_mechanisms``.

    ``passdb_needs`` has, for each passdb, what its driver can do: ``verify_plain``,
    ``lookup_credentials``, ``set_credentials`` (pam: verify_plain only; passwd-file:
    both of the first; sql: all three). Dovecot reports the first problem only.
    """
    for name in (m.upper() for m in mechanisms):
        if name in UNAVAILABLE and UNAVAILABLE[name].fatal is UNKNOWN_MECH_FATAL:
            return [UNKNOWN_MECH_FATAL.format(name=name)]
        if name not in MECH_RULES:
            return [UNKNOWN_MECH_FATAL.format(name=name)]
    if not mechanisms:
        return ["No authentication mechanisms configured"]
    # mech_register_add() prepends, so the last listed mechanism is checked first.
    for name in reversed([m.upper() for m in mechanisms]):
        need = MECH_RULES[name].passdb_need
        wanted = {"verify_plain": {"verify_plain"},
                  "verify_response": {"lookup_credentials"},
                  "lookup_credentials": {"lookup_credentials"},
                  "set_credentials": {"lookup_credentials", "set_credentials"}}.get(need, set())
        if all(any(w in caps for caps in passdb_needs) for w in wanted):
            continue
        if not passdb_needs:
            return [NO_PASSDBS_FATAL.format(name=name)]
        return [CANT_SUPPORT_FATAL.format(name=name)]
    return []


def is_plaintext(mech: str) -> bool:
    """MECH_SEC_PLAINTEXT: hidden and refused on insecure connections by policy."""
    rule = MECH_RULES.get(mech.upper())
    return rule is not None and rule.plaintext


class Mechanism:
    """A SASL exchange in progress. Subclasses implement ``_initial`` and ``_continue``."""

    name: ClassVar[str] = ""

    def __init__(self, params: MechParams | None = None) -> None:
        self.finished = False
        self.params = params or MechParams()
        self.username: str | None = None  # known once the client said it (for the log)

    def credentials(self, raw: bytes) -> Event:
        """The passdb's answer to ``NeedCredentials``: the raw credentials in the scheme."""
        if self.finished:
            return Failure("invalid_input", AUTH_FAILED_MSG, "exchange already finished")
        return self._guard(self._credentials(raw))

    def _credentials(self, raw: bytes) -> Event:
        raise NotImplementedError

    def _random(self, size: int) -> bytes:
        return (self.params.random or secrets.token_bytes)(size)

    def _now(self) -> float:
        return (self.params.now or time.time)()

    @property
    def rule(self) -> MechRule:
        return MECH_RULES[self.name]

    def start(self, initial: str | bytes | None = None) -> Event:
        """Begin; ``initial`` is the SASL-IR base64 text, None if absent, ``=`` for empty."""
        if initial is None:
            return self._guard(self._initial(None))
        text = initial.decode("latin-1") if isinstance(initial, bytes) else initial
        # "*" cancels only a continued exchange: as an initial response it is bad base64.
        if text in ("", "="):
            data: bytes | None = b""
        else:
            data = b64.decode(text)
        if data is None:
            return self._end(Failure("invalid_base64", INVALID_BASE64_INITIAL,
                                     INVALID_BASE64_INITIAL))
        return self._feed(data, self._initial)

    def step(self, response: str | bytes) -> Event:
        """The client's next line (base64, or ``*`` to cancel)."""
        if self.finished:
            return Failure("invalid_input", AUTH_FAILED_MSG, "exchange already finished")
        text = response.decode("latin-1") if isinstance(response, bytes) else response
        text = text.rstrip("\r\n")
        if text == "*":
            return self._end(Failure("aborted", ABORTED_MSG))
        data = b64.decode(text)
        if data is None:
            return self._end(Failure("invalid_base64", INVALID_BASE64_CONTINUED,
                                     INVALID_BASE64_CONTINUED))
        return self._feed(data, self._continue)

    def _feed(self, data: bytes, handler: Callable[[bytes], Event]) -> Event:
        # auth_request_fail_on_nuls(): only mechanisms that allow NULs see them.
        if not self.rule.allow_nuls and b"\0" in data:
            return self._end(Failure("nul", AUTH_FAILED_MSG, "Unexpected NUL in auth data"))
        return self._guard(handler(data))

    def _guard(self, event: Event) -> Event:
        if not isinstance(event, Challenge | NeedCredentials):
            self.finished = True
        return event

    def _end(self, failure: Failure) -> Failure:
        self.finished = True
        return failure

    def _initial(self, data: bytes | None) -> Event:
        raise NotImplementedError

    def _continue(self, data: bytes) -> Event:
        raise NotImplementedError


def mech_generic_initial(mech: Mechanism, data: bytes | None) -> Event:
    """mech_generic_auth_initial(): an empty challenge, or the initial response at once."""
    if data is None:
        return Challenge(b"")
    return mech._continue(data)


def _registry() -> dict[str, type[Mechanism]]:
    from .anonymous import Anonymous
    from .apop import Apop
    from .cram_md5 import CramMD5
    from .digest_md5 import DigestMD5
    from .external import External
    from .login import Login
    from .plain import Plain
    from .scram import ScramSHA1, ScramSHA256

    return {"PLAIN": Plain, "LOGIN": Login, "CRAM-MD5": CramMD5, "DIGEST-MD5": DigestMD5,
            "SCRAM-SHA-1": ScramSHA1, "SCRAM-SHA-256": ScramSHA256, "APOP": Apop,
            "ANONYMOUS": Anonymous, "EXTERNAL": External}


MECHANISMS: dict[str, type[Mechanism]] = _registry()
