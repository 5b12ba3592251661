"""DIGEST-MD5 (RFC 2831, obsoleted by RFC 6331 but still in Dovecot 2.3): mech-digest-md5.c.

The server sends ``realm="...",nonce="...",qop="auth",charset="utf-8",
algorithm="md5-sess"``; the client answers with ``username``, ``realm``, ``nonce``,
``cnonce``, ``nc``, ``qop``, ``digest-uri`` and ``response``, an MD5 over
``H(user:realm:password)`` and both nonces. The server needs that inner hash: the
plaintext password or a ``{DIGEST-MD5}`` hash of exactly ``user:realm:password`` (so the
stored hash is tied to the realm). On success it proves itself with ``rspauth=``, which
imap-login and pop3-login send as one more challenge before the OK.

Only ``qop=auth`` is offered (no integrity or privacy layers), only ``nc=1`` accepted
(no re-authentication), and ``realm`` comes from ``auth_realms`` (empty when unset, which
Cyrus SASL clients need to see at least once). A realm the client gives is appended to a
user name without ``@``. Error texts are Dovecot's.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar

from .. import b64
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

QOP_NAMES = ("auth", "auth-int", "auth-conf")
QOP_AUTH = 1
_LWS = " \t"


def parse_next(data: str, pos: int) -> tuple[str | None, str, int]:
    """parse_next(): one ``key=value`` or ``key="quoted"``; key None when no ``=``."""
    n = len(data)
    while pos < n and data[pos] in _LWS:
        pos += 1
    start = pos
    while pos < n and data[pos] not in "=,":
        pos += 1
    if pos >= n or data[pos] != "=":
        return None, "", pos
    key = data[start:pos].rstrip(_LWS)
    pos += 1
    while pos < n and data[pos] in _LWS:
        pos += 1
    if pos >= n or data[pos] != '"':
        end = data.find(",", pos)
        end = n if end < 0 else end
        value = data[pos:end].rstrip(_LWS)
        return key, value, end + 1 if end < n else end
    pos += 1
    out = []
    while pos < n and data[pos] != '"':
        if data[pos] == "\\" and pos + 1 < n:
            pos += 1
        out.append(data[pos])
        pos += 1
    return key, "".join(out), pos + 1 if pos < n else pos


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


class DigestMD5(Mechanism):
    name: ClassVar[str] = "DIGEST-MD5"

    def __init__(self, params: MechParams | None = None) -> None:
        super().__init__(params)
        self.nonce = ""
        self.qop = QOP_AUTH
        self.realm: str | None = None
        self.fields: dict[str, str] = {}
        self.nonce_found = False
        self.authzid: str | None = None
        self.response = ""
        self.rspauth = b""

    def make_challenge(self) -> bytes:
        """get_digest_challenge()."""
        self.nonce = b64.encode(self._random(16))
        realms = self.params.realms or ("",)
        text = "".join(f'realm="{r}",' for r in realms)
        text += f'nonce="{self.nonce}",qop="auth",charset="utf-8",algorithm="md5-sess"'
        return text.encode()

    def _initial(self, data: bytes | None) -> Event:
        return Challenge(self.make_challenge())

    def _handle(self, key: str, value: str) -> str | None:
        """auth_handle_response(): None when fine, else the error."""
        key = key.lower()
        f = self.fields
        if key == "realm":
            if self.realm is None and value:
                self.realm = value
        elif key == "username":
            if "username" in f:
                return "username must not exist more than once"
            if not value:
                return "empty username"
            f["username"] = value
        elif key == "nonce":
            if value != self.nonce:
                return "Invalid nonce"
            self.nonce_found = True
        elif key == "cnonce":
            if "cnonce" in f:
                return "cnonce must not exist more than once"
            if not value:
                return "cnonce can't contain empty value"
            f["cnonce"] = value
        elif key == "nc":
            if "nc" in f:
                return "nonce-count must not exist more than once"
            if not (value.isascii() and value.isdigit()):
                return "nonce-count value invalid"
            if int(value) != 1:
                return "re-auth not supported currently"
            f["nc"] = value
        elif key == "qop":
            lowered = value.lower()
            if lowered not in QOP_NAMES:
                return f"Unknown QoP value: {value[:32]}"
            self.qop &= 1 << QOP_NAMES.index(lowered)
            if self.qop == 0:
                return "Nonallowed QoP requested"
            f["qop"] = value
        elif key == "digest-uri":
            if len(value.split("/")) < 2:
                return "Invalid digest-uri"
            f["digest-uri"] = value
        elif key == "maxbuf":
            if "maxbuf" in f:
                return "maxbuf must not exist more than once"
            if not (value.isascii() and value.isdigit()) or int(value) == 0:
                return "Invalid maxbuf value"
            f["maxbuf"] = value
        elif key == "charset":
            if value.lower() != "utf-8":
                return "Only utf-8 charset is allowed"
        elif key == "response":
            if len(value) != 32:
                return "Invalid response value"
            self.response = value
        elif key == "authzid":
            if self.authzid is not None:
                return "authzid must not exist more than once"
            if not value:
                return "empty authzid"
            self.authzid = value
        return None

    def _continue(self, data: bytes) -> Event:
        if self.username is not None:
            return Failure("invalid_input", AUTH_FAILED_MSG, "unexpected input")
        if not data:
            return Failure("invalid_input", AUTH_FAILED_MSG, "Client sent no input")
        text = data.decode("utf-8", "surrogateescape")
        pos = 0
        while pos < len(text):
            key, value, pos = parse_next(text, pos)
            if key is not None:
                error = self._handle(key, value)
                if error is not None:
                    return Failure("invalid_input", AUTH_FAILED_MSG, error)
            if pos < len(text) and text[pos] == ",":
                pos += 1
        if not self.nonce_found:
            return Failure("invalid_input", AUTH_FAILED_MSG, "Missing nonce parameter")
        if "cnonce" not in self.fields:
            return Failure("invalid_input", AUTH_FAILED_MSG, "Missing cnonce parameter")
        if "username" not in self.fields:
            return Failure("invalid_input", AUTH_FAILED_MSG, "Missing username parameter")
        user = self.fields["username"]
        if self.realm is not None and "@" not in user:
            user = f"{user}@{self.realm}"
        self.username = user
        return NeedCredentials(user, "DIGEST-MD5", self.authzid or "")

    def _credentials(self, raw: bytes) -> Event:
        """verify_credentials(): the RFC 2831 §2.1.2.1 response, then rspauth."""
        if len(raw) != 16:
            return Verdict(False, log="invalid credentials length")
        f = self.fields
        a1 = raw + f":{self.nonce}:{f['cnonce']}".encode()
        if self.authzid is not None:
            a1 += f":{self.authzid}".encode()
        a1_hex = _md5(a1).hex()
        nc = f.get("nc", "00000001")
        qop = f.get("qop", "auth")
        uri = f.get("digest-uri", "")
        digests = []
        for prefix in ("AUTHENTICATE:", ":"):
            a2_hex = _md5(f"{prefix}{uri}".encode()).hex()
            kd = f"{a1_hex}:{self.nonce}:{nc}:{f['cnonce']}:{qop}:{a2_hex}"
            digests.append(_md5(kd.encode()).hex())
        if not hmac.compare_digest(digests[0].encode(), self.response.encode().ljust(32, b"\0")):
            return Verdict(False)
        return Verdict(True, final=f"rspauth={digests[1]}".encode())


def client_response(username: str, password: str, challenge: bytes, cnonce: str,
                    digest_uri: str = "imap/localhost", realm: str = "") -> bytes:
    """What a client answers to ``challenge`` (for tests and notebooks)."""
    attrs: dict[str, str] = {}
    text = challenge.decode()
    pos = 0
    while pos < len(text):
        key, value, pos = parse_next(text, pos)
        if key is not None:
            attrs.setdefault(key, value)
        if pos < len(text) and text[pos] == ",":
            pos += 1
    nonce = attrs["nonce"]
    inner = _md5(f"{username}:{realm}:{password}".encode())
    a1_hex = _md5(inner + f":{nonce}:{cnonce}".encode()).hex()
    a2_hex = _md5(f"AUTHENTICATE:{digest_uri}".encode()).hex()
    resp = _md5(f"{a1_hex}:{nonce}:00000001:{cnonce}:auth:{a2_hex}".encode()).hex()
    return (f'username="{username}",realm="{realm}",nonce="{nonce}",cnonce="{cnonce}",'
            f'nc=00000001,qop=auth,digest-uri="{digest_uri}",response={resp},'
            'charset=utf-8').encode()
