"""ssl_* settings: the lab's errors read as real Dovecot's log lines; settings take effect."""

from __future__ import annotations

import re
import socket
import ssl
import time
import warnings

import pytest

from labserver.tls import _openssl
from labserver.tls.context import TLSConfigError, TLSSettings, server_context

from .harness import (
    DEFAULT_CIPHERS,
    DOVECOT_FILES,
    LAB_FILES,
    dh_params,
    dovecot_start_error,
    self_signed,
    tls_lab,
)

CERT, KEY = self_signed("imap.example.com")
CERT2, KEY2 = self_signed("other.example.com")
ENC_CERT, ENC_KEY = self_signed("imap.example.com", password=b"right")
GARBAGE = b"hello world\nnot a pem\n"

# name: (lab files (cert, key), extra lab lines, Dovecot files, extra Dovecot lines)
BAD = {
    "forgot <": ((CERT, KEY), "ssl_cert = /etc/dovecot/cert.pem\n"
                 "ssl_key = </etc/dovecot/private/key.pem\n",
                 {"cert.pem": CERT, "key.pem": KEY},
                 "ssl_cert = {tmp}/cert.pem\nssl_key = <{tmp}/key.pem\n"),
    "key forgot <": ((CERT, KEY), "ssl_cert = </etc/dovecot/cert.pem\n"
                     "ssl_key = /etc/dovecot/private/key.pem\n",
                     {"cert.pem": CERT, "key.pem": KEY},
                     "ssl_cert = <{tmp}/cert.pem\nssl_key = {tmp}/key.pem\n"),
    "cert not matching key": ((CERT, KEY2), LAB_FILES, {"cert.pem": CERT, "key.pem": KEY2},
                              DOVECOT_FILES),
    "no password": ((ENC_CERT, ENC_KEY), LAB_FILES, {"cert.pem": ENC_CERT, "key.pem": ENC_KEY},
                    DOVECOT_FILES),
    "wrong password": ((ENC_CERT, ENC_KEY), LAB_FILES + "ssl_key_password = wrong\n",
                       {"cert.pem": ENC_CERT, "key.pem": ENC_KEY},
                       DOVECOT_FILES + "ssl_key_password = wrong\n"),
    "garbage cert": ((GARBAGE, KEY), LAB_FILES, {"cert.pem": GARBAGE, "key.pem": KEY},
                     DOVECOT_FILES),
    "garbage key": ((CERT, GARBAGE), LAB_FILES, {"cert.pem": CERT, "key.pem": GARBAGE},
                    DOVECOT_FILES),
    "swapped": ((KEY, CERT), LAB_FILES, {"cert.pem": KEY, "key.pem": CERT}, DOVECOT_FILES),
    "empty cert": ((CERT, KEY), "ssl_cert =\nssl_key = </etc/dovecot/private/key.pem\n",
                   {"key.pem": KEY}, "ssl_cert =\nssl_key = <{tmp}/key.pem\n"),
    "bad min protocol": ((CERT, KEY), LAB_FILES + "ssl_min_protocol = TLSv9\n",
                         {"cert.pem": CERT, "key.pem": KEY},
                         DOVECOT_FILES + "ssl_min_protocol = TLSv9\n"),
    "bad cipher list": ((CERT, KEY), LAB_FILES + "ssl_cipher_list = FOO\n",
                        {"cert.pem": CERT, "key.pem": KEY},
                        DOVECOT_FILES + "ssl_cipher_list = FOO\n"),
    "bad cipher suites": ((CERT, KEY), LAB_FILES + "ssl_cipher_suites = FOO\n",
                          {"cert.pem": CERT, "key.pem": KEY},
                          DOVECOT_FILES + "ssl_cipher_suites = FOO\n"),
    "bad curve": ((CERT, KEY), LAB_FILES + "ssl_curve_list = FOO\n",
                  {"cert.pem": CERT, "key.pem": KEY}, DOVECOT_FILES + "ssl_curve_list = FOO\n"),
    "garbage dh": ((CERT, KEY), LAB_FILES + "ssl_dh = </etc/dovecot/garbage\n",
                   {"cert.pem": CERT, "key.pem": KEY, "garbage": GARBAGE},
                   DOVECOT_FILES + "ssl_dh = <{tmp}/garbage\n"),
}

# The lab cannot reproduce OpenSSL's error-queue text exactly; compare up to there.
_OPENSSL_DETAIL = re.compile(r"(\(maybe ssl_key_password is wrong\?\): |: SSL routines::"
                             r"|: error:|routines::).*$")


def _core(text: str) -> str:
    text = text.replace(" (You probably forgot '<' from ssl_cert=</etc/dovecot/cert.pem)", "")
    return _OPENSSL_DETAIL.sub(lambda m: m.group(1), text).strip()


