"""APOP (RFC 1939 §7): POP3's own challenge-response, run as Dovecot's private mechanism.

pop3-login puts a timestamp in its greeting (``+OK Dovecot ready. <pid.uid.time.rand@host>``)
when ``auth_mechanisms`` lists ``apop``; the client answers ``APOP user
hex(MD5(timestamp + password))``. pop3-login hands the auth service
``timestamp NUL user NUL 16-byte digest`` as the initial response (mech-apop.c). The
server needs the plaintext password to repeat the MD5: any hash, even ``{CRAM-MD5}``,
fails with ``Requested PLAIN scheme, but we have only ...``.

The mechanism is private: never advertised in CAPA/CAPABILITY, refused through
AUTH/AUTHENTICATE. It trusts only its own timestamps: one that is not this connection's
is ``invalid challenge``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar

from .mech import AUTH_FAILED_MSG, Event, Failure, Mechanism, MechParams, NeedCredentials, Verdict


class Apop(Mechanism):
    name: ClassVar[str] = "APOP"

    def __init__(self, params: MechParams | None = None) -> None:
        super().__init__(params)
        self.challenge = b""
        self.digest = b""

    def _fail(self, log: str) -> Failure:
        return Failure("invalid_input", AUTH_FAILED_MSG, log)

    def _initial(self, data: bytes | None) -> Event:
        if not data:
            return self._fail("no initial response")
        challenge, sep, rest = data.partition(b"\0")
        if not sep:
            return self._fail("malformed data")
        user, sep, digest = rest.partition(b"\0")
        if not sep or len(digest) != 16:
            return self._fail("malformed data")
        expected = self.params.apop_challenge
        if expected is None or challenge != expected.encode():
            return self._fail("invalid challenge")
        self.challenge, self.digest = challenge, digest
        self.username = user.decode("utf-8", "surrogateescape")
        return NeedCredentials(self.username, "PLAIN")

    def _continue(self, data: bytes) -> Event:
        return self._fail("malformed data")

    def _credentials(self, raw: bytes) -> Event:
        digest = hashlib.md5(self.challenge + raw).digest()
        # mech-apop.c logs nothing on a mismatch (log="" keeps "Password mismatch" out).
        ok = hmac.compare_digest(digest, self.digest)
        return Verdict(ok, log=None if ok else "")


def digest(timestamp: str, password: str) -> str:
    """RFC 1939 §7: what the client sends after ``APOP user``."""
    return hashlib.md5((timestamp + password).encode()).hexdigest()
