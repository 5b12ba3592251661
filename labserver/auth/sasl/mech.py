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


Event = Challenge | Credentials | Failure


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
                     active=True),
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


def is_plaintext(mech: str) -> bool:
    """MECH_SEC_PLAINTEXT: hidden and refused on insecure connections by policy."""
    rule = MECH_RULES.get(mech.upper())
    return rule is not None and rule.plaintext


class Mechanism:
    """A SASL exchange in progress. Subclasses implement ``_initial`` and ``_continue``."""

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        self.finished = False

    @property
    def rule(self) -> MechRule:
        return MECH_RULES[self.name]

    def start(self, initial: str | bytes | None = None) -> Event:
        """Begin; ``initial`` is the SASL-IR base64 text, None if absent, ``=`` for empty."""
        if initial is None:
            return self._guard(self._initial(None))
        text = initial.decode("latin-1") if isinstance(initial, bytes) else initial
        if text == "*":
            return self._end(Failure("aborted", ABORTED_MSG))
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
        if not isinstance(event, Challenge):
            self.finished = True
        return event

    def _end(self, failure: Failure) -> Failure:
        self.finished = True
        return failure

    def _initial(self, data: bytes | None) -> Event:
        raise NotImplementedError

    def _continue(self, data: bytes) -> Event:
        raise NotImplementedError


def _registry() -> dict[str, type[Mechanism]]:
    from .login import Login
    from .plain import Plain

    return {"PLAIN": Plain, "LOGIN": Login}


MECHANISMS: dict[str, type[Mechanism]] = _registry()