def _dovecot_error(log: str) -> str:
    for line in log.splitlines():
        m = re.search(r"Failed to initialize SSL server context: (.*?): user=<>", line)
        if m:
            return m.group(1)
        m = re.search(r"Fatal: (.*)", line)
        if m:
            return m.group(1)
    return "(no error)"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_settings_read_as_dovecot_logs_them(case, tmp_path) -> None:
    (cert, key), lab_extra, files, dc_extra = BAD[case]
    theirs = _dovecot_error(dovecot_start_error("ssl = required\n" + dc_extra, files))
    extra = "ssl = required\n" + lab_extra
    from labserver.service.lab import DEFAULT_CONFIG, Lab

    lab = Lab(DEFAULT_CONFIG.replace("ssl = no\n", "") + extra, ports="ephemeral")
    try:
        lab.write_config(cert.decode(), "/etc/dovecot/cert.pem")
        lab.write_config(key.decode(), "/etc/dovecot/private/key.pem")
        lab.write_config(GARBAGE.decode(), "/etc/dovecot/garbage")
        # As Dovecot, the lab starts; the TLS connection fails and the login process logs why.
        lab.start()
        with socket.create_connection(("127.0.0.1", lab.port("imaps")), 5) as s:
            s.settimeout(5)
            assert s.recv(100) == b""
        logged = _dovecot_error("\n".join(lab.logs("imaps-login: Error") or
                                          lab.logs("imap-login: Error")))
    finally:
        lab.cleanup()
    ours = logged
    assert _core(ours) == _core(theirs), (ours, theirs)
    if case == "forgot <":
        # Dovecot 2.3.19.1 leaves the hint out; the lab adds the one its source has.
        assert "You probably forgot '<' from ssl_cert=</etc/dovecot/cert.pem" in ours
    if case == "wrong password":
        assert "(maybe ssl_key_password is wrong?)" in ours and "password" in ours.split("?")[1]


def test_right_password_works_and_a_wrong_one_fails_each_connection() -> None:
    lab = tls_lab("ssl = required\n" + LAB_FILES + "ssl_key_password = right\n",
                  ENC_CERT, ENC_KEY)
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", lab.port("imaps")), 5) as raw, \
                ctx.wrap_socket(raw) as tls:
            assert tls.recv(100).startswith(b"* OK")
        # Dovecot reloads (the configuration is valid); the key fails at each connection.
        assert lab.reload(lab.path("/etc/dovecot/dovecot.conf").read_text().replace(
            "ssl_key_password = right", "ssl_key_password = wrong")) is None
        with socket.create_connection(("127.0.0.1", lab.port("imaps")), 5) as raw, \
                pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw).recv(100)
        assert "(maybe ssl_key_password is wrong?)" in "".join(lab.logs("imap-login: Error"))
        with socket.create_connection(("127.0.0.1", lab.port("imap")), 5) as raw:
            raw.settimeout(5)
            assert b"STARTTLS" in raw.recv(200)
    finally:
        lab.cleanup()


