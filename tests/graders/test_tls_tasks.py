"""TLS graders: right answers written differently pass, typical mistakes fail, and for the
server-behaviour tasks the verdict is the same when real Dovecot runs the configuration."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import graders
from labserver.service.lab import DEFAULT_CONFIG
from labserver.tls import certs
from tests.tools import require_program

PAIR = ("ssl_cert = </etc/dovecot/private/dovecot.pem\n"
        "ssl_key = </etc/dovecot/private/dovecot.key\n")
BASE = DEFAULT_CONFIG.replace("ssl = no\n", "")
NO_PLAIN_PORTS = """service imap-login {
  inet_listener imap {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
"""
CHAPTER = ("ssl_cipher_list = AES256+EECDH:AES256+EDH\nssl_prefer_server_ciphers = yes\n"
           "ssl_dh = </etc/dovecot/dh.pem\n")


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    """A submission folder holding dovecot.conf and the files it includes."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def _dovecot() -> None:
    require_program("dovecot", "dovecot-core")


# -- ssl-required ----------------------------------------------------------------------------

SSL_REQUIRED_GOOD = {
    "required": BASE + "ssl = required\n" + PAIR,
    "implicit TLS only (the chapter's listeners)": BASE + "ssl = required\n" + PAIR
    + NO_PLAIN_PORTS,
    "yes + disable_plaintext_auth": BASE.replace("disable_plaintext_auth = no",
                                                 "disable_plaintext_auth = yes")
    + "ssl = yes\n" + PAIR,
    "per protocol": BASE + "ssl = yes\n" + PAIR
    + "protocol imap {\n  ssl = required\n}\nprotocol pop3 {\n  ssl = required\n}\n",
}
SSL_REQUIRED_BAD = {
    "ssl = yes only": (BASE + "ssl = yes\n" + PAIR, "LOGIN is refused"),
    "imap only": (BASE + "ssl = yes\n" + PAIR + "protocol imap {\n  ssl = required\n}\n",
                  "pop3 (port 110) without TLS: USER/PASS is refused"),
    "trusted network": (BASE + "ssl = required\n" + PAIR
                        + "login_trusted_networks = 127.0.0.0/8\n", "LOGIN is refused"),
    "ssl = no": (BASE + "ssl = no\ndisable_plaintext_auth = yes\n",
                 "imaps (implicit TLS) accepts a login: no imaps listener"),
}


@pytest.mark.parametrize("name", SSL_REQUIRED_GOOD)
def test_ssl_required_passes_however_it_is_written(name: str) -> None:
    verdict = graders.check("ssl-required", SSL_REQUIRED_GOOD[name])
    assert verdict.passed, verdict


def test_ssl_required_through_an_include(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"dovecot.conf": BASE + "!include conf.d/*.conf\n",
                                "conf.d/10-ssl.conf": "ssl = required\n" + PAIR})
    assert graders.check("ssl-required", folder).passed


@pytest.mark.parametrize("name", SSL_REQUIRED_BAD)
def test_ssl_required_catches_typical_mistakes(name: str) -> None:
    text, missing = SSL_REQUIRED_BAD[name]
    verdict = graders.check("ssl-required", text)
    assert not verdict.passed and 0 <= verdict.score < 1
    assert any(line.startswith("  [MISS]") and missing in line
               for line in verdict.feedback.splitlines()), verdict
    assert "See: 05-ssl-mkcert" in str(verdict)


CRAM = (BASE.replace("disable_plaintext_auth = no", "disable_plaintext_auth = yes")
        .replace("auth_mechanisms = plain login", "auth_mechanisms = plain login cram-md5")
        + "ssl = yes\n" + PAIR)


def test_a_challenge_response_login_without_tls_counts_too() -> None:
    """disable_plaintext_auth = yes still lets CRAM-MD5 log in without TLS; ssl = required
    does not."""
    text = CRAM
    verdict = graders.check("ssl-required", text)
    assert not verdict.passed
    assert "[MISS] imap (port 143) without TLS: AUTHENTICATE CRAM-MD5 is refused" in (
        verdict.feedback)
    assert graders.check("ssl-required", text.replace("ssl = yes", "ssl = required")).passed


def test_a_config_that_does_not_parse_gets_doveconfs_words() -> None:
    for task in ("ssl-required", "cipher-hardening", "ssl-cert-paths"):
        verdict = graders.check(task, BASE + "ssl = maybe\n")
        assert not verdict.passed and verdict.score == 0
        assert "Invalid value: maybe" in verdict.feedback


@pytest.mark.parametrize("name", ["required", "yes + disable_plaintext_auth", "per protocol",
                                  "implicit TLS only (the chapter's listeners)",
                                  "ssl = yes only", "imap only", "trusted network", "cram-md5"])
def test_ssl_required_agrees_with_real_dovecot(name: str) -> None:
    _dovecot()
    text = {**SSL_REQUIRED_GOOD, **{k: v[0] for k, v in SSL_REQUIRED_BAD.items()},
            "cram-md5": CRAM}[name]
    lab = graders.check("ssl-required", text)
    real = graders.check("ssl-required", text, engine="dovecot")
    assert (lab.passed, lab.score) == (real.passed, real.score), (lab, real)


# -- cipher-hardening ------------------------------------------------------------------------

HARDENED = {
    "the chapter's lines, in 2.3": BASE + "ssl = required\n" + PAIR + CHAPTER,
    "old ssl_protocols syntax (converted)": BASE + "ssl = required\n" + PAIR + CHAPTER
    + "ssl_protocols = !SSLv3 !TLSv1 !TLSv1.1\n",
    "ECDHE only, in protocol blocks": BASE + "ssl = yes\n" + PAIR
    + "".join(f"protocol {p} {{\n  ssl_cipher_list = ECDHE+AES256:!SHA1\n"
              "  ssl_prefer_server_ciphers = yes\n}\n" for p in ("imap", "pop3")),
}
NOT_HARDENED = {
    "defaults": (BASE + "ssl = yes\n" + PAIR, "refuses every suite that is not"),
    "client order": (BASE + "ssl = yes\n" + PAIR + CHAPTER.replace(
        "ssl_prefer_server_ciphers = yes\n", ""), "the server's cipher order wins"),
    "floor at TLS 1.1 (ssl_protocols = !SSLv3 !TLSv1)": (
        BASE + "ssl = yes\n" + PAIR + CHAPTER + "ssl_protocols = !SSLv3 !TLSv1\n",
        "the configuration's floor is TLSv1.2"),
    "imap only": (BASE + "ssl = yes\n" + PAIR + "protocol imap {\n"
                  "  ssl_cipher_list = AES256+EECDH\n  ssl_prefer_server_ciphers = yes\n}\n",
                  "pop3s: TLS 1.2 refuses"),
}


@pytest.mark.parametrize("name", HARDENED)
def test_cipher_hardening_passes_however_it_is_written(name: str) -> None:
    verdict = graders.check("cipher-hardening", HARDENED[name])
    assert verdict.passed, verdict


def test_cipher_hardening_from_a_file_include(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"dovecot.conf": BASE + "ssl = yes\n" + PAIR
                                + "!include_try /etc/dovecot/conf.d/10-ssl.conf\n",
                                "conf.d/10-ssl.conf": CHAPTER})
    assert graders.check("cipher-hardening", folder).passed


