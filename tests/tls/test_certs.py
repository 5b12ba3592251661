"""``labserver mkcert`` against Dovecot's mkcert.sh and OpenSSL, and the certificate checks."""

from __future__ import annotations

import datetime
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from labserver.tls import certs
from labserver.tls.cli_mkcert import main as mkcert_main

from .harness import need_tool, self_signed

UPSTREAM_CNF = """\
[ req ]
default_bits = 2048
encrypt_key = yes
distinguished_name = req_dn
x509_extensions = cert_type
prompt = no

[ req_dn ]
# country (2 letter code)
#C=FI

# State or Province Name (full name)
#ST=

# Locality Name (eg. city)
#L=Helsinki

# Organization (eg. company)
#O=Dovecot

# Organizational Unit Name (eg. section)
OU=IMAP server

# Common Name (*.example.com is also possible)
CN=imap.example.com

# E-mail contact
emailAddress=postmaster@example.com

[ cert_type ]
nsCertType = server
"""

FULL_CNF = UPSTREAM_CNF.replace("#C=FI", "C=FI").replace("#ST=", "ST=Uusimaa").replace(
    "#L=Helsinki", "L=Helsinki").replace("#O=Dovecot", "O=Dovecot")

DEBIAN_SCRIPT = Path("/usr/share/dovecot/mkcert.sh")
DEBIAN_CNF = Path("/usr/share/dovecot/dovecot-openssl.cnf")


def _mkcert_sh(tmp: Path, layout: str) -> Path:
    """Debian's mkcert.sh, its fixed /etc/dovecot/ssl moved into ``tmp`` (``debian``), or
    turned back into Dovecot's own script that uses $SSLDIR (``upstream``)."""
    if not DEBIAN_SCRIPT.exists():
        if os.environ.get("CI"):
            pytest.fail("dovecot-core's mkcert.sh is missing")
        pytest.skip("dovecot-core (mkcert.sh) is not installed")
    text = DEBIAN_SCRIPT.read_text()
    if layout == "debian":
        text = text.replace("/etc/dovecot/ssl", str(tmp / "etc/dovecot/ssl"))
    else:
        text = text.replace("CERTDIR=/etc/dovecot/ssl", "CERTDIR=$SSLDIR/certs")
        text = text.replace("KEYDIR=/etc/dovecot/ssl", "KEYDIR=$SSLDIR/private")
        text = text.replace("KEYFILE=$KEYDIR/dovecot.key", "KEYFILE=$KEYDIR/dovecot.pem")
        text = text.replace('echo "$CERTDIR directory', 'echo "$SSLDIR/certs directory')
        text = text.replace('echo "$KEYDIR directory', 'echo "$SSLDIR/private directory')
    script = tmp / f"mkcert-{layout}.sh"
    script.write_text(text)
    return script


def _run_sh(script: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(script)], cwd=cwd, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def _describe(cert_path: Path) -> dict:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    text = _openssl("x509", "-in", str(cert_path), "-noout", "-text")
    return {
        "subject": _openssl("x509", "-in", str(cert_path), "-noout", "-subject"),
        "issuer_is_subject": cert.issuer == cert.subject,
        "days": (cert.not_valid_after_utc - cert.not_valid_before_utc).days,
        "key": re.search(r"Public-Key: \((\d+) bit\)", text).group(1),
        "algorithm": re.search(r"Signature Algorithm: (\S+)", text).group(1),
        "extensions": [line.strip() for line in text.splitlines()
                       if line.strip().startswith(("X509v3", "Netscape"))],
        "version": cert.version.name,
        "serial_bits": cert.serial_number.bit_length() > 100,
    }


@pytest.mark.parametrize("layout", ["upstream", "debian"])
def test_mkcert_makes_what_mkcert_sh_makes(tmp_path, layout) -> None:
    need_tool("openssl")
    theirs, mine = tmp_path / "theirs", tmp_path / "mine"
    for base in (theirs, mine):
        for sub in (("etc/dovecot/ssl",) if layout == "debian" else ("certs", "private")):
            (base / sub).mkdir(parents=True)
        (base / "dovecot-openssl.cnf").write_text(UPSTREAM_CNF)
    script = _mkcert_sh(tmp_path, layout) if layout == "upstream" else _mkcert_sh(theirs, layout)
    ran = _run_sh(script, theirs, {"SSLDIR": str(theirs)})
    assert ran.returncode == 0, ran.stderr
    if layout == "debian":
        result = certs.mkcert(layout="debian", root=str(mine),
                              opensslconfig="/dovecot-openssl.cnf")
        files = ("etc/dovecot/ssl/dovecot.pem", "etc/dovecot/ssl/dovecot.key")
    else:
        result = certs.mkcert(env={"SSLDIR": str(mine),
                                   "OPENSSLCONFIG": str(mine / "dovecot-openssl.cnf")})
        files = ("certs/dovecot.pem", "private/dovecot.pem")
    assert result.exit_code == 0, result.stderr
    # stdout: an empty line, subject=..., SHA1 Fingerprint=...
    assert re.fullmatch(r"\nsubject=.*\nSHA1 Fingerprint=([0-9A-F]{2}:){19}[0-9A-F]{2}\n",
                        ran.stdout)
    assert re.fullmatch(r"\nsubject=.*\nSHA1 Fingerprint=([0-9A-F]{2}:){19}[0-9A-F]{2}\n",
                        result.stdout)
    assert ran.stdout.split("\n")[1] == result.stdout.split("\n")[1]
    # what openssl says of our certificate is what we printed, byte for byte
    printed = _openssl("x509", "-subject", "-fingerprint", "-noout", "-in", str(mine / files[0]))
    assert "\n" + printed == result.stdout
    assert _describe(theirs / files[0]) == _describe(mine / files[0])
    for name in files:
        assert stat.S_IMODE((theirs / name).stat().st_mode) == 0o600
        assert stat.S_IMODE((mine / name).stat().st_mode) == 0o600
    assert (theirs / files[1]).read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (mine / files[1]).read_text().startswith("-----BEGIN PRIVATE KEY-----")
    _openssl("rsa", "-in", str(mine / files[1]), "-check", "-noout")
    # the key belongs to the certificate
    assert _openssl("x509", "-in", str(mine / files[0]), "-noout", "-pubkey") == \
        _openssl("pkey", "-in", str(mine / files[1]), "-pubout")


