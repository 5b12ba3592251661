"""Password schemes: Dovecot's ``{SCHEME}`` hashes, verified and generated.

A stored password is ``{SCHEME}data`` (or bare data, which is read with the passdb's
``default_pass_scheme``); a scheme name may carry an encoding, ``{SHA256.HEX}`` or
``{SHA256.B64}``. This mirrors src/auth/password-scheme.c: each scheme has a default
encoding, a fixed raw length (or 0), a generator and optionally its own verifier; the
generic verifier generates from the plaintext and compares. When a scheme has a fixed
raw length and no explicit encoding, the encoding is guessed from the length (hex is
exactly twice the raw length), as Dovecot does.

The crypt family (``{CRYPT}``, ``{MD5-CRYPT}``, ``{SHA256-CRYPT}``, ``{SHA512-CRYPT}``,
``{BLF-CRYPT}``, ``{DES-CRYPT}``) goes through libpass (the maintained fork of passlib)
with the bcrypt backend, instead of the system's ``crypt(3)``: the lab behaves the same
on every machine. A crypt hash that no library here can compute (for example Debian's
yescrypt ``$y$``) is an error that says so, never a silent mismatch.

Errors use Dovecot's words: ``Unknown scheme``, ``Input isn't valid base64 encoded
data``, ``Input length isn't valid (5 instead of 32)``, ``SSHA password is too short``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from passlib.hash import bcrypt as _bcrypt
from passlib.hash import des_crypt as _des_crypt
from passlib.hash import md5_crypt as _md5_crypt
from passlib.hash import sha256_crypt as _sha256_crypt
from passlib.hash import sha512_crypt as _sha512_crypt

from . import b64
from .hmac_md5 import CONTEXT_LEN, cram_context

# password-scheme.c: the salt alphabet of generated crypt salts.
SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PASSWORD_MISMATCH = "Password mismatch"  # AUTH_LOG_MSG_PASSWORD_MISMATCH


class SchemeError(Exception):
    """A stored password that cannot be used; ``str()`` is Dovecot's message."""


class UnknownScheme(SchemeError):
    """The scheme name is not one this lab knows."""

    def __init__(self, scheme: str) -> None:
        super().__init__("Unknown scheme")
        self.scheme = scheme


class InvalidPasswordData(SchemeError):
    """The data does not fit the scheme (bad base64/hex, wrong length, too short)."""


class SchemeNotAvailable(SchemeError):
    """A credentials lookup wanted a scheme the stored password cannot give."""


@dataclass(frozen=True, slots=True)
class GenerateParams:
    """What some schemes need besides the password (password_generate_params)."""

    user: str = ""
    rounds: int = 0


Generator = Callable[[bytes, GenerateParams], bytes]
Verifier = Callable[[bytes, GenerateParams, bytes], bool]


@dataclass(frozen=True, slots=True)
class Scheme:
    """One password scheme: name, default encoding, fixed raw length (0 = any)."""

    name: str
    encoding: str  # "none", "base64" or "hex"
    raw_length: int
    generate: Generator
    verify: Verifier | None = None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _salt(length: int) -> str:
    return "".join(secrets.choice(SALT_CHARS) for _ in range(length))


# --- the plain and digest schemes -----------------------------------------------------

def _plain_generate(plaintext: bytes, params: GenerateParams) -> bytes:
    return plaintext


def _plain_verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
    return hmac.compare_digest(plaintext, raw)


def _plain_trunc_verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
    # format: <length>-<password>; a longer given password matches on the prefix.
    digits = 0
    while digits < len(raw) and raw[digits:digits + 1].isdigit():
        digits += 1
    if digits == len(raw) or raw[digits:digits + 1] != b"-":
        raise InvalidPasswordData("PLAIN-TRUNC missing length: prefix")
    trunc_len = int(raw[:digits] or b"0")
    stored = raw[digits + 1:]
    if len(stored) == trunc_len and len(plaintext) >= trunc_len:
        return hmac.compare_digest(stored, plaintext[:trunc_len])
    return hmac.compare_digest(stored, plaintext)


