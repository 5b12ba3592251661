"""Mechanism graders: several right answers, the usual wrong ones, and real Dovecot.

The configurations below are judged on the lab; the ones marked for comparison are
judged again with ``engine="dovecot"`` (real Dovecot 2.3 on the same files), and both
verdicts must agree, score included.
"""

from __future__ import annotations

import base64
import hmac
from pathlib import Path

import nbformat
import pytest

import graders
from graders import mech_tasks, pam_tasks
from labserver.service.lab import DEFAULT_CONFIG
from tests.dovecot_harness import dovecot_binary

FAST = "auth_verbose = yes\nauth_failure_delay = 0\n"
CRAM = (DEFAULT_CONFIG.replace("plain login", "plain login cram-md5")
        .replace("SHA512-CRYPT", "CRAM-MD5") + FAST)
CERTS = ("ssl_cert = </etc/dovecot/private/dovecot.pem\n"
         "ssl_key = </etc/dovecot/private/dovecot.key\n")

MECH_CASES = {
    # name: (config, params, passes)
    "cram-md5-scheme": (CRAM, {}, True),
    "plain-scheme": (CRAM.replace("scheme=CRAM-MD5", "scheme=PLAIN"), {}, True),
    "exam-syntax": (CRAM.replace("auth_mechanisms = plain login cram-md5\n",
                                 "auth default {\n  mechanisms = plain login cram-md5\n}\n"),
                    {}, True),
    "crypt-scheme": (CRAM.replace("scheme=CRAM-MD5", "scheme=SHA512-CRYPT"), {}, False),
    "not-advertised": (CRAM.replace(" cram-md5", ""), {}, False),
    "scram": (DEFAULT_CONFIG.replace("plain login", "plain scram-sha-256")
              .replace("SHA512-CRYPT", "SCRAM-SHA-256") + FAST,
              {"mechanism": "SCRAM-SHA-256"}, True),
    "plaintext-refused": (CRAM.replace("disable_plaintext_auth = no",
                                       "disable_plaintext_auth = yes"),
                          {"refuse_plaintext": True}, True),
    "plaintext-allowed": (CRAM, {"refuse_plaintext": True}, False),
}
COMPARE = ["cram-md5-scheme", "crypt-scheme", "not-advertised", "plaintext-refused",
           "plaintext-allowed"]


@pytest.mark.parametrize("name", list(MECH_CASES))
def test_mechanisms_cram_md5(name: str) -> None:
    config, params, passes = MECH_CASES[name]
    verdict = graders.check("mechanisms-cram-md5", config, **params)
    assert verdict.passed is passes, verdict


def test_crypt_hashes_fail_for_the_right_reason() -> None:
    config = CRAM.replace("scheme=CRAM-MD5", "scheme=SHA512-CRYPT")
    verdict = graders.check("mechanisms-cram-md5", config)
    assert any("Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT" in line
               for line in verdict.evidence)
    assert "doveadm pw -s CRAM-MD5" in verdict.feedback
    verdict = graders.check("mechanisms-cram-md5", CRAM.replace(" cram-md5", ""))
    assert "auth_mechanisms" in verdict.feedback


def test_mechanism_configs_that_cannot_run() -> None:
    verdict = graders.check("mechanisms-cram-md5", CRAM + "auth_mechanisms = plain bogus\n")
    assert not verdict.passed and "Unknown authentication mechanism 'BOGUS'" in verdict.feedback
    verdict = graders.check("mechanisms-cram-md5", CRAM.replace("passwd-file\n  args = ",
                                                                "passwd-file\n  arg = "))
    assert not verdict.passed and "Unknown setting" in verdict.feedback
    pam = ("protocols = imap pop3\nauth_mechanisms = plain cram-md5\n"
           "passdb {\n  driver = pam\n}\n"
           "userdb {\n  driver = passwd\n}\n")
    verdict = graders.check("mechanisms-cram-md5", pam)
    assert not verdict.passed
    assert "CRAM-MD5 mechanism can't be supported with given passdbs" in verdict.feedback


TLS_CASES = {
    "ssl-yes-default-policy": (DEFAULT_CONFIG.replace("ssl = no", "ssl = yes")
                               .replace("disable_plaintext_auth = no\n", "") + CERTS + FAST,
                               True),
    "ssl-required": (DEFAULT_CONFIG.replace("ssl = no", "ssl = required") + CERTS + FAST, True),
    "explicit-policy-in-protocol-blocks": (
        DEFAULT_CONFIG.replace("ssl = no", "ssl = yes") + CERTS + FAST
        + "protocol imap {\n  disable_plaintext_auth = yes\n}\n"
        "protocol pop3 {\n  disable_plaintext_auth = yes\n}\n", True),
    "plaintext-allowed": (DEFAULT_CONFIG.replace("ssl = no", "ssl = yes") + CERTS + FAST,
                          False),
    "no-tls": (DEFAULT_CONFIG.replace("disable_plaintext_auth = no",
                                      "disable_plaintext_auth = yes") + FAST, False),
}


