"""``auth_mechanisms`` the auth process cannot start with, in the lab and in Dovecot 2.3.19.

Dovecot's master starts anyway; the auth process dies with a Fatal line each time a login
process needs it, the master throttles the next attempt (2 s, then twice as long), and
each client is greeted with ``* BYE Auth process broken`` (POP3: ``-ERR Auth process
broken``) and disconnected. The mechanisms the chapter names that 2.3.19 no longer has
(NTLM, RPA, SKEY, and GSSAPI/GSS-SPNEGO without Debian's dovecot-gssapi plugin) are
"Unknown"; OTP exists but needs a passdb that can store its state; CRAM-MD5 cannot work
with PAM alone. Both servers run the same configuration and see the same clients.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab

USERDB = "userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=/home/%u\n}\n"
PAM_ONLY = "passdb {\n  driver = pam\n}\n" + USERDB

CASES = {
    "BOGUS": ("plain login bogus", None, "Unknown authentication mechanism 'BOGUS'"),
    "NTLM": ("plain ntlm", None, "Unknown authentication mechanism 'NTLM'"),
    "GSSAPI": ("plain gssapi", None, "Unknown authentication mechanism 'GSSAPI'"),
    "GSS-SPNEGO": ("plain gss-spnego", None, "Unknown authentication mechanism 'GSS-SPNEGO'"),
    "RPA": ("plain rpa", None, "Unknown authentication mechanism 'RPA'"),
    "SKEY": ("plain skey", None, "Unknown authentication mechanism 'SKEY'"),
    "OTP": ("plain otp", None, "OTP mechanism can't be supported with given passdbs"),
    "none": ("", None, "No authentication mechanisms configured"),
    # PAM is never asked: the auth process stops before any login reaches it.
    "CRAM-MD5 with PAM": ("plain cram-md5", PAM_ONLY,
                          "CRAM-MD5 mechanism can't be supported with given passdbs"),
}


def _config(mechanisms: str, passdbs: str | None) -> str:
    base = DEFAULT_CONFIG.replace("auth_mechanisms = plain login\n",
                                  f"auth_mechanisms = {mechanisms}\n")
    if passdbs is not None:
        base = base.split("passdb {")[0] + passdbs
    return base + "auth_failure_delay = 0\n"


def _greeting(lab: Lab, listener: str, source: str) -> tuple[bytes, float]:
    """What a client gets before the server closes, and how long that took."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", lab.port(listener)), 15,
                                  (source, 0)) as sock:
        data = b""
        while True:
            try:
                chunk = sock.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data, time.monotonic() - began


def _lines(lab: Lab, wanted: int) -> list[str]:
    """The log without timestamps, once the login processes have written ``wanted``
    disconnect lines; session ids and waiting times masked."""
    deadline = time.monotonic() + 10
    lines = lab.logs()
    while time.monotonic() < deadline and sum("Auth process broken" in x for x in lines) < wanted:
        time.sleep(0.05)
        lines = lab.logs()
    out = []
    for line in lines:
        text = re.sub(r"^\w{3} +\d+ [\d:]+ ", "", line)
        if text.startswith("master: Info: Dovecot v"):
            continue
        text = re.sub(r"session=<[^>]*>", "session=<S>", text)
        out.append(re.sub(r"waited \d+ secs", "waited N secs", text))
    return out


def _observe(config: str, engine: str, pop3_too: bool) -> tuple[list[bytes], list[str]]:
    lab = Lab(config, ports="ephemeral", engine=engine)
    try:
        lab.add_user("alice", "secret", scheme="PLAIN")
        lab.start()
        replies = [_greeting(lab, "imap", "127.0.0.2")[0]]
        if pop3_too:
            reply, took = _greeting(lab, "pop3", "127.0.0.3")
            # the second client waits for the throttled restart of the auth process
            assert 1.0 < took < 6, took
            replies.append(reply)
        return replies, _lines(lab, len(replies))
    finally:
        lab.cleanup()


@pytest.mark.parametrize("name", list(CASES))
def test_auth_process_broken_as_in_dovecot(name: str) -> None:
    mechanisms, passdbs, fatal = CASES[name]
    config = _config(mechanisms, passdbs)
    pop3_too = name == "BOGUS"
    ours, our_log = _observe(config, "lab", pop3_too)
    theirs, their_log = _observe(config, "dovecot", pop3_too)
    assert ours == theirs
    assert ours[0] == b"* BYE Auth process broken\r\n"
    # Dovecot's auth and master processes write the first two lines in either order.
    assert sorted(our_log) == sorted(their_log)
    assert our_log[:3] == [
        f"auth: Fatal: {fatal}",
        "master: Error: service(auth): command startup failed, throttling for 2.000 secs",
        "imap-login: Info: Disconnected: Auth process broken (disconnected before auth was "
        "ready, waited N secs): user=<>, rip=127.0.0.2, lip=127.0.0.1, session=<S>"]
    if pop3_too:
        assert ours[1] == b"-ERR Auth process broken\r\n"
        assert "throttling for 4.000 secs" in our_log[4]


def test_reload_to_a_broken_mechanism_is_accepted() -> None:
    """As ``doveadm reload``: the configuration is valid, the auth process is what fails."""
    lab = Lab(_config("plain login", None), ports="ephemeral")
    try:
        lab.add_user("alice", "secret", scheme="PLAIN")
        lab.start()
        assert lab.reload(_config("plain rpa", None)) is None
        reply, _ = _greeting(lab, "imap", "127.0.0.2")
        assert reply == b"* BYE Auth process broken\r\n"
        assert lab.logs("auth: Fatal: Unknown authentication mechanism 'RPA'")
    finally:
        lab.cleanup()
