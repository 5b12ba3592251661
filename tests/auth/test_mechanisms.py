"""CRAM-MD5, DIGEST-MD5, SCRAM-SHA-1/256, APOP, ANONYMOUS, EXTERNAL as state machines.

RFC test vectors where the RFCs give them (RFC 2195 §2, RFC 2831 §4, RFC 5802 §5,
RFC 7677 §3, RFC 1939 §7), Dovecot's error texts, and fuzzing: no input makes a
mechanism raise.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labserver.auth import schemes
from labserver.auth.hmac_md5 import cram_context
from labserver.auth.sasl import MECHANISMS, Challenge, Credentials, Failure
from labserver.auth.sasl.apop import digest as apop_digest
from labserver.auth.sasl.digest_md5 import parse_next
from labserver.auth.sasl.mech import (
    MECH_RULES,
    UNAVAILABLE,
    Authorized,
    MechParams,
    NeedCredentials,
    Verdict,
    startup_errors,
)
from labserver.auth.sasl.scram import ScramClient, unescape_username

from .oracle import doveadm_pw_generate, doveadm_pw_test

EVENTS = Challenge | Credentials | Failure | NeedCredentials | Verdict | Authorized


def enc(data: bytes) -> str:
    return base64.b64encode(data).decode()


def mech(name: str, **params: object):  # type: ignore[no-untyped-def]
    return MECHANISMS[name](MechParams(**params))  # type: ignore[arg-type]


# --- CRAM-MD5 ---------------------------------------------------------------------------

RFC2195_CHALLENGE = "<1896.697170952@postoffice.reston.mci.net>"


def test_cram_md5_rfc2195_example() -> None:
    m = mech("CRAM-MD5")
    m.start(None)
    m.challenge = RFC2195_CHALLENGE  # the RFC's challenge instead of a random one
    answer = b"tim b913a602c7eda7a495b4e6e7334d3890"
    assert m.step(enc(answer)) == NeedCredentials("tim", "CRAM-MD5")
    assert m.credentials(cram_context(b"tanstaaftanstaaf")) == Verdict(True)
    wrong = mech("CRAM-MD5")
    wrong.start(None)
    wrong.challenge = RFC2195_CHALLENGE
    wrong.step(enc(answer))
    assert wrong.credentials(cram_context(b"tanstaaf")) == Verdict(False)


def test_cram_md5_challenge_is_dovecots_shape() -> None:
    m = mech("CRAM-MD5", hostname="mail.example.org", now=lambda: 1700000000.0,
             random=lambda n: bytes(range(n)))
    assert m.start(enc(b"ignored")) == Challenge(
        b"<0123456789012345.1700000000@mail.example.org>")


def test_cram_md5_stored_hash_answers_like_the_plaintext() -> None:
    stored = schemes.generate("secret", "CRAM-MD5")
    _, raw = schemes.credentials(stored, "CRAM-MD5")
    _, from_plain = schemes.credentials("{PLAIN}secret", "CRAM-MD5")
    assert raw == from_plain


def test_cram_md5_errors() -> None:
    m = mech("CRAM-MD5")
    m.start(None)
    assert m.step(enc(b"nodigest")) == Failure("invalid_input", "Authentication failed.",
                                               "missing digest")
    m = mech("CRAM-MD5")
    m.start(None)
    assert m.step(enc(b"a\0b c")).code == "nul"  # type: ignore[union-attr]
    m = mech("CRAM-MD5")
    m.start(None)
    m.step(enc(b"user with spaces 0123"))
    assert m.username == "user with spaces"  # the rightmost space separates
    assert m.credentials(b"short") == Verdict(False, log="invalid credentials length")


def test_crypt_hash_cannot_serve_cram_md5() -> None:
    stored = schemes.generate("secret", "SHA512-CRYPT")
    with pytest.raises(schemes.SchemeNotAvailable,
                       match="Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT"):
        schemes.credentials(stored, "CRAM-MD5")


# --- SCRAM --------------------------------------------------------------------------------

def _scram_raw(hash_name: str, password: str, salt_b64: str, iterations: int = 4096) -> bytes:
    stored, server = schemes._scram_keys(hash_name, password.encode(),
                                         base64.b64decode(salt_b64), iterations)
    return f"{iterations},{salt_b64},{enc(stored)},{enc(server)}".encode()


@pytest.mark.parametrize(("name", "hash_name", "cnonce", "snonce", "salt", "proof", "verifier"), [
    # RFC 5802 §5
    ("SCRAM-SHA-1", "sha1", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j",
     "QSXCR+Q6sek8bf92", "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ="),
    # RFC 7677 §3
    ("SCRAM-SHA-256", "sha256", "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
     "W22ZaJ0SNY7soEsUEjb6gQ==", "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
])
def test_scram_rfc_examples(name: str, hash_name: str, cnonce: str, snonce: str, salt: str,
                            proof: str, verifier: str) -> None:
    m = mech(name)
    assert m.start(None) == Challenge(b"")
    assert m.step(enc(f"n,,n=user,r={cnonce}".encode())) == NeedCredentials("user", name)
    m.make_snonce = lambda: snonce  # type: ignore[method-assign]
    first = m.credentials(_scram_raw(hash_name, "pencil", salt))
    assert first == Challenge(f"r={cnonce}{snonce},s={salt},i=4096".encode())
    final = f"c=biws,r={cnonce}{snonce},p={proof}".encode()
    assert m.step(enc(final)) == Verdict(True, final=f"v={verifier}".encode())


def test_scram_wrong_password_and_client_helper() -> None:
    for name, hash_name in (("SCRAM-SHA-1", "sha1"), ("SCRAM-SHA-256", "sha256")):
        raw = schemes.generate_raw("secret", name)
        for password, ok in (("secret", True), ("wrong", False)):
            client = ScramClient(hash_name, "alice", password, "abc")
            m = mech(name)
            assert m.start(enc(client.first())) == NeedCredentials("alice", name)
            first = m.credentials(raw)
            assert isinstance(first, Challenge) and len(m.snonce) == 64
            assert "," not in m.snonce
            verdict = m.step(enc(client.final(first.data)))
            assert isinstance(verdict, Verdict) and verdict.ok is ok
            if ok:
                assert verdict.final == b"v=" + base64.b64encode(client.server_signature)


@pytest.mark.parametrize(("first", "error"), [
    (b"p=tls-unique,,n=alice,r=x", "Channel binding not supported"),
    (b"x,,n=alice,r=x", "Invalid GS2 header"),
    (b"n", "Invalid initial client message: Missing first ',' in GS2 header"),
    (b"n,a=b", "Invalid initial client message: Missing second ',' in GS2 header"),
    (b"n,,n=alice", "Invalid initial client message: Missing nonce field"),
    (b"n,,m=ext,r=x", "Mandatory extension(s) not supported"),
    (b"n,,u=alice,r=x", "Invalid username field"),
    (b"n,,n=al=2Xice,r=x", "Username escaping is invalid"),
    (b"n,b=x,n=alice,r=x", "Invalid authzid field"),
    (b"n,a=x=,n=alice,r=x", "authzid escaping is invalid"),
    (b"n,,n=alice,x=1", "Invalid client nonce"),
])
def test_scram_client_first_errors(first: bytes, error: str) -> None:
    assert mech("SCRAM-SHA-256").start(enc(first)) == Failure(
        "invalid_input", "Authentication failed.", error)


def test_scram_client_final_errors() -> None:
    raw = schemes.generate_raw("secret", "SCRAM-SHA-1")

    def started():  # type: ignore[no-untyped-def]
        m = mech("SCRAM-SHA-1")
        m.start(enc(b"y,,n=alice,r=abc"))
        m.credentials(raw)
        return m

    nonce = "abc" + started().snonce  # a different random nonce each time
    cases = {
        b"c=biws,r=x": "Invalid final client message",
        b"c=xxxx,r=x,p=AAAA": "Invalid channel binding data",
        b"c=eSws,r=wrong,p=AAAA": "Wrong nonce",
    }
    for data, error in cases.items():
        assert started().step(enc(data)) == Verdict(False, log=error)
    m = started()
    assert m.step(enc(f"c=eSws,r=abc{m.snonce},q=1".encode())) == Verdict(
        False, log="Invalid ClientProof")
    m = started()
    assert m.step(enc(f"c=eSws,r=abc{m.snonce},p=AAAA".encode())) == Verdict(
        False, log="Invalid ClientProof length")
    assert nonce  # the nonce is random per exchange


def test_scram_stored_entry_errors() -> None:
    m = mech("SCRAM-SHA-256")
    m.start(enc(b"n,,n=alice,r=abc"))
    assert m.credentials(b"4096,salt,only") == Verdict(
        False, log="Invalid SCRAM-SHA-256 passdb entry format")
    m = mech("SCRAM-SHA-256")
    m.start(enc(b"n,,n=alice,r=abc"))
    assert m.credentials(b"1000,c2FsdA==,AAAA,AAAA") == Verdict(
        False, log="Invalid SCRAM-SHA-256 iteration count in passdb")


def test_scram_unescape() -> None:
    assert unescape_username("a=2Cb=3Dc") == "a,b=c"
    assert unescape_username("a=2") is None


def test_scram_scheme_matches_doveadm() -> None:
    for name in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
        theirs = doveadm_pw_generate(name, "x")
        assert theirs.startswith(f"{{{name}}}4096,")
        assert schemes.verify("x", theirs) and not schemes.verify("y", theirs)
        ours = schemes.generate("x", name)
        iterations, salt, _, _ = ours.split("}", 1)[1].split(",")
        assert iterations == "4096" and len(base64.b64decode(salt)) == 16
        assert doveadm_pw_test(ours, "x") and not doveadm_pw_test(ours, "y")


# --- DIGEST-MD5 ---------------------------------------------------------------------------

def test_digest_md5_rfc2831_example() -> None:
    m = mech("DIGEST-MD5", realms=("elwood.innosoft.com",))
    challenge = m.start(None)
    assert isinstance(challenge, Challenge)
    assert challenge.data.startswith(b'realm="elwood.innosoft.com",nonce="')
    assert challenge.data.endswith(b',qop="auth",charset="utf-8",algorithm="md5-sess"')
    m.nonce = "OA6MG9tEQGm2hh"
    response = (b'charset=utf-8,username="chris",realm="elwood.innosoft.com",'
                b'nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",'
                b'digest-uri="imap/elwood.innosoft.com",'
                b'response=d388dad90d4bbd760a152321f2143af7,qop=auth')
    assert m.step(enc(response)) == NeedCredentials("chris@elwood.innosoft.com", "DIGEST-MD5")
    _, raw = schemes.credentials("{PLAIN}secret", "DIGEST-MD5",
                                 user="chris@elwood.innosoft.com")
    assert m.credentials(raw) == Verdict(True, final=b"rspauth=ea40f60335c427b5527b84dbabcdfffd")


def test_digest_md5_without_realms_offers_an_empty_one() -> None:
    assert mech("DIGEST-MD5").start(None).data.startswith(b'realm="",nonce="')  # type: ignore


@pytest.mark.parametrize(("extra", "error"), [
    (',username="x"', "username must not exist more than once"),
    (",nc=00000002", "re-auth not supported currently"),
    (",nc=zz", "nonce-count value invalid"),
    (",qop=auth-int", "Nonallowed QoP requested"),
    (",qop=bogus", "Unknown QoP value: bogus"),
    (',digest-uri="imap"', "Invalid digest-uri"),
    (",maxbuf=0", "Invalid maxbuf value"),
    (",charset=latin1", "Only utf-8 charset is allowed"),
    (",response=abc", "Invalid response value"),
    (',authzid=""', "empty authzid"),
    (',cnonce="again"', "cnonce must not exist more than once"),
])
def test_digest_md5_errors(extra: str, error: str) -> None:
    m = mech("DIGEST-MD5")
    m.start(None)
    base = f'username="alice",nonce="{m.nonce}",cnonce="c"'
    assert m.step(enc((base + extra).encode())) == Failure(
        "invalid_input", "Authentication failed.", error)


def test_digest_md5_missing_fields() -> None:
    for data, error in ((b'username="a"', "Missing nonce parameter"),
                        (b"", "Client sent no input")):
        m = mech("DIGEST-MD5")
        m.start(None)
        assert m.step(enc(data) if data else "").log == error  # type: ignore[union-attr]
    m = mech("DIGEST-MD5")
    m.start(None)
    assert m.step(enc(b'nonce="wrong"')).log == "Invalid nonce"  # type: ignore[union-attr]


@given(st.text(max_size=120))
def test_digest_md5_parser_never_raises(text: str) -> None:
    pos = 0
    while pos < len(text):
        _, _, new = parse_next(text, pos)
        new = new + 1 if new < len(text) and text[new] == "," else new
        assert new >= pos
        if new == pos:
            break
        pos = new


# --- APOP, ANONYMOUS, EXTERNAL --------------------------------------------------------------

RFC1939_STAMP = "<1896.697170952@dbc.mtview.ca.us>"


def test_apop_rfc1939_example() -> None:
    assert apop_digest(RFC1939_STAMP, "tanstaaf") == "c4c9334bac560ecc979e58001b3e22fb"
    data = (RFC1939_STAMP.encode() + b"\0mrose\0"
            + bytes.fromhex("c4c9334bac560ecc979e58001b3e22fb"))
    m = mech("APOP", apop_challenge=RFC1939_STAMP)
    assert m.start(enc(data)) == NeedCredentials("mrose", "PLAIN")
    assert m.credentials(b"tanstaaf") == Verdict(True)
    m = mech("APOP", apop_challenge=RFC1939_STAMP)
    m.start(enc(data))
    assert m.credentials(b"other") == Verdict(False, log="")


def test_apop_errors() -> None:
    good = RFC1939_STAMP.encode() + b"\0mrose\0" + bytes(16)
    assert mech("APOP", apop_challenge="<other@x>").start(enc(good)).log == "invalid challenge"  # type: ignore[union-attr]
    assert mech("APOP", apop_challenge=RFC1939_STAMP).start(enc(b"x\0y")).log == \
        "malformed data"  # type: ignore[union-attr]
    assert mech("APOP").start(None).log == "no initial response"  # type: ignore[union-attr]
    assert MECH_RULES["APOP"].private


def test_anonymous() -> None:
    m = mech("ANONYMOUS", anonymous_username="guest")
    assert m.start(None) == Challenge(b"")
    assert m.step(enc(b"me@example.org")) == Authorized("guest", log="login",
                                                        trace="me@example.org")


def test_external_without_certificate() -> None:
    assert mech("EXTERNAL").start("=") == Failure("invalid_input", "Authentication failed.",
                                                  "username not known")
    assert mech("EXTERNAL", cert_username="alice").start("=") == Credentials("alice", "", "")


# --- what Dovecot does with mechanisms the lab does not run -------------------------------

def test_unavailable_mechanisms_and_startup_errors() -> None:
    for name in ("NTLM", "GSS-SPNEGO", "GSSAPI", "RPA", "SKEY", "OTP"):
        assert UNAVAILABLE[name].needs
    assert startup_errors(["plain", "rpa"], [{"verify_plain"}]) == [
        "Unknown authentication mechanism 'RPA'"]
    assert startup_errors(["plain", "otp"], [{"verify_plain", "lookup_credentials"}]) == [
        "OTP mechanism can't be supported with given passdbs"]
    # PAM alone verifies plaintext only: no CRAM-MD5 possible, the auth process stops.
    assert startup_errors(["plain", "cram-md5"], [{"verify_plain"}]) == [
        "CRAM-MD5 mechanism can't be supported with given passdbs"]
    assert startup_errors(["plain", "cram-md5"],
                          [{"verify_plain"}, {"verify_plain", "lookup_credentials"}]) == []
    assert startup_errors(["cram-md5"], []) == [
        "No passdbs specified in configuration file. CRAM-MD5 mechanism needs one"]


# --- fuzzing: never an exception ------------------------------------------------------------

LINES = st.one_of(st.binary(max_size=80), st.text(max_size=80), st.just("*"),
                  st.binary(max_size=80).map(base64.b64encode))


@settings(max_examples=300)
@given(st.sampled_from(sorted(MECHANISMS)), st.lists(LINES, max_size=5),
       st.one_of(st.none(), st.just("*"), st.just("="), LINES),
       st.lists(st.binary(max_size=120), max_size=3))
def test_every_mechanism_survives_anything(name: str, lines: list, initial: object,
                                           creds: list) -> None:  # type: ignore[type-arg]
    m = mech(name, apop_challenge=RFC1939_STAMP)
    event = m.start(initial)  # type: ignore[arg-type]
    assert isinstance(event, EVENTS)
    for line in lines:
        if isinstance(event, NeedCredentials) and creds:
            event = m.credentials(creds.pop())
            assert isinstance(event, EVENTS)
        event = m.step(line)
        assert isinstance(event, EVENTS)
        if line == "*":
            assert event == Failure("aborted", "Authentication aborted by client.") or \
                m.finished


@given(st.sampled_from(sorted(MECHANISMS)), st.text(alphabet="!@#$%^&()", min_size=1))
def test_malformed_base64_is_dovecots_error(name: str, junk: str) -> None:
    event = mech(name).start(junk)
    assert event == Failure("invalid_base64", "Invalid base64 data in initial response",
                            "Invalid base64 data in initial response")