@pytest.mark.parametrize("name", list(TLS_CASES))
def test_plaintext_only_with_tls(name: str) -> None:
    config, passes = TLS_CASES[name]
    verdict = graders.check("plaintext-only-with-tls", config)
    assert verdict.passed is passes, verdict


def test_capabilities_before_and_after_starttls_are_the_evidence() -> None:
    verdict = graders.check("plaintext-only-with-tls", TLS_CASES["ssl-yes-default-policy"][0])
    before = next(x for x in verdict.evidence if x.startswith("IMAP before STARTTLS"))
    after = next(x for x in verdict.evidence if x.startswith("IMAP after STARTTLS"))
    assert "LOGINDISABLED" in before and "AUTH=PLAIN" not in before
    assert "AUTH=PLAIN" in after and "LOGINDISABLED" not in after
    verdict = graders.check("plaintext-only-with-tls", TLS_CASES["no-tls"][0])
    assert "ssl = no?" in verdict.feedback


def right(user: str, password: str, challenge: str) -> str:
    return f"{user} {hmac.new(password.encode(), challenge.encode(), 'md5').hexdigest()}"


def as_bytes(user: str, password: str, challenge: str) -> bytes:
    return right(user, password, challenge).encode()


def in_base64(user: str, password: str, challenge: str) -> str:
    return base64.b64encode(right(user, password, challenge).encode()).decode()


def sha1(user: str, password: str, challenge: str) -> str:
    return f"{user} {hmac.new(password.encode(), challenge.encode(), 'sha1').hexdigest()}"


def swapped(user: str, password: str, challenge: str) -> str:
    return f"{user} {hmac.new(challenge.encode(), password.encode(), 'md5').hexdigest()}"


def crashes(user: str, password: str, challenge: str) -> str:
    raise RuntimeError("not written yet")


CLIENT_CASES = {"right": (right, True), "bytes": (as_bytes, True),
                "base64": (in_base64, False), "sha1": (sha1, False),
                "key-and-message-swapped": (swapped, False), "crashes": (crashes, False)}


@pytest.mark.parametrize("name", list(CLIENT_CASES))
def test_cram_md5_client(name: str) -> None:
    fn, passes = CLIENT_CASES[name]
    verdict = graders.check("cram-md5-client", fn)
    assert verdict.passed is passes, verdict
    if name == "base64":
        assert "base64 form" in verdict.feedback
    if name == "crashes":
        assert "raised RuntimeError" in verdict.feedback


def test_cram_md5_client_wants_a_function() -> None:
    verdict = graders.check("cram-md5-client", "alice 1234")
    assert not verdict.passed and "hand in the function" in verdict.feedback


def test_responder_matches_rfc_2195() -> None:
    # RFC 2195 section 2's example exchange
    challenge = b"<1896.697170952@postoffice.reston.mci.net>"
    answer = mech_tasks.Responder("CRAM-MD5", "tim", "tanstaaftanstaaf")(challenge)
    assert answer == b"tim b913a602c7eda7a495b4e6e7334d3890"


@pytest.mark.parametrize("case", [f"mech:{n}" for n in COMPARE] + [
    "tls:ssl-yes-default-policy", "tls:plaintext-allowed", "tls:no-tls",
    "client:right", "client:base64"])
def test_same_verdict_on_real_dovecot(case: str) -> None:
    dovecot_binary()
    kind, name = case.split(":")
    if kind == "mech":
        config, params, _ = MECH_CASES[name]
        task, submission = "mechanisms-cram-md5", config
    elif kind == "tls":
        (config, _), params = TLS_CASES[name], {}
        task, submission = "plaintext-only-with-tls", config
    else:
        task, submission, params = "cram-md5-client", CLIENT_CASES[name][0], {}
    lab = graders.check(task, submission, **params)
    real = graders.check(task, submission, engine="dovecot", **params)
    assert (real.passed, real.score) == (lab.passed, lab.score), (lab, real)


def test_feedback_points_at_sections_that_exist() -> None:
    root = Path(__file__).resolve().parents[2] / "notebooks"
    for see in (pam_tasks.SEE, pam_tasks.SEE_PASSDB, mech_tasks.SEE, mech_tasks.SEE_TLS,
                mech_tasks.SEE_CLIENT):
        folder, section = see.split(": ", 1)
        nb = nbformat.read(root / folder / f"{folder}.ipynb", as_version=4)
        headings = {line.lstrip("#").strip() for cell in nb.cells if cell.cell_type == "markdown"
                    for line in cell.source.splitlines() if line.startswith("## ")}
        assert section in headings, (see, headings)
