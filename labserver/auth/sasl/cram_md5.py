"""CRAM-MD5 (RFC 2195): the server sends a challenge, the client answers with an HMAC.

Dovecot's mech-cram-md5.c: the challenge is ``<16 random digits.unix-time@hostname>``,
sent at once (an initial response is ignored). The client answers
``username SP hex(HMAC-MD5(password, challenge))``; the rightmost space separates the
two, since a user name may hold spaces. The server then asks the passdb for the
``CRAM-MD5`` credentials: a plaintext password (HMAC computed on the spot) or a
``{CRAM-MD5}`` hash, which stores the HMAC's inner and outer MD5 states, enough to
compute the answer without the password (see ``hmac_md5.py``). A crypt hash or PAM
cannot help: the digest can only be checked by whoever knows the key.
"""

from __future__ import annotations

import hmac
from typing import ClassVar

from ..hmac_md5 import CONTEXT_LEN, hmac_from_context
from .mech import (
    AUTH_FAILED_MSG,
    Challenge,
    Event,
    Failure,
    Mechanism,
    MechParams,
    NeedCredentials,
    Verdict,
)


class CramMD5(Mechanism):
    name: ClassVar[str] = "CRAM-MD5"

    def __init__(self, params: MechParams | None = None) -> None:
        super().__init__(params)
        self.challenge = ""
        self.response = ""

    def make_challenge(self) -> str:
        """get_cram_challenge(): 16 decimal digits from random bytes, time, hostname."""
        digits = "".join(str(b % 10) for b in self._random(16))
        return f"<{digits}.{int(self._now())}@{self.params.hostname}>"

    def _initial(self, data: bytes | None) -> Event:
        self.challenge = self.make_challenge()
        return Challenge(self.challenge.encode())

    def _continue(self, data: bytes) -> Event:
        # parse_cram_response(): the NUL check is Dovecot's own message here, since
        # CRAM-MD5 is not MECH_SEC_ALLOW_NULS the generic check catches NULs first.
        space = data.rfind(b" ")
        if space <= 0:
            return Failure("invalid_input", AUTH_FAILED_MSG, "missing digest")
        self.username = data[:space].decode("utf-8", "surrogateescape")
        self.response = data[space + 1:].decode("latin-1")
        return NeedCredentials(self.username, "CRAM-MD5")

    def _credentials(self, raw: bytes) -> Event:
        if len(raw) != CONTEXT_LEN:
            return Verdict(False, log="invalid credentials length")
        digest = hmac_from_context(raw, self.challenge.encode()).hex()
        # mem_equals_timing_safe() over 32 bytes: a longer response still matches on them
        return Verdict(hmac.compare_digest(digest.encode(), self.response[:32].encode()))


def response(username: str, password: str | bytes, challenge: str | bytes) -> bytes:
    """What a client sends (RFC 2195 §2): ``user SP hex-digest``, not yet base64."""
    key = password.encode() if isinstance(password, str) else password
    msg = challenge.encode() if isinstance(challenge, str) else challenge
    return username.encode() + b" " + hmac.new(key, msg, "md5").hexdigest().encode()
