"""``mkimapdcert`` and ``mkpop3dcert``: Courier's self-signed certificates.

Courier's script reads a certtool template (``/etc/courier/imapd.cnf`` or ``pop3d.cnf``:
``organization``, ``unit``, ``locality``, ``state``, ``country``, ``cn``, ``email``,
``expiration_days``), makes a key and a self-signed certificate, and writes both into one
PEM file, ``/etc/courier/imapd.pem`` (``pop3d.pem``), mode 0600: the file
``TLS_CERTFILE`` names. It refuses to replace an existing file. The certificate itself
is made by the lab's TLS code (``labserver.tls.certs``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..config.resolve import PathResolver
from ..tls import certs

ETC = "/etc/courier"

# Debian's templates (the values of courier-imap's and courier-pop's .cnf files).
TEMPLATE = """\
organization = "Courier Mail Server"
unit = "Automatically-generated {label} SSL key"
locality = "New York"
state = "NY"
country = US
cn = "localhost"
serial = 001
expiration_days = 365
email = "postmaster@example.com"
"""
LABELS = {"imapd": "IMAP", "pop3d": "POP3"}
# certtool template key -> the subject's short name.
FIELDS = (("country", "C"), ("state", "ST"), ("locality", "L"), ("organization", "O"),
          ("unit", "OU"), ("cn", "CN"), ("email", "emailAddress"))


def write_templates(resolver: PathResolver) -> None:
    """Put Debian's ``imapd.cnf`` and ``pop3d.cnf`` into the lab (existing ones kept)."""
    for name, label in LABELS.items():
        real = Path(resolver.real(f"{ETC}/{name}.cnf"))
        real.parent.mkdir(parents=True, exist_ok=True)
        if not real.exists():
            real.write_text(TEMPLATE.format(label=label))


def read_template(text: str) -> dict[str, str]:
    """``key = value`` lines of a certtool template (quotes removed)."""
    out = {}
    for line in text.splitlines():
        match = re.match(r'\s*([A-Za-z_]+)\s*=\s*"?([^"]*)"?\s*$', line)
        if match and not line.lstrip().startswith("#"):
            out[match.group(1)] = match.group(2)
    return out


def mkcert(resolver: PathResolver, name: str) -> tuple[int, str, str]:
    """``mkimapdcert`` (``name="imapd"``) or ``mkpop3dcert``: (exit code, stdout, stderr)."""
    pem = f"{ETC}/{name}.pem"
    real = Path(resolver.real(pem))
    if real.exists():
        return 1, f"{pem} already exists.\n", ""
    try:
        values = read_template(Path(resolver.real(f"{ETC}/{name}.cnf")).read_text())
    except FileNotFoundError:
        return 1, "", f"{ETC}/{name}.cnf: No such file or directory\n"
    conf = certs.ReqConfig(subject=[(short, values[key], False) for key, short in FIELDS
                                    if values.get(key)])
    try:
        days = int(values.get("expiration_days", "365"))
        cert_pem, key_pem, _ = certs.make_certificate(conf, days=days)
    except (ValueError, certs.CertError) as exc:
        return 1, "", f"{name}.cnf: {exc}\n"
    real.parent.mkdir(parents=True, exist_ok=True)
    certs.write_new_file(real, key_pem + cert_pem, 0o600)
    os.chmod(real, 0o600)
    subject = certs.format_name(certs.x509.load_pem_x509_certificate(cert_pem).subject)
    return 0, f"Generating a self-signed certificate for {subject}\n{pem} written.\n", ""