def _digest(algorithm: str) -> Generator:
    def generate(plaintext: bytes, params: GenerateParams) -> bytes:
        return hashlib.new(algorithm, plaintext).digest()
    return generate


def _salted(algorithm: str, label: str) -> tuple[Generator, Verifier]:
    """SSHA, SSHA256, SSHA512, SMD5: <hash(password + salt)><salt>, 4 random salt bytes."""
    size = hashlib.new(algorithm).digest_size

    def generate(plaintext: bytes, params: GenerateParams) -> bytes:
        salt = secrets.token_bytes(4)
        return hashlib.new(algorithm, plaintext + salt).digest() + salt

    def verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
        if len(raw) <= size:
            raise InvalidPasswordData(f"{label} password is too short")
        digest = hashlib.new(algorithm, plaintext + raw[size:]).digest()
        return hmac.compare_digest(digest, raw[:size])

    return generate, verify


def _cram_md5_generate(plaintext: bytes, params: GenerateParams) -> bytes:
    return cram_context(plaintext)


def _digest_md5_generate(plaintext: bytes, params: GenerateParams) -> bytes:
    # user@realm: the realm is after the last '@' (user@domain@realm keeps the domain).
    user, at, realm = params.user.rpartition("@")
    if not at:
        user, realm = params.user, ""
    return hashlib.md5(f"{user}:{realm}:".encode() + plaintext).digest()


def _pbkdf2_run(plaintext: bytes, salt: str, rounds: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha1", plaintext, salt.encode("utf-8", "surrogateescape"),
                               rounds, 20)


def _pbkdf2_generate(plaintext: bytes, params: GenerateParams) -> bytes:
    # password-scheme-pbkdf2.c: $1$<16 salt chars>$<rounds>$<40 hex digits>, SHA-1.
    rounds = params.rounds or 5000
    salt = _salt(16)
    return f"$1${salt}${rounds}${_pbkdf2_run(plaintext, salt, rounds).hex()}".encode()


def _pbkdf2_verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
    if not raw.startswith(b"$1$"):
        raise InvalidPasswordData("Invalid PBKDF2 passdb entry prefix")
    fields = _text(raw[3:]).split("$")
    if len(fields) != 3 or not fields[1].isascii() or not fields[1].isdigit():
        raise InvalidPasswordData("Invalid PBKDF2 passdb entry format")
    salt, rounds, key = fields[0], int(fields[1]), fields[2]
    try:
        wanted = bytes.fromhex(key) if len(key) == 40 else b""
    except ValueError:
        wanted = b""
    if len(wanted) != 20:
        raise InvalidPasswordData("PBKDF2 hash not 160bit hex-encoded")
    return hmac.compare_digest(_pbkdf2_run(plaintext, salt, rounds), wanted)


# --- SCRAM (password-scheme-scram.c) -------------------------------------------------

SCRAM_MIN_ITERATE_COUNT = 4096  # RFC 5802 says it SHOULD be at least 4096
SCRAM_MAX_ITERATE_COUNT = 2**31 - 1
SCRAM_DEFAULT_ITERATE_COUNT = 4096


