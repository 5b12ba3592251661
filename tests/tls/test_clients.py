"""Real TLS clients against the lab: openssl s_client, gnutls-cli, curl.

Certificates come from ``labserver mkcert`` (the lab's own tool), from Dovecot's mkcert.sh
and from ``openssl req``; each must serve. A certificate made by ``labserver mkcert`` must
also load in real Dovecot.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labserver.tls import certs

from .harness import LAB_FILES, need_tool, self_signed, tls_dovecot, tls_lab

CHAPTER = ("ssl = required\nssl_cipher_list = AES256+EECDH:AES256+EDH\n"
           "ssl_prefer_server_ciphers = yes\n")


def _mkcert_pair(tmp: Path) -> tuple[bytes, bytes]:
    for sub in ("certs", "private"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    (tmp / "x.cnf").write_text("[ req ]\ndistinguished_name = dn\nprompt = no\n"
                               "x509_extensions = ext\n[ dn ]\nCN = imap.example.com\n"
                               "[ ext ]\nnsCertType = server\n")
    result = certs.mkcert(ssldir=str(tmp), opensslconfig=str(tmp / "x.cnf"))
    assert result.exit_code == 0, result.stderr
    return (tmp / "certs/dovecot.pem").read_bytes(), (tmp / "private/dovecot.pem").read_bytes()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cert, key = _mkcert_pair(tmp_path_factory.mktemp("mkcert"))
    lab = tls_lab("ssl = yes\n" + LAB_FILES, cert, key)
    lab.deliver("alice", b"Subject: hello\n\nbody\n")
    yield lab
    lab.cleanup()


def _s_client(args: list[str], stdin: str, timeout: float = 20) -> subprocess.CompletedProcess:
    need_tool("openssl")
    return subprocess.run(["openssl", "s_client", "-crlf", "-ign_eof", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("how", ["starttls imap", "imaps", "starttls pop3", "pop3s"])
def test_openssl_s_client(lab, how) -> None:
    protocol = "imap" if "imap" in how else "pop3"
    if how.startswith("starttls"):
        args = ["-starttls", protocol, "-connect", f"127.0.0.1:{lab.port(protocol)}"]
    else:
        args = ["-connect", f"127.0.0.1:{lab.port(how)}"]
    if protocol == "imap":
        stdin = "a LOGIN alice secret\na SELECT INBOX\na LOGOUT\n"
    else:
        stdin = "USER alice\nPASS secret\nSTAT\nQUIT\n"
    ran = _s_client(args, stdin)
    out = ran.stdout
    assert "Protocol  : TLSv1.3" in out or "New, TLSv1.3" in out, out[-2000:]
    assert "subject=CN = imap.example.com" in out
    if protocol == "imap":
        # after s_client's own CAPABILITY the capabilities come untagged, as Dovecot does
        assert "a OK [CAPABILITY" in out or "\na OK Logged in" in out, out
        assert "Logged in" in out
        assert "* 1 EXISTS" in out and "a OK Logout completed" in out
    else:
        assert "+OK Logged in." in out and "+OK 1 " in out and "+OK Logging out." in out


@pytest.mark.parametrize("proto", ["imaps", "pop3s"])
@pytest.mark.parametrize("versions", [["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"],
                                      ["--tlsv1.1", "--tls-max", "1.1"]])
def test_curl(lab, proto, versions) -> None:
    need_tool("curl")
    url = f"{proto}://127.0.0.1:{lab.port(proto)}/" + ("INBOX" if proto == "imaps" else "")
    ran = subprocess.run(["curl", "-sS", "--insecure", "-u", "alice:secret", *versions,
                          "-v", url], capture_output=True, text=True, timeout=30)
    if "1.1" in versions:
        # ssl_min_protocol = TLSv1.2 (and Debian's policy): no handshake
        assert ran.returncode == 35, ran.stderr
        return
    assert ran.returncode == 0, ran.stderr
    want = "TLSv1.2" if "1.2" in versions else "TLSv1.3"
    assert f"SSL connection using {want}" in ran.stderr
    if proto == "imaps":
        assert ran.stdout  # curl prints the mailbox listing / message
    else:
        assert ran.stdout.startswith("1 ")


def test_gnutls_cli_connects(lab) -> None:
    need_tool("gnutls-cli")
    ran = subprocess.run(["gnutls-cli", "--insecure", "-p", str(lab.port("imaps")),
                          "127.0.0.1"], input="a LOGOUT\r\n", capture_output=True, text=True,
                         timeout=30)
    assert "Handshake was completed" in ran.stdout + ran.stderr
    import time

    time.sleep(0.3)
    # gnutls-cli leaves at the end of its input, before printing the answer; the log shows
    # the command arrived over TLS
    assert any("Aborted login by logging out" in line and ", TLS, " in line
               for line in lab.logs()), lab.logs()


def _no_shared_cipher(port: int) -> subprocess.CompletedProcess:
    # A client that only speaks AES-128 with TLS 1.2, against AES256+EECDH:AES256+EDH.
    return subprocess.run(["gnutls-cli", "--insecure", "-p", str(port), "--priority",
                           "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:"
                           "+AES-128-CBC", "127.0.0.1"], input="", capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("server", ["lab", "dovecot"])
def test_gnutls_no_shared_cipher_as_in_the_chapter(tmp_path, server) -> None:
    need_tool("gnutls-cli")
    cert, key = self_signed()
    if server == "lab":
        lab = tls_lab(CHAPTER + LAB_FILES, cert, key)
        try:
            ran = _no_shared_cipher(lab.port("imaps"))
            log = "\n".join(lab.logs())
        finally:
            lab.cleanup()
    else:
        with tls_dovecot(CHAPTER + "ssl_cert = <{tmp}/c.pem\nssl_key = <{tmp}/k.pem\n",
                         {"c.pem": cert, "k.pem": key}) as dc:
            ran = _no_shared_cipher(dc.imaps_port)
            import time

            time.sleep(0.3)
            log = dc.log()
    text = ran.stdout + ran.stderr
    assert ran.returncode != 0
    # The chapter shows mutt's "A TLS fatal alert has been received.(Handshake failed)".
    # Dovecot 2.3.19.1 (and the lab) close without sending the alert, so gnutls-cli says
    # the connection "was non-properly terminated"; the server's log names the cause.
    assert "*** Fatal error: The TLS connection was non-properly terminated." in text or \
        "A TLS fatal alert has been received" in text, text
    assert "SSL_accept() failed: error:0A0000C1:SSL routines::no shared cipher" in log


def test_certificates_from_mkcert_sh_and_openssl_req_serve_in_the_lab(tmp_path) -> None:
    need_tool("openssl")
    subprocess.run(["openssl", "req", "-new", "-x509", "-nodes", "-subj", "/CN=req.example",
                    "-newkey", "rsa:2048", "-keyout", str(tmp_path / "req.key"), "-out",
                    str(tmp_path / "req.pem"), "-days", "30"], capture_output=True, check=True,
                   timeout=120)
    pairs = {"openssl req": ((tmp_path / "req.pem").read_bytes(),
                             (tmp_path / "req.key").read_bytes())}
    script = Path("/usr/share/dovecot/mkcert.sh")
    if script.exists():
        base = tmp_path / "mkcert"
        (base / "ssl").mkdir(parents=True)
        (base / "m.sh").write_text(script.read_text().replace("/etc/dovecot/ssl",
                                                              str(base / "ssl")))
        (base / "c.cnf").write_text("[ req ]\ndistinguished_name = dn\nprompt = no\n"
                                    "[ dn ]\nCN = mkcert.example\n")
        ran = subprocess.run(["sh", str(base / "m.sh")], cwd=base, capture_output=True,
                             text=True, env={**os.environ, "OPENSSLCONFIG": "c.cnf"},
                             timeout=120)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        pairs["mkcert.sh"] = ((base / "ssl/dovecot.pem").read_bytes(),
                              (base / "ssl/dovecot.key").read_bytes())
    for name, (cert, key) in pairs.items():
        lab = tls_lab("ssl = required\n" + LAB_FILES, cert, key)
        try:
            ran = _s_client(["-connect", f"127.0.0.1:{lab.port('imaps')}"], "a LOGOUT\n")
            assert "* OK [CAPABILITY" in ran.stdout, name
            cn = "req.example" if name == "openssl req" else "mkcert.example"
            assert f"subject=CN = {cn}" in ran.stdout, name
        finally:
            lab.cleanup()


def test_labserver_mkcert_certificate_loads_in_real_dovecot(tmp_path) -> None:
    cert, key = _mkcert_pair(tmp_path)
    with tls_dovecot("ssl = required\nssl_cert = <{tmp}/c.pem\nssl_key = <{tmp}/k.pem\n",
                     {"c.pem": cert, "k.pem": key}) as dc:
        ran = _s_client(["-connect", f"127.0.0.1:{dc.imaps_port}"], "a LOGOUT\n")
        assert "* OK [CAPABILITY" in ran.stdout, ran.stdout + dc.log()
        assert "subject=CN = imap.example.com" in ran.stdout
        assert "Error" not in dc.log()