@pytest.mark.parametrize("prepare", ["nothing", "certs only", "cert exists", "key exists",
                                     "both exist"])
def test_refusals_read_as_mkcert_sh(tmp_path, prepare) -> None:
    need_tool("openssl")
    script = _mkcert_sh(tmp_path, "upstream")
    outs = []
    for side in ("theirs", "mine"):
        base = tmp_path / side
        base.mkdir()
        (base / "dovecot-openssl.cnf").write_text(UPSTREAM_CNF)
        if prepare != "nothing":
            (base / "certs").mkdir()
        if prepare not in ("nothing", "certs only"):
            (base / "private").mkdir()
        if prepare in ("cert exists", "both exist"):
            (base / "certs/dovecot.pem").write_text("old cert\n")
        if prepare in ("key exists", "both exist"):
            (base / "private/dovecot.pem").write_text("old key\n")
        if side == "theirs":
            ran = _run_sh(script, base, {"SSLDIR": str(base)})
            outs.append((ran.returncode, ran.stdout.replace(str(base), "SSLDIR")))
        else:
            cwd = os.getcwd()
            os.chdir(base)
            try:
                result = certs.mkcert(env={"SSLDIR": str(base)})
            finally:
                os.chdir(cwd)
            outs.append((result.exit_code, result.stdout.replace(str(base), "SSLDIR")))
    assert outs[0] == outs[1]
    assert outs[0][0] == 1
    if "exist" in prepare:
        assert "won't overwrite" in outs[0][1]
        for side in ("theirs", "mine"):
            found = sorted(p.read_text() for p in (tmp_path / side).rglob("dovecot.pem"))
            assert found == sorted({"cert exists": ["old cert\n"], "key exists": ["old key\n"],
                                    "both exist": ["old cert\n", "old key\n"]}[prepare])


def test_missing_openssl_config_exits_2(tmp_path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "private").mkdir()
    result = certs.mkcert(env={"SSLDIR": str(tmp_path),
                               "OPENSSLCONFIG": str(tmp_path / "nope.cnf")})
    assert result.exit_code == 2
    assert result.stderr.startswith(f'Can\'t open "{tmp_path}/nope.cnf" for reading, No such')
    assert not list(tmp_path.rglob("dovecot.pem"))


@pytest.mark.parametrize("cnf", ["full", "debian"])
def test_subject_fields_as_openssl_req_reads_them(tmp_path, cnf) -> None:
    need_tool("openssl")
    if cnf == "debian":
        if not DEBIAN_CNF.exists():
            pytest.skip("Debian's dovecot-openssl.cnf is not installed")
        text = DEBIAN_CNF.read_text()
    else:
        text = FULL_CNF
    (tmp_path / "x.cnf").write_text(text)
    ran = subprocess.run(["openssl", "req", "-new", "-x509", "-nodes", "-config",
                          str(tmp_path / "x.cnf"), "-out", str(tmp_path / "o.pem"), "-keyout",
                          str(tmp_path / "o.key"), "-days", "365"], capture_output=True,
                         text=True, timeout=120)
    for sub in ("certs", "private"):
        (tmp_path / sub).mkdir()
    result = certs.mkcert(ssldir=str(tmp_path), opensslconfig=str(tmp_path / "x.cnf"))
    if cnf == "debian":
        # Debian's file says RANDFILE = /dev/urandom: openssl req writes both files, then
        # fails to save its random state there (exit 1; mkcert.sh then exits 2 and prints
        # no subject). The lab does the same.
        assert ran.returncode == 1 and "Cannot write random bytes" in ran.stderr
        assert result.exit_code == 2 and "Cannot write random bytes" in result.stderr
        assert result.stdout == ""
    else:
        assert ran.returncode == 0 and result.exit_code == 0
    assert _describe(tmp_path / "o.pem") == _describe(tmp_path / "certs/dovecot.pem")
    if cnf == "full":
        assert result.stdout.split("\n")[1] == ("subject=C = FI, ST = Uusimaa, L = Helsinki, "
                                                "O = Dovecot, OU = IMAP server, CN = imap."
                                                "example.com, emailAddress = postmaster@"
                                                "example.com")


