"""Password schemes: round trips, known vectors, Dovecot's errors, and real doveadm."""

from __future__ import annotations

import pytest

from labserver.auth import schemes

from .oracle import doveadm_pw_generate, doveadm_pw_test

ALL = ["PLAIN", "CLEAR", "CLEARTEXT", "PLAIN-MD5", "LDAP-MD5", "SHA", "SHA1",
       "SSHA", "SHA256", "SSHA256", "SHA512", "SSHA512", "SMD5", "CRYPT", "DES-CRYPT",
       "MD5", "MD5-CRYPT", "SHA256-CRYPT", "SHA512-CRYPT", "BLF-CRYPT", "PBKDF2",
       "CRAM-MD5", "HMAC-MD5", "SHA256.HEX", "SHA512.B64", "PLAIN-MD5.B64", "PLAIN.HEX",
       "SSHA.HEX", "CRAM-MD5.B64"]
# DES crypt reads 8 characters only: keep its passwords short enough to tell apart.
PASSWORDS = ["secret", "päss wörd", "x" * 80, "a:b{c}$d"]


@pytest.mark.parametrize("scheme", ALL)
@pytest.mark.parametrize("password", PASSWORDS)
def test_round_trip(scheme: str, password: str) -> None:
    stored = schemes.generate(password, scheme, user="alice@example.org")
    assert stored.startswith("{" + scheme.upper() + "}")
    assert schemes.verify(password, stored, user="alice@example.org")
    if scheme == "DES-CRYPT" and len(password.encode()) >= 8:
        return
    if scheme in ("CRYPT", "BLF-CRYPT") and len(password) > 72:
        return
    assert not schemes.verify(password + "!", stored, user="alice@example.org")


def test_known_vectors() -> None:
    # The CRAM-MD5 context of "secret", as `doveadm pw -s CRAM-MD5 -p secret` prints it.
    assert schemes.generate("secret", "CRAM-MD5") == (
        "{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56")
    # password-scheme-crypt.c's self-test samples.
    key = "08/15!test~4711"
    assert schemes.verify(key, "{CRYPT}JBOZ0DgmtucwE")
    assert schemes.verify(key, "{SHA256-CRYPT}$5$rounds=1000$0123456789abcdef$K/DksR0DT01hGc8g"
                               "/kt9McEgrbFMKi9qrb1jehe7hn4")
    assert schemes.verify(key, "{SHA512-CRYPT}$6$rounds=1000$0123456789abcdef$ZIAd5WqfyLkpvsVC"
                               "VUU1GrvqaZTqvhJoouxdSqJO71l9Ld3tVrfOatEjarhghvEYADkq//LpDnTeO"
                               "90tcbtHR1")
    assert schemes.generate("x", "PLAIN-MD5") == "{PLAIN-MD5}9dd4e461268c8034f5c8564e155c67a6"
    assert schemes.generate("x", "LDAP-MD5") == "{LDAP-MD5}ndTkYSaMgDT1yFZOFVxnpg=="


def test_plain_trunc() -> None:
    # Generated as plain text, read as <length>-<password> (password-scheme.c).
    assert schemes.verify("secret", "{PLAIN-TRUNC}4-secr")
    assert schemes.verify("secr", "{PLAIN-TRUNC}4-secr")
    assert not schemes.verify("sec", "{PLAIN-TRUNC}4-secr")


def test_generation_details() -> None:
    assert schemes.generate("x", "CRYPT")[len("{CRYPT}"):].startswith("$2y$05$")
    assert schemes.generate("x", "SHA512-CRYPT", rounds=6000).startswith(
        "{SHA512-CRYPT}$6$rounds=6000$")
    assert schemes.generate("x", "SHA256-CRYPT").count("$") == 3  # default rounds implicit
    pbkdf2 = schemes.generate("x", "PBKDF2")
    assert pbkdf2.startswith("{PBKDF2}$1$") and "$5000$" in pbkdf2


def test_encoding_guess_and_default_scheme() -> None:
    digest = schemes.generate("pw", "SHA256.HEX")[len("{SHA256.HEX}"):]
    assert schemes.verify("pw", "{SHA256}" + digest)  # 64 hex digits: guessed hex
    assert schemes.verify("pw", digest, default_scheme="SHA256")
    assert schemes.verify("pw", "pw")  # PLAIN by default
    assert schemes.verify("pw", "$1$" + schemes.generate("pw", "MD5-CRYPT").split("$1$")[1])
    assert schemes.split_scheme("$1$salt$hash$ignored") == ("MD5-CRYPT", "$1$salt$hash")
    assert schemes.split_scheme("{SHA}abc") == ("SHA", "abc")
    assert schemes.split_scheme("{broken") == (None, "{broken")