@pytest.mark.parametrize("name", NOT_HARDENED)
def test_cipher_hardening_catches_typical_mistakes(name: str) -> None:
    text, missing = NOT_HARDENED[name]
    verdict = graders.check("cipher-hardening", text)
    assert not verdict.passed and 0 < verdict.score < 1
    assert any(line.startswith("  [MISS]") and missing in line
               for line in verdict.feedback.splitlines()), verdict


def test_tls13_is_not_restricted_by_the_cipher_list() -> None:
    text = HARDENED["the chapter's lines, in 2.3"]
    verdict = graders.check("cipher-hardening", text, listeners=["imaps"],
                            tls13_aes256_only=True)
    assert not verdict.passed
    assert "[MISS] imaps: TLS 1.3 refuses suites other than" in verdict.feedback
    fixed = text + "ssl_cipher_suites = TLS_AES_256_GCM_SHA384\n"
    assert graders.check("cipher-hardening", fixed, listeners=["imaps"],
                         tls13_aes256_only=True).passed


@pytest.mark.parametrize("name", ["the chapter's lines, in 2.3",
                                  "old ssl_protocols syntax (converted)",
                                  "ECDHE only, in protocol blocks", "defaults", "client order",
                                  "floor at TLS 1.1 (ssl_protocols = !SSLv3 !TLSv1)"])
def test_cipher_hardening_agrees_with_real_dovecot(name: str) -> None:
    _dovecot()
    text = {**HARDENED, **{k: v[0] for k, v in NOT_HARDENED.items()}}[name]
    lab = graders.check("cipher-hardening", text, listeners=["imaps"])
    real = graders.check("cipher-hardening", text, listeners=["imaps"], engine="dovecot")
    assert (lab.passed, lab.score) == (real.passed, real.score), (lab, real)


