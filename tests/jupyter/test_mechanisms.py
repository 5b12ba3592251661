"""The mechanism stepper: RFC test vectors, the lab's mechanisms as server, a live lab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labserver.auth.sasl import cram_md5
from labserver.auth.sasl.scram import ScramClient
from labserver.jupyter import mechanisms as m
from labserver.service.lab import DEFAULT_CONFIG, Lab
from tests.dovecot_harness import dovecot_binary

CONFIG = (DEFAULT_CONFIG.replace("plain login", "plain cram-md5 scram-sha-1 scram-sha-256")
          .replace("SHA512-CRYPT", "PLAIN") + "auth_failure_delay = 0\n")


def test_cram_md5_rfc_2195_example() -> None:
    values = m.cram_md5_values("tim", "tanstaaftanstaaf",
                               "<1896.697170952@postoffice.reston.mci.net>")
    named = {v.label: v.value for v in values}
    assert named["HMAC-MD5"] == "b913a602c7eda7a495b4e6e7334d3890"
    assert named["on the wire"] == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    assert named["response"].encode() == cram_md5.response(
        "tim", "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>")


@pytest.mark.parametrize(("hash_name", "cnonce", "server_first", "proof", "signature"), [
    ("sha1", "fyko+d2lbbFgONRv9qkxdawL",  # RFC 5802 section 5
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ="),
    ("sha256", "rOprNGfwEbeRWgbNEkqO",  # RFC 7677 section 3
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
     "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
])
def test_scram_rfc_test_vectors(hash_name: str, cnonce: str, server_first: str, proof: str,
                                signature: str) -> None:
    run = m.scram_values(hash_name, "user", "pencil", cnonce, server_first)
    named = {v.label: v.value for v in run.values}
    assert run.client_first == f"n,,n=user,r={cnonce}"
    assert named["ClientProof"] == proof
    assert run.client_final.endswith(f",p={proof}")
    assert run.server_signature == named["ServerSignature"] == signature
    client = ScramClient(hash_name, "user", "pencil", cnonce)
    assert client.first().decode() == run.client_first
    assert client.final(server_first.encode()).decode() == run.client_final


@pytest.mark.parametrize("mechanism", m.MECHS)
@pytest.mark.parametrize("stored", m.STORED)
def test_offline_exchange_against_the_labs_mechanisms(mechanism: str, stored: str) -> None:
    exchange = m.Exchange(mechanism, "alice", "wonderland", stored=stored)
    messages = exchange.run()
    works = stored == "PLAIN" or stored == mechanism
    assert exchange.done and (exchange.outcome == "OK Logged in") is works
    if not works:
        assert any(f"Requested {mechanism} scheme, but we have only {stored}" in x.wire
                   for x in messages if x.who == "auth")
    if works and mechanism.startswith("SCRAM"):
        final = next(v for x in messages for v in x.values if v.label == "server-final")
        assert final.how.startswith("matches")
    if works and mechanism == "CRAM-MD5":
        values = {v.label: v.value for x in messages for v in x.values}
        assert values["server's HMAC-MD5"] == values["HMAC-MD5"]


def test_offline_wrong_password() -> None:
    exchange = m.Exchange("SCRAM-SHA-256", "alice", "wonderland", stored="SCRAM-SHA-256",
                          server_password="other")
    messages = exchange.run()
    assert exchange.outcome == m.AUTH_FAILED
    assert any(x.wire == "scram-sha-256(alice,127.0.0.2): Password mismatch" for x in messages)
    with pytest.raises(ValueError, match="mechanism must be one of"):
        m.Exchange("NTLM", "a", "b")


@pytest.fixture(params=["lab", "dovecot"])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    if request.param == "dovecot":
        dovecot_binary()
    running = Lab(CONFIG, ports="ephemeral", engine=request.param)
    running.add_user("alice", "wonderland", scheme="PLAIN")
    running.start()
    yield running
    running.stop()


def test_live_exchanges_step_by_step(lab: Lab) -> None:
    for mechanism in m.MECHS:
        exchange = m.Exchange(mechanism, "alice", "wonderland", lab=lab)
        first = exchange.step()
        assert first is not None and first.wire.startswith("* OK")
        exchange.run()
        assert exchange.outcome is not None and "Logged in" in exchange.outcome, (
            exchange.messages)
    wrong = m.Exchange("CRAM-MD5", "alice", "nope", lab=lab)
    wrong.run()
    assert wrong.outcome == m.AUTH_FAILED


def test_the_stepper_widget_without_a_browser() -> None:
    lab = Lab(CONFIG, ports="ephemeral")
    lab.add_user("alice", "wonderland", scheme="PLAIN")
    lab.start()
    try:
        stepper = m.MechanismStepper(lab)
        exchange = stepper.start("CRAM-MD5", stored="SHA512-CRYPT")
        while stepper.next() is not None:
            pass
        assert exchange.outcome == m.AUTH_FAILED
        assert "but we have only SHA512-CRYPT" in stepper.out.value
        exchange = stepper.start("SCRAM-SHA-1", live=True)
        assert len(exchange.messages) == 1
        for _ in range(12):
            stepper.next()
        assert exchange.outcome is not None and "Logged in" in exchange.outcome
        assert "ClientProof" in stepper.out.value and "matches" in stepper.out.value
        first = stepper.start("CRAM-MD5", live=True)
        stepper.start("CRAM-MD5", live=False)
        assert first.outcome == "abandoned"
    finally:
        lab.stop()
    assert m.MechanismStepper().live.disabled