def _settings(**kw) -> TLSSettings:  # noqa: ANN003
    kw.setdefault("cipher_list", DEFAULT_CIPHERS)
    return TLSSettings(mode="yes", cert=CERT.decode(), key=KEY.decode(), **kw)


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[str, str] | str:
    """Handshake in memory; (version, cipher) or the first error (usually the server's,
    as Dovecot logs it: NO_SHARED_CIPHER, UNSUPPORTED_PROTOCOL)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    cli = client.wrap_bio(c_in, c_out, server_hostname=None)
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(20):
        for side, out, into in ((cli, c_out, s_in), (srv, s_out, c_in)):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                return exc.reason or str(exc)
            into.write(out.read())
        if cli.version() and srv.version() and not c_out.pending and not s_out.pending:
            try:
                cli.do_handshake()
                srv.do_handshake()
                return cli.version(), cli.cipher()[0]
            except ssl.SSLWantReadError:
                continue
    return "no result"


def _client(version: str, ciphers: str = "ALL:@SECLEVEL=0",
            suites: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    v = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
         "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated; that is the lesson
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = v
    ctx.set_ciphers(ciphers)
    if suites:
        assert _openssl.set_ciphersuites(ctx, suites)
    return ctx


def test_cipher_list_and_cipher_suites_do_not_restrict_each_other(tmp_path) -> None:
    if not _openssl.available():
        pytest.skip("OpenSSL's SSL_CTX_set_ciphersuites is not reachable from this Python")
    narrow12 = server_context(_settings(cipher_list="ECDHE-RSA-AES128-GCM-SHA256"), tmp_path)
    # TLS 1.3 is untouched by ssl_cipher_list ...
    assert _handshake(narrow12, _client("1.3", suites="TLS_CHACHA20_POLY1305_SHA256")) == \
        ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
    assert _handshake(narrow12, _client("1.2", "ECDHE-RSA-AES256-GCM-SHA384")) == \
        "NO_SHARED_CIPHER"
    narrow13 = server_context(_settings(cipher_suites="TLS_AES_128_GCM_SHA256"), tmp_path)
    # ... and TLS 1.2 is untouched by ssl_cipher_suites.
    assert _handshake(narrow13, _client("1.2", "ECDHE-RSA-CHACHA20-POLY1305")) == \
        ("TLSv1.2", "ECDHE-RSA-CHACHA20-POLY1305")
    assert _handshake(narrow13, _client("1.3", suites="TLS_AES_256_GCM_SHA384")) == \
        "NO_SHARED_CIPHER"


def test_prefer_server_ciphers(tmp_path) -> None:
    offer = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
    server_order = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
    yes = server_context(_settings(cipher_list=server_order, prefer_server_ciphers=True),
                         tmp_path)
    no = server_context(_settings(cipher_list=server_order), tmp_path)
    assert _handshake(yes, _client("1.2", offer))[1] == "ECDHE-RSA-AES256-GCM-SHA384"
    assert _handshake(no, _client("1.2", offer))[1] == "ECDHE-RSA-AES128-GCM-SHA256"


def test_min_protocol_and_the_security_level(tmp_path) -> None:
    policy = _settings(min_protocol="TLSv1")
    ctx = server_context(policy, tmp_path)
    assert any("the policy decides" in w for w in policy.warnings)
    assert _handshake(ctx, _client("1.0")) != ("TLSv1", "ECDHE-RSA-AES256-SHA")
    config = _settings(min_protocol="TLSv1", cipher_list="ALL:@SECLEVEL=0")
    ctx = server_context(config, tmp_path)
    assert not config.warnings
    assert _handshake(ctx, _client("1.0"))[0] == "TLSv1"
    only13 = server_context(_settings(min_protocol="TLSv1.3"), tmp_path)
    assert _handshake(only13, _client("1.2")) == "UNSUPPORTED_PROTOCOL"


def test_dh_and_curves_take_effect(tmp_path) -> None:
    if not _openssl.available():
        pytest.skip("OpenSSL calls are not reachable from this Python")
    lab = tls_lab("ssl = yes\n" + LAB_FILES + "ssl_dh = </etc/dovecot/dh.pem\n"
                  "ssl_curve_list = P-384\nssl_cipher_list = DHE-RSA-AES256-GCM-SHA384:"
                  "ECDHE-RSA-AES256-GCM-SHA384\n", CERT, KEY, dh=dh_params())
    try:
        from labserver.tls.scan import Scanner

        scanner = Scanner("127.0.0.1", lab.port("imaps"))
        dhe = scanner.probe(ssl.TLSVersion.TLSv1_2, "DHE-RSA-AES256-GCM-SHA384")
        assert dhe.ok and dhe.kx is not None and dhe.kx[0] == "DH" and dhe.kx[1] >= 2048
        ecdhe = scanner.probe(ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-GCM-SHA384")
        assert ecdhe.ok and ecdhe.kx == ("secp384r1", 384)
    finally:
        lab.cleanup()


def test_dh_parameters_length_is_obsolete_and_dh_without_file() -> None:
    settings = _settings(dh="/usr/share/dovecot/dh.pem")
    with pytest.raises(TLSConfigError, match="Couldn't parse DH parameters: error:0480006C:PEM "
                       "routines::no start line: Expecting: DH PARAMETERS"):
        server_context(settings, __import__("pathlib").Path("/tmp"))


def test_client_closing_mid_handshake_is_logged_and_the_lab_keeps_serving() -> None:
    lab = tls_lab("ssl = required\n" + LAB_FILES, CERT, KEY)
    try:
        port = lab.port("imaps")
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(bytes.fromhex("1603010200010001fc0303"))  # a ClientHello cut short
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(b"a LOGIN alice secret\r\n")  # plaintext on the TLS port
            s.settimeout(5)
            try:
                s.recv(100)
            except OSError:
                pass
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), 5) as raw, \
                ctx.wrap_socket(raw) as tls:
            assert tls.recv(100).startswith(b"* OK")
        time.sleep(0.3)
        lines = lab.logs("TLS handshaking")
        assert any("Disconnected: Connection closed (no auth attempts in 0 secs)" in line
                   for line in lines), lines
        assert any("SSL_accept() failed: error:0A00010B:SSL routines::wrong version number"
                   in line or "http request" in line or "SSL_accept() failed" in line
                   for line in lines), lines
    finally:
        lab.cleanup()


def test_verify_client_cert_with_ssl_ca(tmp_path) -> None:
    client_cert, client_key = self_signed("learner")
    (tmp_path / "c.pem").write_bytes(client_cert)
    (tmp_path / "k.pem").write_bytes(client_key)
    settings = _settings(verify_client_cert=True, ca=client_cert.decode())
    server = server_context(settings, tmp_path)
    with_cert = _client("1.3")
    with_cert.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    assert _handshake(server, with_cert)[0] == "TLSv1.3"
    assert _handshake(server, _client("1.2"))[0] == "TLSv1.2"  # no certificate: allowed
    with pytest.raises(TLSConfigError, match="^ssl_verify_client_cert set, but ssl_ca not$"):
        server_context(_settings(verify_client_cert=True), tmp_path)
    with pytest.raises(TLSConfigError, match="Couldn't parse ssl_ca"):
        server_context(_settings(verify_client_cert=True, ca="garbage"), tmp_path)