def _scram_keys(hash_name: str, plaintext: bytes, salt: bytes,
                iterations: int) -> tuple[bytes, bytes]:
    """RFC 5802 §3: SaltedPassword = Hi(password, salt, i); StoredKey, ServerKey."""
    salted = hashlib.pbkdf2_hmac(hash_name, plaintext, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    return hashlib.new(hash_name, client_key).digest(), server_key


def scram_parse(raw: bytes, name: str, hash_name: str) -> tuple[int, str, bytes, bytes]:
    """scram_scheme_parse(): ``iter,salt,StoredKey,ServerKey`` -> its four parts.

    The salt stays base64 text (it goes into the server-first message as is).
    """
    size = hashlib.new(hash_name).digest_size
    fields = _text(raw).split(",")
    if len(fields) != 4:
        raise InvalidPasswordData(f"Invalid {name} passdb entry format")
    count = fields[0]
    if not (count.isascii() and count.isdigit()) or not (
            SCRAM_MIN_ITERATE_COUNT <= int(count) <= SCRAM_MAX_ITERATE_COUNT):
        raise InvalidPasswordData(f"Invalid {name} iteration count in passdb")
    stored = b64.decode(fields[2])
    if stored is None or len(stored) != size:
        raise InvalidPasswordData(f"Invalid {name} StoredKey in passdb")
    server = b64.decode(fields[3])
    if server is None or len(server) != size:
        raise InvalidPasswordData(f"Invalid {name} ServerKey in passdb")
    return int(count), fields[1], stored, server


def _scram(name: str, hash_name: str) -> tuple[Generator, Verifier]:
    def generate(plaintext: bytes, params: GenerateParams) -> bytes:
        # scram_generate(): 16 random salt bytes, 4096 iterations, keys in base64.
        salt = secrets.token_bytes(16)
        stored, server = _scram_keys(hash_name, plaintext, salt, SCRAM_DEFAULT_ITERATE_COUNT)
        return ",".join((str(SCRAM_DEFAULT_ITERATE_COUNT), b64.encode(salt),
                         b64.encode(stored), b64.encode(server))).encode()

    def verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
        iterations, salt, stored, _ = scram_parse(raw, name, hash_name)
        calculated, _ = _scram_keys(hash_name, plaintext, b64.decode(salt) or b"", iterations)
        return hmac.compare_digest(stored, calculated)

    return generate, verify


# --- the crypt family -------------------------------------------------------------------

def _clamp(rounds: int, default: int, low: int, high: int) -> int:
    return default if rounds == 0 else min(max(rounds, low), high)


def _blf_generate(plaintext: bytes, params: GenerateParams) -> bytes:
    # password-scheme-crypt.c: $2y$, cost 5 unless rounds= says otherwise (4..31).
    cost = _clamp(params.rounds, 5, 4, 31)
    handler = _bcrypt.using(ident="2y", rounds=cost, truncate_error=False)
    return handler.hash(plaintext[:72]).encode()


def _blf_verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
    if not raw:
        return False
    if (len(raw) < 30 or not raw.startswith(b"$2") or not 0x61 <= raw[2] <= 0x7A
            or raw[3:4] != b"$"):
        raise InvalidPasswordData("Password is not blowfish password")
    try:
        # crypt_blowfish reads at most 72 bytes of the password.
        return bool(_bcrypt.using(truncate_error=False).verify(plaintext[:72], _text(raw)))
    except ValueError:
        return False


def _sha_crypt_generate(ident: str) -> Generator:
    def generate(plaintext: bytes, params: GenerateParams) -> bytes:
        rounds = _clamp(params.rounds, 5000, 1000, 999_999_999)
        salt = _salt(16)
        setting = f"${ident}${salt}" if rounds == 5000 else f"${ident}$rounds={rounds}${salt}"
        return _crypt(plaintext, setting).encode()
    return generate


def _des_generate(plaintext: bytes, params: GenerateParams) -> bytes:
    return _crypt(plaintext, _salt(2)).encode()


def _md5_crypt_generate(plaintext: bytes, params: GenerateParams) -> bytes:
    return _crypt(plaintext, "$1$" + _salt(8)).encode()


# crypt(3) as the lab computes it: which library handler reads which hash prefix.
_CRYPT_HANDLERS = {"$1$": _md5_crypt, "$5$": _sha256_crypt, "$6$": _sha512_crypt}
_DES_CHARS = frozenset(SALT_CHARS)


def _crypt(plaintext: bytes, setting: str) -> str:
    """crypt(3) with a setting (salt) the lab's own generators made."""
    handler = _CRYPT_HANDLERS.get(setting[:3])
    if handler is None:
        return _des_crypt.using(salt=setting[:2]).hash(plaintext)
    rest = setting[3:]
    kwargs: dict[str, object] = {}
    if rest.startswith("rounds="):
        head, _, rest = rest.partition("$")
        kwargs["rounds"] = int(head[len("rounds="):])
    elif handler is not _md5_crypt:
        kwargs["rounds"] = 5000
    kwargs["salt"] = rest.split("$", 1)[0]
    return handler.using(**kwargs).hash(plaintext)


def _crypt_verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
    """crypt_verify(): crypt(3) of the password with the stored hash as salt, compared."""
    if len(raw) > 4 and raw.startswith(b"$2") and raw[3:4] == b"$":
        return _blf_verify(plaintext, params, raw)
    if not raw:
        return False  # the default crypt() handler would return a match
    stored = _text(raw)
    handler = _CRYPT_HANDLERS.get(stored[:3])
    if handler is None and (stored.startswith("$") or stored.startswith("_")):
        family = stored.split("$")[1] if stored.startswith("$") else "_"
        raise InvalidPasswordData(
            f"crypt() failed: the lab cannot compute crypt hashes of type ${family}$ "
            "(it knows DES, $1$ MD5, $5$ SHA-256, $6$ SHA-512 and $2y$ blowfish)")
    if handler is None:
        if len(stored) != 13 or not set(stored) <= _DES_CHARS:
            return False  # crypt(3) answers a failure token, which never matches
        handler = _des_crypt
    try:
        return bool(handler.verify(plaintext, stored))
    except ValueError:
        return False  # a malformed hash: crypt(3) gives a string that does not match


def _md5_crypt_verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
    try:
        return bool(_md5_crypt.verify(plaintext, _text(raw)))
    except ValueError:
        return False


def _md5_verify(plaintext: bytes, params: GenerateParams, raw: bytes) -> bool:
    # {MD5} is MD5-CRYPT when it starts with $1$, else a PLAIN-MD5 digest.
    if raw.startswith(b"$1$"):
        return _md5_crypt_verify(plaintext, params, raw)
    try:
        digest = decode(_text(raw), "PLAIN-MD5")
    except SchemeError as exc:
        raise InvalidPasswordData("Not a valid MD5-CRYPT or PLAIN-MD5 password") from exc
    return hmac.compare_digest(hashlib.md5(plaintext).digest(), digest)


_ssha = _salted("sha1", "SSHA")
_ssha256 = _salted("sha256", "SSHA256")
_ssha512 = _salted("sha512", "SSHA512")
_smd5 = _salted("md5", "SMD5")

# password-scheme.c builtin_schemes[] and password-scheme-crypt.c, as data.
SCHEMES: dict[str, Scheme] = {s.name: s for s in (
    Scheme("MD5", "none", 0, _md5_crypt_generate, _md5_verify),
    Scheme("MD5-CRYPT", "none", 0, _md5_crypt_generate, _md5_crypt_verify),
    Scheme("SHA", "base64", 20, _digest("sha1")),
    Scheme("SHA1", "base64", 20, _digest("sha1")),
    Scheme("SHA256", "base64", 32, _digest("sha256")),
    Scheme("SHA512", "base64", 64, _digest("sha512")),
    Scheme("SMD5", "base64", 0, *_smd5),
    Scheme("SSHA", "base64", 0, *_ssha),
    Scheme("SSHA256", "base64", 0, *_ssha256),
    Scheme("SSHA512", "base64", 0, *_ssha512),
    Scheme("PLAIN", "none", 0, _plain_generate, _plain_verify),
    Scheme("CLEAR", "none", 0, _plain_generate, _plain_verify),
    Scheme("CLEARTEXT", "none", 0, _plain_generate, _plain_verify),
    Scheme("PLAIN-TRUNC", "none", 0, _plain_generate, _plain_trunc_verify),
    Scheme("CRAM-MD5", "hex", CONTEXT_LEN, _cram_md5_generate),
    Scheme("HMAC-MD5", "hex", CONTEXT_LEN, _cram_md5_generate),
    Scheme("DIGEST-MD5", "hex", 16, _digest_md5_generate),
    Scheme("PLAIN-MD5", "hex", 16, _digest("md5")),
    Scheme("LDAP-MD5", "base64", 16, _digest("md5")),
    Scheme("PBKDF2", "none", 0, _pbkdf2_generate, _pbkdf2_verify),
    Scheme("SCRAM-SHA-1", "none", 0, *_scram("SCRAM-SHA-1", "sha1")),
    Scheme("SCRAM-SHA-256", "none", 0, *_scram("SCRAM-SHA-256", "sha256")),
    Scheme("DES-CRYPT", "none", 0, _des_generate, _crypt_verify),
    Scheme("SHA256-CRYPT", "none", 0, _sha_crypt_generate("5"), _crypt_verify),
    Scheme("SHA512-CRYPT", "none", 0, _sha_crypt_generate("6"), _crypt_verify),
    Scheme("BLF-CRYPT", "none", 0, _blf_generate, _blf_verify),
    # In 2.3 {CRYPT} generates blowfish and verifies whatever crypt(3) reads.
    Scheme("CRYPT", "none", 0, _blf_generate, _crypt_verify),
)}

# Schemes that share a generator are aliases (password_scheme_is_alias()).
_ALIAS_GROUPS = ({"PLAIN", "CLEAR", "CLEARTEXT", "PLAIN-TRUNC"}, {"SHA", "SHA1"},
                 {"CRAM-MD5", "HMAC-MD5"}, {"MD5", "MD5-CRYPT"}, {"CRYPT", "BLF-CRYPT"},
                 {"PLAIN-MD5", "LDAP-MD5"})


def lookup(name: str) -> tuple[Scheme, str]:
    """The scheme and encoding for ``NAME``, ``NAME.HEX``, ``NAME.B64``/``.BASE64``."""
    base, dot, encoding = name.partition(".")
    scheme = SCHEMES.get(base.upper())
    if scheme is None:
        raise UnknownScheme(name)
    if not dot:
        return scheme, scheme.encoding
    enc = encoding.lower()
    if enc in ("b64", "base64"):
        return scheme, "base64"
    if enc == "hex":
        return scheme, "hex"
    raise UnknownScheme(name)  # an unknown encoding is an unknown scheme


def is_alias(scheme1: str, scheme2: str) -> bool:
    """Whether two scheme names give the same credentials (encodings ignored)."""
    if not scheme1 or not scheme2:
        return False
    a, b = scheme1.split(".", 1)[0].upper(), scheme2.split(".", 1)[0].upper()
    if a == b:
        return True
    return any(a in group and b in group for group in _ALIAS_GROUPS)


def split_scheme(password: str) -> tuple[str | None, str]:
    """password_get_scheme(): ``("SHA", data)`` for ``{SHA}data``; ``(None, pw)`` without.

    A bare ``$1$salt$hash`` is MD5-CRYPT (anything after a fourth ``$`` is dropped).
    """
    if password.startswith("$1$"):
        parts = password.split("$")
        if len(parts) >= 4:
            return "MD5-CRYPT", "$".join(parts[:4])
    if not password.startswith("{"):
        return None, password
    end = password.find("}")
    if end < 0:
        return None, password
    return password[1:end], password[end + 1:]


_HEX = frozenset("0123456789abcdefABCDEF")


def _hex_decode(data: str) -> bytes | None:
    if len(data) % 2 or not set(data) <= _HEX:
        return None
    return bytes.fromhex(data)


def decode(data: str, scheme_name: str) -> bytes:
    """password_decode(): the raw credentials in ``data`` stored with ``scheme_name``."""
    scheme, encoding = lookup(scheme_name)
    guessed = False
    if encoding != "none" and scheme.raw_length and "." not in scheme_name:
        encoding = "hex" if len(data) == scheme.raw_length * 2 else "base64"
        guessed = True
    raw: bytes | None
    if encoding == "none":
        raw = data.encode("utf-8", "surrogateescape")
    else:
        raw = _hex_decode(data) if encoding == "hex" else None
        if raw is None and encoding == "hex" and not guessed:
            raise InvalidPasswordData("Input isn't valid HEX encoded data")
        if raw is None:
            raw = b64.decode(data)
            if raw is None:
                raise InvalidPasswordData("Input isn't valid base64 encoded data")
    if scheme.raw_length and len(raw) != scheme.raw_length:
        raise InvalidPasswordData(
            f"Input length isn't valid ({len(raw)} instead of {scheme.raw_length})")
    return raw


def _plain_bytes(plaintext: str | bytes) -> bytes:
    if isinstance(plaintext, str):
        plaintext = plaintext.encode("utf-8", "surrogateescape")
    # Dovecot hands passwords around as C strings: a NUL ends them.
    return plaintext.split(b"\0", 1)[0]


def verify_raw(plaintext: str | bytes, scheme_name: str, raw: bytes,
               params: GenerateParams | None = None) -> bool:
    """password_verify(): True on a match, False on a mismatch, SchemeError if unusable."""
    scheme, _ = lookup(scheme_name)
    params = params or GenerateParams()
    secret = _plain_bytes(plaintext)
    if scheme.verify is not None:
        return scheme.verify(secret, params, raw)
    return hmac.compare_digest(scheme.generate(secret, params), raw)


def verify(plaintext: str | bytes, stored: str, default_scheme: str = "PLAIN",
           user: str = "") -> bool:
    """Check a password against a stored ``{SCHEME}data`` (or bare data in the default).

    Raises ``UnknownScheme`` or ``InvalidPasswordData`` when the stored value is unusable,
    as Dovecot logs an error (not a mismatch) then.
    """
    scheme, data = split_scheme(stored)
    scheme = scheme or default_scheme
    raw = decode(data, scheme)
    return verify_raw(plaintext, scheme, raw, GenerateParams(user=user))


def generate_raw(plaintext: str | bytes, scheme_name: str,
                 params: GenerateParams | None = None) -> bytes:
    """password_generate(): raw credentials for ``scheme_name`` (encoding not applied)."""
    scheme, _ = lookup(scheme_name)
    return scheme.generate(_plain_bytes(plaintext), params or GenerateParams())


def encode(raw: bytes, scheme_name: str) -> str:
    """Raw credentials written in the scheme's (or the requested) encoding."""
    _, encoding = lookup(scheme_name)
    if encoding == "base64":
        return b64.encode(raw)
    if encoding == "hex":
        return raw.hex()
    return _text(raw)


def generate(plaintext: str | bytes, scheme_name: str = "CRYPT", user: str = "",
             rounds: int = 0, prefix: bool = True) -> str:
    """What ``doveadm pw -s SCHEME -p PASSWORD`` prints: ``{SCHEME}data``."""
    params = GenerateParams(user=user, rounds=rounds)
    data = encode(generate_raw(plaintext, scheme_name, params), scheme_name)
    return f"{{{scheme_name.upper()}}}{data}" if prefix else data


def credentials(stored: str, wanted_scheme: str, default_scheme: str = "PLAIN",
                user: str = "") -> tuple[str, bytes]:
    """passdb_get_credentials(): the raw credentials a mechanism asked for.

    Returns ``(scheme, raw)``. A plaintext password can give any scheme (it is
    generated on the fly); any other stored scheme gives only itself and its aliases,
    else ``SchemeNotAvailable("Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT")``.
    An empty ``wanted_scheme`` means "whatever is stored".
    """
    scheme, data = split_scheme(stored)
    scheme = scheme or default_scheme
    raw = decode(data, scheme)
    if not wanted_scheme:
        return scheme.split(".", 1)[0], raw
    if is_alias(scheme, wanted_scheme):
        return wanted_scheme, raw
    if not is_alias(scheme, "PLAIN"):
        raise SchemeNotAvailable(f"Requested {wanted_scheme} scheme, but we have only {scheme}")
    try:
        return wanted_scheme, generate_raw(raw, wanted_scheme, GenerateParams(user=user))
    except UnknownScheme as exc:
        raise SchemeNotAvailable(f"Requested unknown scheme {wanted_scheme}") from exc


def detect(plaintext: str | bytes, stored: str) -> str | None:
    """password_scheme_detect(): a scheme under which ``stored`` matches, for debug logs."""
    for name in SCHEMES:
        try:
            if verify_raw(plaintext, name, decode(stored, name)):
                return name
        except SchemeError:
            continue
    return None


__all__ = [
    "GenerateParams", "InvalidPasswordData", "PASSWORD_MISMATCH", "SCHEMES", "Scheme",
    "SchemeError", "SchemeNotAvailable", "UnknownScheme", "credentials", "decode", "detect",
    "encode", "generate", "generate_raw", "is_alias", "lookup", "scram_parse", "split_scheme",
    "verify",
    "verify_raw",
]
