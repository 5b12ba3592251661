"""SASL PLAIN and LOGIN as state machines: transcripts, bad base64, cancel, fuzz."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from labserver.auth import b64
from labserver.auth.sasl import (
    MECH_RULES,
    MECHANISMS,
    Challenge,
    Credentials,
    Failure,
    is_plaintext,
)
from labserver.auth.sasl.mech import Authorized, NeedCredentials, Verdict

EVENTS = Challenge | Credentials | Failure | NeedCredentials | Verdict | Authorized


def enc(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_plain_initial_response() -> None:
    event = MECHANISMS["PLAIN"]().start(enc(b"\0alice\0secret"))
    assert event == Credentials(authcid="alice", password="secret", authzid="")
    same = MECHANISMS["PLAIN"]().start(enc(b"alice\0alice\0pw"))
    assert same == Credentials("alice", "pw", "")  # authzid == authcid is dropped
    master = MECHANISMS["PLAIN"]().start(enc(b"bob\0admin\0pw"))
    assert master == Credentials("admin", "pw", "bob")


def test_plain_without_initial_response() -> None:
    mech = MECHANISMS["PLAIN"]()
    assert mech.start(None) == Challenge(b"")
    assert mech.step(enc(b"\0alice\0pw") + "\r\n") == Credentials("alice", "pw")
    assert mech.finished
    assert isinstance(mech.step(enc(b"\0a\0b")), Failure)  # nothing after the end


def test_plain_malformed() -> None:
    for data in (b"alice", b"\0alice", b"\0a\0b\0c", b""):
        event = MECHANISMS["PLAIN"]().start(enc(data) if data else "=")
        assert event == Failure("invalid_input", "Authentication failed.", "invalid input")


def test_invalid_base64_and_cancel() -> None:
    assert MECHANISMS["PLAIN"]().start("%%%") == Failure(
        "invalid_base64", "Invalid base64 data in initial response",
        "Invalid base64 data in initial response")
    mech = MECHANISMS["PLAIN"]()
    mech.start(None)
    assert mech.step("YWJj=") .code == "invalid_base64"  # type: ignore[union-attr]
    mech = MECHANISMS["LOGIN"]()
    mech.start(None)
    assert mech.step("*") == Failure("aborted", "Authentication aborted by client.")
    # as an initial response "*" is not a cancel but bad base64, as in Dovecot
    assert MECHANISMS["PLAIN"]().start("*").code == "invalid_base64"  # type: ignore[union-attr]


def test_login_transcript() -> None:
    mech = MECHANISMS["LOGIN"]()
    first = mech.start(None)
    assert first == Challenge(b"Username:") and first.base64 == "VXNlcm5hbWU6"
    second = mech.step(enc(b"alice"))
    assert second == Challenge(b"Password:") and second.base64 == "UGFzc3dvcmQ6"
    assert mech.step(enc(b"secret")) == Credentials("alice", "secret")


def test_login_initial_response_is_the_user() -> None:
    mech = MECHANISMS["LOGIN"]()
    assert mech.start(enc(b"alice")) == Challenge(b"Password:")
    assert mech.step(enc(b"pw")) == Credentials("alice", "pw")
    assert MECHANISMS["LOGIN"]().start("=") == Challenge(b"Username:")
    nul = MECHANISMS["LOGIN"]().start(enc(b"al\0ice"))
    assert nul == Failure("nul", "Authentication failed.", "Unexpected NUL in auth data")


def test_rule_table() -> None:
    assert is_plaintext("plain") and is_plaintext("LOGIN") and not is_plaintext("CRAM-MD5")
    assert MECH_RULES["CRAM-MD5"].credentials_scheme == "CRAM-MD5"
    assert MECH_RULES["PLAIN"].passdb_need == "verify_plain"
    assert MECH_RULES["SCRAM-SHA-256"].passdb_need == "lookup_credentials"


def test_dovecot_base64() -> None:
    assert b64.decode("YWJj") == b"abc"
    assert b64.decode("YW Jj\r\n") == b"abc"  # whitespace is skipped
    assert b64.decode("YWI=") == b"ab" and b64.decode("YQ==") == b"a"
    assert b64.decode("YQ= =") == b"a"
    for bad in ("YWI", "YQ=", "Y===", "YWJj=", "YQ==x", "@@@@", "YQ==YQ=="):
        assert b64.decode(bad) is None, bad
    assert b64.decode("") == b""


@given(st.binary(max_size=300))
def test_decoder_never_raises_and_round_trips(data: bytes) -> None:
    assert b64.decode(base64.b64encode(data)) == data
    b64.decode(data)  # arbitrary bytes: bytes or None, never an exception


@given(st.sampled_from(sorted(MECHANISMS)),
       st.lists(st.one_of(st.binary(max_size=80), st.text(max_size=80),
                          st.binary(max_size=60).map(lambda b: base64.b64encode(b))),
                max_size=5),
       st.one_of(st.none(), st.text(max_size=40), st.binary(max_size=40)))
def test_mechanisms_never_raise(name: str, lines: list, initial: object) -> None:  # type: ignore[type-arg]
    mech = MECHANISMS[name]()
    event = mech.start(initial)  # type: ignore[arg-type]
    assert isinstance(event, EVENTS)
    for line in lines:
        event = mech.step(line)
        assert isinstance(event, EVENTS)
