"""Real clients with challenge-response mechanisms: imaplib, curl, fetchmail, mutt.

The user's password is stored ``{PLAIN}`` (every mechanism can use it) and, for the
failure case, ``{SHA512-CRYPT}`` (only the plaintext mechanisms can).
"""

from __future__ import annotations

import imaplib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from labserver.service.lab import DEFAULT_CONFIG, Lab

from .conftest import MESSAGES, need, run_mutt

MECHS = "plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 apop"


@pytest.fixture
def sasl_lab() -> Iterator[Lab]:
    config = DEFAULT_CONFIG.replace("auth_mechanisms = plain login\n", "")
    lab = Lab(config + f"auth_mechanisms = {MECHS}\nauth_failure_delay = 0\n"
              "auth_verbose = yes\n", ports="ephemeral")
    lab.add_user("alice", "secret", scheme="PLAIN")
    lab.add_user("bob", "secret")  # SHA512-CRYPT
    for message in MESSAGES:
        lab.deliver("alice", message)
    lab.start()
    yield lab
    lab.cleanup()


def test_imaplib_login_cram_md5(sasl_lab: Lab) -> None:
    port = sasl_lab.port("imap")
    imap = imaplib.IMAP4("127.0.0.1", port)
    assert "AUTH=CRAM-MD5" in imap.capabilities and "AUTH=APOP" not in imap.capabilities
    assert imap.login_cram_md5("alice", "secret")[0] == "OK"
    assert imap.select("INBOX") == ("OK", [b"2"])
    imap.logout()
    imap = imaplib.IMAP4("127.0.0.1", port)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.login_cram_md5("bob", "secret")
    imap.shutdown()
    assert any("passwd-file(bob,127.0.0.1,<" in line and
               "Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT" in line
               for line in sasl_lab.logs())


def _curl(url: str, mech: str, user: str = "alice") -> subprocess.CompletedProcess:
    return subprocess.run([need("curl"), "-sv", "--max-time", "20", "-u", f"{user}:secret",
                           "--login-options", f"AUTH={mech}", url],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("proto", ["imap", "pop3"])
def test_curl_cram_md5(sasl_lab: Lab, proto: str) -> None:
    url = f"{proto}://127.0.0.1:{sasl_lab.port(proto)}/"
    done = _curl(url, "CRAM-MD5")
    assert done.returncode == 0, done.stderr
    assert ("> AUTHENTICATE CRAM-MD5" if proto == "imap" else "> AUTH CRAM-MD5") in \
        done.stderr.replace("A002 ", "")
    failed = _curl(url, "CRAM-MD5", user="bob")
    assert failed.returncode == 67, failed.stderr  # CURLE_LOGIN_DENIED


@pytest.mark.parametrize("proto", ["imap", "pop3"])
def test_curl_digest_md5_cancels_as_against_dovecot(sasl_lab: Lab, proto: str) -> None:
    """curl 7.88 cancels DIGEST-MD5 (``*``) when the challenge's realm is empty, as it does
    against Dovecot with ``auth_realms`` unset: both answer "aborted by client"."""
    done = _curl(f"{proto}://127.0.0.1:{sasl_lab.port(proto)}/", "DIGEST-MD5")
    if done.returncode == 0:
        return  # a curl that completes DIGEST-MD5 is fine too
    assert "Authentication aborted by client." in done.stderr, done.stderr


def test_curl_has_no_scram_here(sasl_lab: Lab) -> None:
    """Debian's curl is built without libgsasl: it never tries SCRAM ("No known
    authentication mechanisms supported"); SCRAM is exercised by tests/auth/sasl_client."""
    done = _curl(f"imap://127.0.0.1:{sasl_lab.port('imap')}/", "SCRAM-SHA-256")
    if done.returncode == 0:
        return
    pytest.skip("this curl has no SCRAM support (built without libgsasl)")


def _fetchmail(lab: Lab, tmp_path: Path, proto: str, auth: str,
               user: str = "alice") -> subprocess.CompletedProcess:
    fetchmail = need("fetchmail")
    out = tmp_path / "delivered.mbox"
    rc = tmp_path / "fetchmailrc"
    port = lab.port("pop3" if proto == "apop" else proto)
    rc.write_text(f"poll 127.0.0.1 service {port} protocol {proto} "
                  f"auth {auth} user {user} password secret sslproto '' "
                  f"mda \"cat >> {out}\" keep fetchall\n")
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    return subprocess.run([fetchmail, "-f", str(rc), "-v", "--nodetach", "--nosyslog"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_fetchmail_apop(sasl_lab: Lab, tmp_path: Path) -> None:
    proc = _fetchmail(sasl_lab, tmp_path, "apop", "password")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "APOP alice" in text
    assert (tmp_path / "delivered.mbox").read_bytes().count(b"Subject: ") >= 2
    failed = _fetchmail(sasl_lab, tmp_path, "apop", "password", user="bob")
    assert failed.returncode != 0
    assert any("pop3-login" in line and "user=<bob>" in line and "APOP" in line
               for line in sasl_lab.logs()) or "-ERR" in failed.stdout + failed.stderr


@pytest.mark.parametrize("proto", ["imap", "pop3"])
def test_fetchmail_cram_md5(sasl_lab: Lab, tmp_path: Path, proto: str) -> None:
    proc = _fetchmail(sasl_lab, tmp_path, proto, "cram-md5")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "CRAM-MD5" in text
    assert (tmp_path / "delivered.mbox").read_bytes().count(b"Subject: ") >= 2


def test_mutt_cram_md5(sasl_lab: Lab, tmp_path: Path) -> None:
    saved = tmp_path / "saved.mbox"
    code, output = run_mutt(sasl_lab.port("imap"), tmp_path, saved,
                            extra='set imap_authenticators = "cram-md5"\n')
    assert code == 0, output.decode(errors="replace")
    assert saved.read_bytes().count(b"Subject: ") == 2
    assert any("method=CRAM-MD5" in line and "user=<alice>" in line
               for line in sasl_lab.logs())
