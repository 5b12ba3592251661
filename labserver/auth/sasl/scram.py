"""SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), the server side of mech-scram.c.

Four messages, two each way, all ``attr=value`` lists::

    C: n,,n=user,r=<client nonce>                      client-first
    S: r=<client nonce><server nonce>,s=<salt>,i=4096   server-first
    C: c=biws,r=<both nonces>,p=<ClientProof>          client-final
    S: v=<ServerSignature>                              server-final

The server stores, per user, the iteration count, the salt, ``StoredKey = H(ClientKey)``
and ``ServerKey`` (``{SCRAM-SHA-256}4096,salt,StoredKey,ServerKey``); from a plaintext
password it derives them on the spot. ClientProof is ClientKey XOR
HMAC(StoredKey, AuthMessage): the server recovers ClientKey, hashes it and compares with
StoredKey, so neither the password nor ClientKey is ever stored. ``v=`` proves to the
client that the server knows ServerKey (mutual authentication).

As Dovecot 2.3: channel binding (``p=`` in the GS2 header, the ``-PLUS`` variants) is
refused with ``Channel binding not supported``; ``y`` and ``n`` are accepted; mandatory
extensions (``m=``) are refused; the server nonce is 64 printable characters without
``,``. Error texts are mech-scram.c's.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar

from .. import b64
from ..schemes import SchemeError, scram_parse
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

SCRAM_SERVER_NONCE_LEN = 64


def unescape_username(text: str) -> str | None:
    """RFC 5802 §5.1: ``=2C`` is ``,`` and ``=3D`` is ``=``; any other ``=`` fails."""
    out = []
    i = 0
    while i < len(text):
        if text[i] == "=":
            code = text[i + 1:i + 3]
            if code == "2C":
                out.append(",")
            elif code == "3D":
                out.append("=")
            else:
                return None
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class _Scram(Mechanism):
    hash_name: ClassVar[str] = "sha1"

    def __init__(self, params: MechParams | None = None) -> None:
        super().__init__(params)
        self.gs2_header = ""
        self.cnonce = ""
        self.snonce = ""
        self.authzid = ""
        self.client_first_bare: str | None = None
        self.server_first = ""
        self.stored_key = b""
        self.server_key = b""

    @property
    def digest_size(self) -> int:
        return hashlib.new(self.hash_name).digest_size

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash_name).digest()

    def _initial(self, data: bytes | None) -> Event:
        if data is None:
            return Challenge(b"")
        return self._continue(data)

    def _continue(self, data: bytes) -> Event:
        text = data.decode("utf-8", "surrogateescape")
        if self.client_first_bare is None:
            return self._client_first(text)
        return self._client_final(text)

    def _fail(self, log: str) -> Failure:
        return Failure("invalid_input", AUTH_FAILED_MSG, log)

    def _client_first(self, text: str) -> Event:
        """parse_scram_client_first()."""
        first, sep, rest = text.partition(",")
        if not sep:
            return self._fail("Invalid initial client message: Missing first ',' in GS2 header")
        authzid, sep, bare = rest.partition(",")
        if not sep:
            return self._fail("Invalid initial client message: Missing second ',' in GS2 header")
        fields = bare.split(",")
        if len(fields) < 2:
            return self._fail("Invalid initial client message: Missing nonce field")
        username, nonce = fields[0], fields[1]
        if first.startswith("p"):
            return self._fail("Channel binding not supported")
        if not first.startswith(("y", "n")):
            return self._fail("Invalid GS2 header")
        login_user = None
        if authzid:
            if not authzid.startswith("a="):
                return self._fail("Invalid authzid field")
            login_user = unescape_username(authzid[2:])
            if login_user is None:
                return self._fail("authzid escaping is invalid")
        if username.startswith("m"):
            return self._fail("Mandatory extension(s) not supported")
        if not username.startswith("n="):
            return self._fail("Invalid username field")
        user = unescape_username(username[2:])
        if user is None:
            return self._fail("Username escaping is invalid")
        self.username = user
        if not nonce.startswith("r="):
            return self._fail("Invalid client nonce")
        self.cnonce = nonce[2:]
        self.authzid = login_user or ""
        self.gs2_header = text[:len(first) + 1 + len(authzid) + 1]
        self.client_first_bare = bare
        return NeedCredentials(user, self.name, self.authzid)

    def make_snonce(self) -> str:
        """64 printable characters from '!' to '}', ',' replaced by '~'."""
        chars = (chr(b % (ord("~") - ord("!")) + ord("!")) for b in
                 self._random(SCRAM_SERVER_NONCE_LEN))
        return "".join("~" if c == "," else c for c in chars)

    def _credentials(self, raw: bytes) -> Event:
        """credentials_callback(): parse the stored keys, send server-first."""
        try:
            iterations, salt, self.stored_key, self.server_key = scram_parse(
                raw, self.name, self.hash_name)
        except SchemeError as exc:
            return Verdict(False, log=str(exc))
        self.snonce = self.make_snonce()
        self.server_first = f"r={self.cnonce}{self.snonce},s={salt},i={iterations}"
        return Challenge(self.server_first.encode())

    def _auth_message(self, without_proof: str) -> bytes:
        assert self.client_first_bare is not None
        return ",".join((self.client_first_bare, self.server_first, without_proof)).encode(
            "utf-8", "surrogateescape")

    def _client_final(self, text: str) -> Event:
        """parse_scram_client_final() and verify_credentials()."""
        fields = text.split(",")
        if len(fields) < 3:
            return Verdict(False, log="Invalid final client message")
        if fields[0] != "c=" + b64.encode(self.gs2_header.encode("utf-8", "surrogateescape")):
            return Verdict(False, log="Invalid channel binding data")
        if fields[1] != f"r={self.cnonce}{self.snonce}":
            return Verdict(False, log="Wrong nonce")
        last = fields[-1]
        if not last.startswith("p"):
            return Verdict(False, log="Invalid ClientProof")
        proof = b64.decode(last[2:])
        if proof is None:
            return Verdict(False, log="Invalid base64 encoding")
        if len(proof) != self.digest_size:
            return Verdict(False, log="Invalid ClientProof length")
        auth_message = self._auth_message(",".join(fields[:-1]))
        signature = self._hmac(self.stored_key, auth_message)
        client_key = bytes(p ^ s for p, s in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self.hash_name, client_key).digest(),
                                   self.stored_key):
            return Verdict(False)
        server_signature = self._hmac(self.server_key, auth_message)
        return Verdict(True, final=b"v=" + b64.encode(server_signature).encode())


class ScramSHA1(_Scram):
    name: ClassVar[str] = "SCRAM-SHA-1"
    hash_name: ClassVar[str] = "sha1"


class ScramSHA256(_Scram):
    name: ClassVar[str] = "SCRAM-SHA-256"
    hash_name: ClassVar[str] = "sha256"


class ScramClient:
    """The client side, for tests and notebooks (RFC 5802 §3)."""

    def __init__(self, hash_name: str, username: str, password: str, cnonce: str,
                 authzid: str = "", gs2_flag: str = "n") -> None:
        self.hash_name = hash_name
        self.password = password.encode()
        user = username.replace("=", "=3D").replace(",", "=2C")
        azid = f"a={authzid}" if authzid else ""
        self.gs2 = f"{gs2_flag},{azid},"
        self.bare = f"n={user},r={cnonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        return (self.gs2 + self.bare).encode()

    def final(self, server_first: bytes) -> bytes:
        attrs = dict(a.split("=", 1) for a in server_first.decode().split(","))
        salt = b64.decode(attrs["s"]) or b""
        salted = hashlib.pbkdf2_hmac(self.hash_name, self.password, salt, int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", self.hash_name).digest()
        stored_key = hashlib.new(self.hash_name, client_key).digest()
        server_key = hmac.new(salted, b"Server Key", self.hash_name).digest()
        without = f"c={b64.encode(self.gs2.encode())},r={attrs['r']}"
        auth_message = f"{self.bare},{server_first.decode()},{without}".encode()
        signature = hmac.new(stored_key, auth_message, self.hash_name).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self.server_signature = hmac.new(server_key, auth_message, self.hash_name).digest()
        return f"{without},p={b64.encode(proof)}".encode()