@pytest.mark.parametrize("engine", ["lab", "dovecot"])
def test_a_cipher_list_read_from_a_file(tmp_path: Path, engine: str) -> None:
    """``ssl_cipher_list = </file`` works, but the file's last newline becomes part of the
    value and OpenSSL refuses the list: Dovecot and the lab both fail every handshake."""
    if engine == "dovecot":
        _dovecot()
    folder = _folder(tmp_path, {"dovecot.conf": BASE + "ssl = yes\n" + PAIR
                                + "ssl_cipher_list = </etc/dovecot/ciphers.txt\n"
                                "ssl_prefer_server_ciphers = yes\n",
                                "ciphers.txt": "ECDHE+AES256:!SHA1"})
    assert graders.check("cipher-hardening", folder, listeners=["imaps"], engine=engine).passed
    (folder / "ciphers.txt").write_text("ECDHE+AES256:!SHA1\n")
    verdict = graders.check("cipher-hardening", folder, listeners=["imaps"], engine=engine)
    assert not verdict.passed
    assert "[MISS] imaps: TLS 1.2 works with a forward-secret AES256 suite" in verdict.feedback
    assert any("Can't set cipher list" in line for line in verdict.evidence)


# -- cipher-choice ---------------------------------------------------------------------------

OFFER = ["ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"]


@pytest.mark.parametrize("engine", ["lab", "dovecot"])
def test_cipher_choice_follows_whose_order_wins(engine: str) -> None:
    if engine == "dovecot":
        _dovecot()
    plain = BASE + "ssl = yes\n" + PAIR + "ssl_cipher_list = AES256+EECDH\n"
    server = plain + "ssl_prefer_server_ciphers = yes\n"
    assert graders.check("cipher-choice", OFFER[0], config=plain, offer=OFFER,
                         engine=engine).passed
    assert graders.check("cipher-choice", OFFER[1], config=server, offer=OFFER,
                         engine=engine).passed
    wrong = graders.check("cipher-choice", OFFER[0], config=server, offer=OFFER, engine=engine)
    assert not wrong.passed and "the server chose ECDHE-RSA-AES256-GCM-SHA384" in wrong.feedback
    refused = graders.check("cipher-choice", "no shared cipher", config=plain,
                            offer=["ECDHE-RSA-AES128-GCM-SHA256"], engine=engine)
    assert refused.passed
    assert "Dovecot logged:" in refused.feedback and "no shared cipher" in (
        refused.feedback.split("Dovecot logged:")[1])


def test_cipher_choice_for_tls13_and_for_a_version_it_does_not_judge() -> None:
    config = BASE + "ssl = yes\n" + PAIR + "ssl_cipher_suites = TLS_AES_256_GCM_SHA384\n"
    assert graders.check("cipher-choice", "TLS_AES_256_GCM_SHA384", config=config,
                         offer=["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"],
                         version="TLSv1.3").passed
    verdict = graders.check("cipher-choice", "AES128-SHA", config=config, offer=["AES128-SHA"],
                            version="TLSv1.1")
    assert not verdict.passed and "TLSv1.2 or TLSv1.3" in verdict.feedback


# -- mkcert ----------------------------------------------------------------------------------

CNF = """[ req ]
default_bits = 2048
distinguished_name = req_dn
x509_extensions = cert_type
prompt = no

[ req_dn ]
OU=IMAP server
CN={cn}
emailAddress=postmaster@example.org

[ cert_type ]
nsCertType = server
"""


def _mkcert(root: Path, cn: str = "imap.example.org", layout: str = "upstream") -> Path:
    for sub in ("etc/ssl/certs", "etc/ssl/private", "etc/dovecot/ssl"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "dovecot-openssl.cnf").write_text(CNF.format(cn=cn))
    result = certs.mkcert(ssldir="/etc/ssl", opensslconfig="/dovecot-openssl.cnf",
                          root=str(root), layout=layout)
    assert result.exit_code == 0, result
    return root / ("etc/ssl" if layout == "upstream" else "etc/dovecot/ssl")


