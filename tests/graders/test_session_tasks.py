"""session-secure-fetch: judged on what the lab recorded of the learner's own session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator

import pytest

import graders
from graders import probe
from labserver.service.lab import DEFAULT_CONFIG, Lab

CONFIG = DEFAULT_CONFIG.replace("ssl = no", "ssl = yes\nssl_cert = </etc/dovecot/cert.pem\n"
                                "ssl_key = </etc/dovecot/key.pem").replace(
    "auth_mechanisms = plain login", "auth_mechanisms = plain login cram-md5 scram-sha-256")


@pytest.fixture
def lab() -> Iterator[tuple[Lab, str, str, str]]:
    user, password = probe.fresh_user()
    marker = secrets.token_hex(8)
    with probe.lab_for("t", CONFIG) as lab:
        lab.add_user(user, password, scheme="PLAIN")
        lab.deliver(user, f"Subject: hello\n\nThe code is {marker}.\n")
        lab.deliver(user, "Subject: other\n\nnothing here\n")
        yield lab, user, password, marker


def _cram(user: str, password: str) -> Callable[[bytes], bytes]:
    """CRAM-MD5's answer (RFC 2195): the user and the HMAC-MD5 of the challenge."""
    def answer(challenge: bytes) -> bytes:
        digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
        return f"{user} {digest}".encode()
    return answer


def _imap_session(lab: Lab, user: str, password: str, *, starttls: bool, mech: str,
                  listener: str = "imap", message: str = "1") -> None:
    client = probe.imap_client(lab, listener)
    if starttls:
        client.starttls(probe.client_context())
    if mech == "CRAM-MD5":
        client.authenticate("CRAM-MD5", _cram(user, password))
    elif mech == "PLAIN":
        client.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
    else:
        client.login(user, password)
    client.select("INBOX")
    client.fetch(message, "(BODY[])")
    probe.close(client)


def test_starttls_then_cram_md5_then_fetch_passes(lab) -> None:
    lab, user, password, marker = lab
    _imap_session(lab, user, password, starttls=True, mech="CRAM-MD5")
    verdict = graders.check("session-secure-fetch", lab, user=user, marker=marker)
    assert verdict.passed, str(verdict)
    verdict = graders.check("session-secure-fetch", lab.transcripts(), user=user, marker=marker)
    assert verdict.passed


def test_implicit_tls_counts_as_tls(lab) -> None:
    lab, user, password, marker = lab
    _imap_session(lab, user, password, starttls=False, mech="CRAM-MD5", listener="imaps")
    assert graders.check("session-secure-fetch", lab, user=user, marker=marker).passed


def test_pop3_stls_and_a_sasl_mechanism_pass(lab) -> None:
    lab, user, password, marker = lab
    client = probe.pop3_client(lab, starttls=True)
    challenge = client._shortcmd("AUTH CRAM-MD5")
    answer = _cram(user, password)(base64.b64decode(challenge.split(b" ", 1)[1]))
    assert client._shortcmd(base64.b64encode(answer).decode()).startswith(b"+OK")
    client.retr(1)
    probe.close(client)
    verdict = graders.check("session-secure-fetch", lab, user=user, marker=marker)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("how,score", [
    ({"starttls": False, "mech": "CRAM-MD5"}, 0.75),
    ({"starttls": True, "mech": "PLAIN"}, 0.75),
    ({"starttls": True, "mech": "LOGIN"}, 0.75),
    ({"starttls": True, "mech": "CRAM-MD5", "message": "2"}, 0.75),
])
def test_typical_shortcuts_lose_the_matching_point(lab, how, score) -> None:
    lab, user, password, marker = lab
    if not how["starttls"]:
        # a plaintext connection from a non-secured address may still do CRAM-MD5
        client = probe.imap_client(lab)
        client.authenticate("CRAM-MD5", _cram(user, password))
        client.select("INBOX")
        client.fetch("1", "(BODY[])")
        probe.close(client)
    else:
        _imap_session(lab, user, password, **how)
    verdict = graders.check("session-secure-fetch", lab, user=user, marker=marker)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)


def test_no_session_and_wrong_submissions_get_verdicts(lab) -> None:
    lab, user, _, marker = lab
    verdict = graders.check("session-secure-fetch", lab, user=user, marker=marker)
    assert not verdict.passed and "no session" in verdict.feedback
    verdict = graders.check("session-secure-fetch", "my session", user=user, marker=marker)
    assert not verdict.passed and "lab you used" in verdict.feedback


def test_someone_elses_session_does_not_count(lab) -> None:
    lab, user, password, marker = lab
    other, other_password = probe.fresh_user("other")
    lab.add_user(other, other_password, scheme="PLAIN")
    lab.deliver(other, f"Subject: copy\n\n{marker}\n")
    _imap_session(lab, other, other_password, starttls=True, mech="CRAM-MD5")
    verdict = graders.check("session-secure-fetch", lab, user=user, marker=marker)
    assert not verdict.passed
