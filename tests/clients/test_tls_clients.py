"""fetchmail and mbsync fetch mail from the lab over implicit TLS (993 and 995)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.tls.harness import LAB_FILES, self_signed, tls_lab

from .conftest import MESSAGES, need


@pytest.fixture
def tls_mail_lab(tmp_path: Path):
    cert, key = self_signed("localhost")
    (tmp_path / "ca.pem").write_bytes(cert)
    lab = tls_lab("ssl = required\n" + LAB_FILES, cert, key)
    for message in MESSAGES:
        lab.deliver("alice", message)
    yield lab, tmp_path / "ca.pem"
    lab.cleanup()


@pytest.mark.parametrize("protocol,listener", [("pop3", "pop3s"), ("imap", "imaps")])
def test_fetchmail_over_tls(tls_mail_lab, tmp_path: Path, protocol: str, listener: str) -> None:
    fetchmail = need("fetchmail")
    lab, ca = tls_mail_lab
    out = tmp_path / f"{protocol}.mbox"
    rc = tmp_path / f"fetchmailrc-{protocol}"
    rc.write_text(f"poll localhost service {lab.port(listener)} protocol {protocol} "
                  f"auth password user alice password secret ssl sslcertck "
                  f"sslcertfile {ca} mda \"cat >> {out}\" keep\n")
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    proc = subprocess.run([fetchmail, "-f", str(rc), "-v", "--nodetach", "--nosyslog"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    delivered = out.read_bytes()
    assert b"Subject: first" in delivered and b"Subject: second" in delivered
    logins = lab.logs(f"{protocol}-login: Info: Login: user=<alice>")
    assert logins and all(", TLS, " in line for line in logins)


def test_mbsync_over_tls(tls_mail_lab, tmp_path: Path) -> None:
    mbsync = need("mbsync")
    lab, ca = tls_mail_lab
    local = tmp_path / "local"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""\
IMAPAccount lab
Host localhost
Port {lab.port('imaps')}
User alice
Pass secret
SSLType IMAPS
CertificateFile {ca}

IMAPStore remote
Account lab

MaildirStore near
Path {local}/
Inbox {local}/INBOX

Channel lab
Far :remote:
Near :near:
Patterns INBOX
Create Near
SyncState *
""")
    proc = subprocess.run([mbsync, "-c", str(rc), "-a"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, HOME=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    pulled = [p.read_bytes() for sub in ("cur", "new") for p in (local / "INBOX" / sub).iterdir()]
    assert sorted(b"Subject: first" in d for d in pulled) == [False, True]


def test_loopback_plaintext_counts_as_secured(tls_mail_lab, tmp_path: Path) -> None:
    """Under ssl = required, plaintext from 127.0.0.1 to 127.0.0.1 still logs in."""
    fetchmail = need("fetchmail")
    lab, _ = tls_mail_lab
    rc = tmp_path / "fetchmailrc-plain"
    rc.write_text(f"poll 127.0.0.1 service {lab.port('pop3')} protocol pop3 "
                  f"auth password user alice password secret sslproto '' "
                  f"mda \"cat >> {tmp_path}/never.mbox\" keep\n")
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    proc = subprocess.run([fetchmail, "-f", str(rc), "--nodetach", "--nosyslog"],
                          capture_output=True, text=True, timeout=120, env=env)
    # a connection whose client address is the server's own counts as secured, as in
    # Dovecot, so ssl = required lets this login through
    assert proc.returncode == 0, proc.stderr + proc.stdout
    (login,) = lab.logs("pop3-login: Info: Login: user=<alice>")
    assert ", secured, " in login and ", TLS, " not in login
