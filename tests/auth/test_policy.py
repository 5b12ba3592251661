"""disable_plaintext_auth, ssl = required and what counts as a secured connection."""

from __future__ import annotations

import pytest

from labserver.auth import policy
from labserver.config import parse_text


def cfg(text: str = ""):  # type: ignore[no-untyped-def]
    return parse_text("auth_mechanisms = plain login cram-md5\n" + text)


@pytest.mark.parametrize(("local", "remote", "tls", "trusted", "secured"), [
    ("127.0.0.1", "127.0.0.1", False, "", True),  # same IP: local connection
    ("127.0.0.1", "127.0.0.2", False, "", False),
    ("127.0.0.1", "127.0.0.2", True, "", True),
    ("127.0.0.1", "127.0.0.2", False, "127.0.0.0/8", True),
    ("10.0.0.1", "192.168.1.5", False, "10.0.0.0/8, 192.168.1.0/24", True),
    ("10.0.0.1", "192.168.2.5", False, "192.168.1.0/24", False),
    ("::1", "::1", False, "", True),
    ("::ffff:127.0.0.1", "127.0.0.1", False, "", True),
])
def test_is_secured(local: str, remote: str, tls: bool, trusted: str, secured: bool) -> None:
    assert policy.is_secured(local, remote, tls, trusted) is secured


def test_defaults_refuse_plaintext_on_insecure_connections() -> None:
    c = cfg()
    assert not policy.plaintext_allowed(c, secured=False, protocol="imap")
    assert policy.plaintext_allowed(c, secured=True, protocol="imap")
    assert policy.advertised_mechanisms(c, secured=False) == ["CRAM-MD5"]
    assert policy.advertised_mechanisms(c, secured=True) == ["PLAIN", "LOGIN", "CRAM-MD5"]
    assert policy.login_command_disabled(c, secured=False)
    refused = policy.check_plaintext_login(c, secured=False)
    assert (refused.allowed, refused.code) == (False, "PRIVACYREQUIRED")
    assert refused.reply == ("Plaintext authentication disallowed on non-secure (SSL/TLS) "
                             "connections.")
    mech = policy.check_mechanism(c, "PLAIN", secured=False)
    assert mech.reply == "Plaintext authentication disabled." and not mech.allowed
    assert policy.check_mechanism(c, "CRAM-MD5", secured=False).allowed
    assert not policy.check_mechanism(c, "DIGEST-MD5", secured=True).allowed


def test_plaintext_enabled() -> None:
    c = cfg("disable_plaintext_auth = no\n")
    assert policy.plaintext_allowed(c, secured=False)
    assert policy.advertised_mechanisms(c, secured=False) == ["PLAIN", "LOGIN", "CRAM-MD5"]
    assert not policy.login_command_disabled(c, secured=False)


def test_ssl_required() -> None:
    c = parse_text("disable_plaintext_auth = no\nssl = required\n"
                   "ssl_cert = </etc/ssl/certs/ssl-cert-snakeoil.pem\n"
                   "ssl_key = </etc/ssl/private/ssl-cert-snakeoil.key\n", expand_values=False)
    assert not policy.plaintext_allowed(c, secured=False)
    assert policy.plaintext_allowed(c, secured=True)
    assert policy.advertised_mechanisms(c, secured=False) == []
    decision = policy.check_mechanism(c, "CRAM-MD5", secured=False)
    assert decision.reply == "Authentication not allowed until SSL/TLS is enabled."
    assert policy.check_plaintext_login(c, secured=False).ssl_required


def test_failure_delay() -> None:
    assert policy.failure_delay(cfg()) == 2
    assert policy.failure_delay(cfg("auth_failure_delay = 0\n")) == 0
