"""Client certificates: ``ssl_verify_client_cert``, ``ssl_ca``, ``ssl_require_crl``,
``auth_ssl_require_client_cert``, ``auth_ssl_username_from_cert`` and EXTERNAL, in the lab
and in Dovecot 2.3.19 with the same certificates and settings.

Three clients connect to imaps: one with a certificate from the CA in ``ssl_ca``
(CN=alice), one without a certificate and one with a certificate from another CA. Each
tries ``AUTHENTICATE EXTERNAL`` and then ``AUTHENTICATE PLAIN``. Dovecot lets every
handshake finish and leaves the verdict to authentication; ``ssl_require_crl = yes`` (the
default) with a CA that has no CRL makes every certificate invalid. The replies and the
auth process's lines must be the same (the login process's disconnect reason, "client
didn't send a cert", is not imitated: docs/differences.md).
"""

from __future__ import annotations

import base64
import datetime
import re
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.auth.test_mech_differential import normalise

from .harness import DOVECOT_FILES, LAB_FILES, self_signed, tls_dovecot, tls_lab

CERT, KEY = self_signed("imap.example.com")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _make(subject: str, issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
          ca: bool = False) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(issuer[0].subject if issuer else _name(subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=30)))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                        critical=True)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


LAB_CA = _make("Lab CA", None, ca=True)
OTHER_CA = _make("Other CA", None, ca=True)
CLIENTS = {"valid cert": _make("alice", LAB_CA), "no cert": None,
           "cert from another CA": _make("alice", OTHER_CA)}
CA_PEM = LAB_CA[0].public_bytes(serialization.Encoding.PEM)

BASE = "ssl = yes\nssl_verify_client_cert = yes\nauth_mechanisms = plain external\n" \
       "auth_verbose = yes\n"
CASES = {
    "required, names from certificates": "ssl_require_crl = no\n"
    "auth_ssl_require_client_cert = yes\nauth_ssl_username_from_cert = yes\n",
    "required, ssl_require_crl at its default": "auth_ssl_require_client_cert = yes\n",
    "names from certificates only": "ssl_require_crl = no\n"
    "auth_ssl_username_from_cert = yes\n",
}
COMMANDS = [b"a AUTHENTICATE EXTERNAL =",
            b"b AUTHENTICATE PLAIN " + base64.b64encode(b"\0bob\0secret")]


def _session(port: int, client: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
             tmp: Path, source: str) -> list[bytes]:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if client is not None:
        (tmp / "c.pem").write_bytes(client[0].public_bytes(serialization.Encoding.PEM))
        (tmp / "k.pem").write_bytes(client[1].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    lines: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), 10, (source, 0)) as raw, \
            ctx.wrap_socket(raw) as tls:
        buf = b""
        for command in [None, *COMMANDS]:
            if command is not None:
                tls.sendall(command + b"\r\n")
            while b"\r\n" not in buf:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                buf += chunk
            line, _, buf = buf.partition(b"\r\n")
            lines.append(line)
    return lines


def _auth_lines(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        m = re.search(r"\b(auth: \w+: .*)$", line)
        if m:
            text = re.sub(r",<[^>]*>\)", ",<S>)", m.group(1))
            out.append(re.sub(r",127\.0\.0\.\d+,", ",<IP>,", text))
    return out


def _observe(logs: Callable[[], list[str]], port: int, tmp: Path) -> dict[str, tuple]:
    seen = {}
    for number, (name, client) in enumerate(CLIENTS.items()):
        before = len(logs())
        # an address of its own: Dovecot's auth penalty would delay a second failure
        replies = normalise(_session(port, client, tmp, f"127.0.0.{2 + number}"))
        time.sleep(0.4)
        seen[name] = (replies, _auth_lines(logs()[before:]))
    return seen


@pytest.mark.parametrize("case", list(CASES))
def test_client_certificates_as_dovecot_judges_them(case: str, tmp_path: Path) -> None:
    settings = BASE + CASES[case]
    lab = tls_lab(settings + LAB_FILES + "ssl_ca = </etc/dovecot/ca.pem\n", CERT, KEY,
                  files={"/etc/dovecot/ca.pem": CA_PEM},
                  users={"alice": "secret"})
    try:
        ours = _observe(lab.logs, lab.port("imaps"), tmp_path)
    finally:
        lab.cleanup()
    with tls_dovecot(settings + DOVECOT_FILES + "ssl_ca = <{tmp}/ca.pem\n",
                     {"cert.pem": CERT, "key.pem": KEY, "ca.pem": CA_PEM}) as dc:
        theirs = _observe(lambda: dc.log().splitlines(), dc.imaps_port, tmp_path)
    assert ours == theirs
    valid_replies = ours["valid cert"][0]
    if "require_crl = no" in settings:
        # the certificate's CN (alice) replaces the name the client gave (bob)
        assert valid_replies[-1] == "b OK [CAPABILITY] Logged in"
    if "require_client_cert" in settings and "require_crl = no" not in settings:
        assert valid_replies[-1] == "b NO [ALERT] Client didn't present valid SSL certificate"