@pytest.mark.parametrize(("stored", "message"), [
    ("{FOO}xx", "Unknown scheme"),
    ("{SHA.ZZ}xx", "Unknown scheme"),
    ("{SHA256}zzz", "Input isn't valid base64 encoded data"),
    ("{SHA256.HEX}zz", "Input isn't valid HEX encoded data"),
    ("{PLAIN-MD5}abcd", "Input length isn't valid (3 instead of 16)"),
    ("{SSHA}AAAA", "SSHA password is too short"),
    ("{PBKDF2}nope", "Invalid PBKDF2 passdb entry prefix"),
    ("{PBKDF2}$1$salt$x$00", "Invalid PBKDF2 passdb entry format"),
    ("{PBKDF2}$1$salt$5000$00", "PBKDF2 hash not 160bit hex-encoded"),
    ("{BLF-CRYPT}$1$abc", "Password is not blowfish password"),
    ("{PLAIN-TRUNC}abc", "PLAIN-TRUNC missing length: prefix"),
])
def test_dovecot_error_messages(stored: str, message: str) -> None:
    with pytest.raises(schemes.SchemeError) as info:
        schemes.verify("pw", stored)
    assert str(info.value) == message


def test_unsupported_crypt_is_a_clear_error() -> None:
    yescrypt = "{CRYPT}$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7"
    with pytest.raises(schemes.InvalidPasswordData, match=r"cannot compute .*\$y\$"):
        schemes.verify("x", yescrypt)
    assert not schemes.verify("x", "{CRYPT}garbage!!")  # crypt(3)'s failure token
    assert not schemes.verify("x", "{CRYPT}")  # empty never matches


def test_credentials() -> None:
    sha = schemes.generate("secret", "SHA512-CRYPT")
    with pytest.raises(schemes.SchemeNotAvailable) as info:
        schemes.credentials(sha, "CRAM-MD5")
    assert str(info.value) == "Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT"
    scheme, raw = schemes.credentials("{PLAIN}secret", "CRAM-MD5")
    assert scheme == "CRAM-MD5" and raw.hex().startswith("cd3ba7de")
    cram = schemes.generate("secret", "CRAM-MD5")
    assert schemes.credentials(cram, "HMAC-MD5")[1] == raw
    assert schemes.credentials("secret", "")[0] == "PLAIN"
    assert schemes.is_alias("SHA.HEX", "sha1") and not schemes.is_alias("SHA", "SHA256")


def test_detect() -> None:
    assert schemes.detect("x", "9dd4e461268c8034f5c8564e155c67a6") in ("PLAIN-MD5", "MD5")


# --- real Dovecot -----------------------------------------------------------------------

CROSS = ["PLAIN", "CLEARTEXT", "PLAIN-MD5", "LDAP-MD5", "SHA", "SSHA", "SHA256", "SSHA256",
         "SHA512", "SSHA512", "SMD5", "CRYPT", "DES-CRYPT", "MD5", "MD5-CRYPT",
         "SHA256-CRYPT", "SHA512-CRYPT", "BLF-CRYPT", "PBKDF2", "CRAM-MD5", "HMAC-MD5",
         "SHA256.HEX", "SHA512.B64", "PLAIN-MD5.B64"]


@pytest.mark.parametrize("scheme", CROSS)
@pytest.mark.parametrize("password", ["secret", "päss wörd"])
def test_doveadm_hashes_verify_in_the_lab(scheme: str, password: str) -> None:
    real = doveadm_pw_generate(scheme, password)
    assert real.upper().startswith("{" + scheme.upper() + "}")
    assert schemes.verify(password, real)
    if scheme != "DES-CRYPT":
        assert not schemes.verify(password + "x", real)


@pytest.mark.parametrize("scheme", CROSS)
@pytest.mark.parametrize("password", ["secret", "päss wörd"])
def test_lab_hashes_verify_in_doveadm(scheme: str, password: str) -> None:
    mine = schemes.generate(password, scheme)
    assert doveadm_pw_test(mine, password), mine
    if scheme != "DES-CRYPT":
        assert not doveadm_pw_test(mine, password + "x")


def test_lab_rounds_verify_in_doveadm() -> None:
    # rounds= is clamped as Dovecot clamps it (SHA-crypt 1000.., blowfish cost 4..31).
    for scheme, rounds in [("SHA256-CRYPT", 6), ("SHA512-CRYPT", 6000), ("BLF-CRYPT", 6),
                           ("BLF-CRYPT", 2), ("PBKDF2", 6000)]:
        assert doveadm_pw_test(schemes.generate("pw", scheme, rounds=rounds), "pw")
    assert "$rounds=1000$" in schemes.generate("pw", "SHA256-CRYPT", rounds=6)
    assert schemes.generate("pw", "BLF-CRYPT", rounds=2).startswith("{BLF-CRYPT}$2y$04$")