def test_mkcert_output_passes_in_each_shape(tmp_path: Path) -> None:
    ssldir = _mkcert(tmp_path / "a")
    assert graders.check("mkcert", ssldir, cn="imap.example.org").passed
    assert graders.check("mkcert", tmp_path / "a", subject={"OU": "IMAP server"}).passed
    debian = _mkcert(tmp_path / "b", layout="debian")
    os.chmod(debian / "dovecot.key", 0o400)
    os.chmod(debian / "dovecot.pem", 0o444)
    assert graders.check("mkcert", debian, cn="imap.example.org").passed
    pair = (str(debian / "dovecot.pem"), str(debian / "dovecot.key"))
    assert graders.check("mkcert", pair, cn="imap.example.org").passed


def test_mkcert_mistakes(tmp_path: Path) -> None:
    ssldir = _mkcert(tmp_path / "a", cn="mail.example.org")
    verdict = graders.check("mkcert", ssldir, cn="imap.example.org")
    assert not verdict.passed and "[MISS] the subject has CN = imap.example.org" in (
        verdict.feedback)
    os.chmod(ssldir / "private/dovecot.pem", 0o644)
    verdict = graders.check("mkcert", ssldir, cn="mail.example.org")
    assert "[MISS] the key is readable by its owner only" in verdict.feedback
    other = _mkcert(tmp_path / "b")
    shutil.copy(other / "private/dovecot.pem", ssldir / "private/dovecot.pem")
    verdict = graders.check("mkcert", ssldir, cn="mail.example.org")
    assert "[MISS] the key belongs to the certificate" in verdict.feedback
    assert "[MISS] Dovecot loads the pair" in verdict.feedback
    (ssldir / "certs/dovecot.pem").write_text("not a certificate\n")
    verdict = graders.check("mkcert", ssldir)
    assert verdict.score == 0 and "There is no valid PEM certificate." in verdict.feedback
    verdict = graders.check("mkcert", tmp_path / "nowhere")
    assert not verdict.passed and "cannot be read" in verdict.feedback


def test_mkcert_with_a_key_password(tmp_path: Path) -> None:
    ssldir = _mkcert(tmp_path)
    key_path = ssldir / "private/dovecot.pem"
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret")))
    assert graders.check("mkcert", ssldir, password="s3cret").passed
    verdict = graders.check("mkcert", ssldir)
    assert not verdict.passed and "Couldn't parse private SSL key" in verdict.feedback


def test_mkcert_pair_loads_in_real_dovecot(tmp_path: Path) -> None:
    _dovecot()
    verdict = graders.check("mkcert", _mkcert(tmp_path), cn="imap.example.org",
                            engine="dovecot")
    assert verdict.passed, verdict


# -- ssl-cert-paths --------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["lab", "dovecot"])
def test_cert_paths_and_the_forgotten_lt(tmp_path: Path, engine: str) -> None:
    if engine == "dovecot":
        _dovecot()
    _mkcert(tmp_path)
    conf = tmp_path / "etc/dovecot/dovecot.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    good = BASE + ("ssl = yes\nssl_cert = </etc/ssl/certs/dovecot.pem\n"
                   "ssl_key = </etc/ssl/private/dovecot.pem\n")
    conf.write_text(good)
    verdict = graders.check("ssl-cert-paths", tmp_path, cn="imap.example.org", engine=engine)
    assert verdict.passed, verdict
    assert not graders.check("ssl-cert-paths", tmp_path, cn="other.example.org",
                             engine=engine).passed
    conf.write_text(good.replace("= </etc/ssl/certs", "= /etc/ssl/certs"))
    verdict = graders.check("ssl-cert-paths", tmp_path, engine=engine)
    assert not verdict.passed
    assert "There is no valid PEM certificate." in verdict.feedback
    assert "You probably forgot '<'" in verdict.feedback


def test_feedback_points_at_real_notebook_sections() -> None:
    from graders import tls_tasks

    root = Path(__file__).resolve().parents[2] / "notebooks"
    for see in (v for k, v in vars(tls_tasks).items() if k.startswith("SEE_")):
        notebook, _, section = see.partition(": ")
        text = (root / notebook / f"{notebook}.ipynb").read_text(encoding="utf-8")
        assert f"## {section}\\n" in text, see


def test_without_debians_dh_file_the_grader_provides_rfc7919s_group(monkeypatch) -> None:
    from graders import tls_tasks

    monkeypatch.setattr(tls_tasks, "DEBIAN_DH", Path("/nonexistent/dh.pem"))
    verdict = graders.check("cipher-hardening", HARDENED["the chapter's lines, in 2.3"],
                            listeners=["imaps"])
    assert verdict.passed and "DHE uses a group of at least 2048 bits" in verdict.feedback