@pytest.mark.parametrize("value", ["a, b", "Zürich é", 'say "hi"', " lead", "trail ",
                                   "#hash", "semi;colon<>", "back\\slash", "x+y", "a=b",
                                   "tab\there"])
def test_subject_printing_matches_openssl(tmp_path, value) -> None:
    need_tool("openssl")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    path = tmp_path / "c.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert _openssl("x509", "-in", str(path), "-noout", "-subject", "-fingerprint") == \
        certs.subject_and_fingerprint(cert)


def test_key_is_never_readable_by_others_even_with_umask_0(tmp_path) -> None:
    for sub in ("certs", "private"):
        (tmp_path / sub).mkdir()
    (tmp_path / "x.cnf").write_text(UPSTREAM_CNF)
    old = os.umask(0)
    try:
        result = certs.mkcert(ssldir=str(tmp_path), opensslconfig=str(tmp_path / "x.cnf"))
    finally:
        os.umask(old)
    assert result.exit_code == 0
    assert stat.S_IMODE((tmp_path / "private/dovecot.pem").stat().st_mode) == 0o600
    assert not list(tmp_path.rglob(".mkcert-*"))


def test_cli_mkcert_uses_sslddir_and_openssl_config(tmp_path, monkeypatch, capsys) -> None:
    for sub in ("certs", "private"):
        (tmp_path / sub).mkdir()
    (tmp_path / "dovecot-openssl.cnf").write_text(UPSTREAM_CNF)
    monkeypatch.setenv("SSLDIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert mkcert_main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\nsubject=OU = IMAP server, CN = imap.example.com, emailAddress = ")
    assert mkcert_main([]) == 1
    assert capsys.readouterr().out == f"{tmp_path}/certs/dovecot.pem already exists, " \
        "won't overwrite\n"
    assert mkcert_main(["--check", str(tmp_path / "certs/dovecot.pem"),
                        str(tmp_path / "private/dovecot.pem"), "--host",
                        "imap.example.com"]) == 0
    out = capsys.readouterr().out
    assert "[ok] key matches certificate" in out and "[ok] host name" in out


def test_snakeoil_as_make_ssl_cert_and_postinst(tmp_path) -> None:
    result = certs.snakeoil(root=str(tmp_path), hostname="mail.lab.example")
    assert result.exit_code == 0
    cert_file = tmp_path / "etc/ssl/certs/ssl-cert-snakeoil.pem"
    key_file = tmp_path / "etc/ssl/private/ssl-cert-snakeoil.key"
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert certs.format_name(cert.subject) == "CN = mail.lab.example"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mail.lab.example"]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 3650
    assert stat.S_IMODE(cert_file.stat().st_mode) == 0o644
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o640
    link = tmp_path / "etc/dovecot/private/dovecot.pem"
    assert link.is_symlink() and link.resolve() == cert_file.resolve()
    assert (tmp_path / "etc/dovecot/private/dovecot.key").resolve() == key_file.resolve()
    make_ssl_cert = Path("/usr/sbin/make-ssl-cert")
    real = Path("/etc/ssl/certs/ssl-cert-snakeoil.pem")
    if make_ssl_cert.exists() and real.exists():
        theirs = _describe(real)
        ours = _describe(cert_file)
        for key in ("key", "algorithm", "days", "version", "extensions"):
            assert theirs[key] == ours[key], key


def test_checks_find_what_is_wrong(tmp_path) -> None:
    cert_pem, key_pem = self_signed("imap.example.com")
    other_cert, other_key = self_signed("other.example.com")
    cert, key = certs.load_pair(cert_pem, key_pem)
    assert certs.check_key_matches(cert, key).ok
    _, wrong = certs.load_pair(other_cert, other_key)
    bad = certs.check_key_matches(cert, wrong)
    assert not bad.ok and "different cert than ssl_cert" in bad.detail
    assert certs.check_hostname(cert, "imap.example.com").ok
    assert not certs.check_hostname(cert, "pop.example.com").ok
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=400)
    assert "expired on" in certs.check_expiry(cert, now=later).detail
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    os.chmod(tmp_path / "c.pem", 0o444)
    os.chmod(tmp_path / "k.pem", 0o644)
    modes = certs.check_modes(tmp_path / "c.pem", tmp_path / "k.pem")
    assert modes[0].ok and not modes[1].ok and "0644" in modes[1].detail
    os.chmod(tmp_path / "k.pem", 0o400)
    assert all(c.ok for c in certs.check_modes(tmp_path / "c.pem", tmp_path / "k.pem"))
    wildcard = x509.load_pem_x509_certificate(self_signed("*.example.com")[0])
    assert certs.check_hostname(wildcard, "imap.example.com").ok
    assert not certs.check_hostname(wildcard, "a.b.example.com").ok
