"""Mechanism x stored scheme x password, against real Dovecot 2.3.

Every SASL mechanism the lab runs (and APOP over POP3) meets a passwd-file that stores
the password as PLAIN, CRAM-MD5, SHA512-CRYPT or SCRAM-SHA-256, once with the right
password and once with a wrong one. The protocol replies must be the same once the
random parts (nonces, salts, timestamps, session ids) are masked, and the auth
process's log lines (``auth_verbose = yes``) must say the same thing, for instance
``passwd-file(alice,127.0.0.1,<S>): Requested CRAM-MD5 scheme, but we have only
SHA512-CRYPT``. 6 IMAP mechanisms + APOP, 4 schemes, 2 passwords: 56 cases.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab
from tests.auth.sasl_client import imap_authenticate, pop3_authenticate
from tests.dovecot_harness import RealDovecot, real_dovecot

MECHS = ["PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "APOP"]
STORED = ["PLAIN", "CRAM-MD5", "SHA512-CRYPT", "SCRAM-SHA-256"]
AUTH_CONF = ("auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 "
             "apop\nauth_verbose = yes\nauth_failure_delay = 0\n")
USER, PASSWORD = "alice", "secret"


def _mask_challenge(text: str) -> str:
    text = re.sub(r"<\d+\.\d+@[^>]*>", "<cram-challenge>", text)
    text = re.sub(r"^r=[^,]*,s=[^,]*,", "r=<nonce>,s=<salt>,", text)
    text = re.sub(r"^v=.*", "v=<server-signature>", text)
    text = re.sub(r'nonce="[^"]*"', 'nonce="<nonce>"', text)
    return re.sub(r"rspauth=[0-9a-f]{32}", "rspauth=<digest>", text)


def normalise(lines: list[bytes]) -> list[str]:
    out = []
    for raw in lines[1:]:  # the greeting differs (capabilities, APOP timestamp)
        line = raw.decode("utf-8", "replace")
        if line.startswith("+ "):
            try:
                line = "+ " + _mask_challenge(base64.b64decode(line[2:]).decode())
            except ValueError:
                pass
        line = re.sub(r"\[CAPABILITY [^\]]*\]", "[CAPABILITY]", line)
        out.append(line)
    return out


def auth_lines(text: str) -> list[str]:
    """The auth process's lines, timestamps and session ids masked."""
    found = []
    for line in text.splitlines():
        m = re.search(r"\bauth: (\w+): (.*)$", line)
        if m:
            found.append(f"{m.group(1)}: " + re.sub(r"<[^>]*>", "<S>", m.group(2)))
    return found


class Pair:
    def __init__(self, stored_scheme: str) -> None:
        self.stack = []
        self.lab = Lab(DEFAULT_CONFIG.replace("auth_mechanisms = plain login\n", "")
                       + AUTH_CONF, ports="ephemeral")
        stored = self.lab.add_user(USER, PASSWORD, scheme=stored_scheme)
        self.lab.start()
        self._dc = real_dovecot(USER, PASSWORD, extra_conf=AUTH_CONF, stored_password=stored)
        self.dc: RealDovecot = self._dc.__enter__()

    def close(self) -> None:
        self._dc.__exit__(None, None, None)
        self.lab.cleanup()


@pytest.fixture(scope="module")
def pairs() -> Iterator[dict[str, Pair]]:
    made: dict[str, Pair] = {}
    yield made
    for pair in made.values():
        pair.close()


def _run(mech: str, host: str, imap_port: int, pop3_port: int, password: str,
         source: str) -> list[bytes]:
    if mech == "APOP":
        return pop3_authenticate(host, pop3_port, mech, USER, password, source=source)
    return imap_authenticate(host, imap_port, mech, USER, password, source=source)


_sources = iter(f"127.0.{i // 250}.{i % 250 + 2}" for i in range(10_000))


RESULTS: dict[str, bool] = {}

# Which stored schemes can serve which mechanism: plaintext serves all, a hash only its own
# mechanism (and the plaintext ones, which verify the password against it).
SERVES = {"PLAIN": set(STORED), "LOGIN": set(STORED), "CRAM-MD5": {"PLAIN", "CRAM-MD5"},
          "DIGEST-MD5": {"PLAIN"}, "SCRAM-SHA-1": {"PLAIN"},
          "SCRAM-SHA-256": {"PLAIN", "SCRAM-SHA-256"}, "APOP": {"PLAIN"}}


@pytest.mark.parametrize("right", [True, False], ids=["right", "wrong"])
@pytest.mark.parametrize("stored", STORED)
@pytest.mark.parametrize("mech", MECHS)
def test_mechanism_matches_dovecot(pairs, mech: str, stored: str, right: bool) -> None:
    if stored not in pairs:
        pairs[stored] = Pair(stored)
    pair = pairs[stored]
    password = PASSWORD if right else "wrong"
    dc_before = len(pair.dc.log())
    lab_before = len(pair.lab.logs())
    # A fresh source address per case: Dovecot's auth penalty (not modelled by the lab)
    # delays every further failure from an IP by up to 15 seconds.
    source = next(_sources)
    theirs = _run(mech, pair.dc.host, pair.dc.imap_port, pair.dc.pop3_port, password, source)
    ours = _run(mech, "127.0.0.1", pair.lab.port("imap"), pair.lab.port("pop3"), password,
                source)
    deadline = time.monotonic() + 3
    their_log = auth_lines(pair.dc.log()[dc_before:])
    while time.monotonic() < deadline:  # the log process writes a moment later
        time.sleep(0.1)
        their_log = auth_lines(pair.dc.log()[dc_before:])
        if their_log or right and stored != "SHA512-CRYPT":
            break
    our_log = auth_lines("\n".join(pair.lab.logs()[lab_before:]))
    ok = normalise(ours) == normalise(theirs) and our_log == their_log
    RESULTS[f"{mech}/{stored}/{'right' if right else 'wrong'}"] = ok
    assert normalise(ours) == normalise(theirs)
    assert our_log == their_log
    succeeded = normalise(theirs)[-1].startswith(("a OK", "+OK"))
    assert succeeded == (right and stored in SERVES[mech]), normalise(theirs)
