"""The lab against real Dovecot 2.3 with the same certificate and ssl_* settings.

For each combination of settings both servers are scanned (``labserver.tls.scan``: versions,
suites, whose order wins, key-exchange groups) and probed with fixed client offers; the
results must be equal. Run this file as a script to print the table:

    python -m tests.tls.test_differential
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess

import pytest

from labserver.service.lab import LabError
from labserver.tls import _openssl
from labserver.tls.scan import Scanner, scan

from .harness import (
    DOVECOT_FILES,
    LAB_FILES,
    dh_params,
    need_tool,
    self_signed,
    tls_dovecot,
    tls_lab,
)

CERT, KEY = self_signed("imap.example.com")
DH = "ssl_dh = <DH\n"

# (name, settings); DH stands for the DH parameter file of each server.
COMBOS: list[tuple[str, str]] = [
    ("defaults (ssl = yes)", "ssl = yes\n"),
    ("defaults + ssl_dh", "ssl = yes\n" + DH),
    ("chapter: cipher list + prefer server + dh",
     "ssl = required\nssl_cipher_list = AES256+EECDH:AES256+EDH\n"
     "ssl_prefer_server_ciphers = yes\n" + DH),
    ("chapter cipher list, client order", "ssl = required\n"
     "ssl_cipher_list = AES256+EECDH:AES256+EDH\n" + DH),
    ("chapter: ssl_protocols = !SSLv2 !SSLv3 !TLSv1",
     "ssl = required\nssl_protocols = !SSLv2 !SSLv3 !TLSv1\n"),
    ("ssl_protocols = !SSLv3 !TLSv1 (-> TLSv1.1)", "ssl = yes\nssl_protocols = !SSLv3 !TLSv1\n"),
    ("chapter: ssl_dh_parameters_length = 2048",
     "ssl = yes\nssl_dh_parameters_length = 2048\n" + DH),
    ("min TLSv1 (policy decides)", "ssl = yes\nssl_min_protocol = TLSv1\n"),
    ("min TLSv1 + @SECLEVEL=0 (config decides)",
     "ssl = yes\nssl_min_protocol = TLSv1\nssl_cipher_list = ALL:@SECLEVEL=0\n"),
    ("min TLSv1.1 + @SECLEVEL=0", "ssl = yes\nssl_min_protocol = TLSv1.1\n"
     "ssl_cipher_list = HIGH:!aNULL:@SECLEVEL=0\n"),
    ("min TLSv1.3", "ssl = yes\nssl_min_protocol = TLSv1.3\n"),
    ("cipher_suites: one TLS 1.3 suite", "ssl = yes\n"
     "ssl_cipher_suites = TLS_AES_128_GCM_SHA256\n"),
    ("cipher_suites two + prefer server", "ssl = yes\nssl_prefer_server_ciphers = yes\n"
     "ssl_cipher_suites = TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384\n"),
    ("one TLS 1.2 cipher", "ssl = yes\nssl_cipher_list = ECDHE-RSA-AES128-GCM-SHA256\n"),
    ("HIGH:!aNULL:!MD5 + prefer server",
     "ssl = yes\nssl_cipher_list = HIGH:!aNULL:!MD5\nssl_prefer_server_ciphers = yes\n"),
    ("RSA key exchange only", "ssl = yes\nssl_cipher_list = AES128-SHA:AES256-GCM-SHA384\n"),
    ("curve P-384", "ssl = yes\nssl_curve_list = P-384\n"),
    ("curves X25519:P-256 + prefer", "ssl = yes\nssl_curve_list = X25519:P-256\n"
     "ssl_prefer_server_ciphers = yes\n"),
    ("DHE only with ssl_dh", "ssl = yes\nssl_cipher_list = DHE-RSA-AES256-GCM-SHA384\n" + DH),
    ("DHE only without ssl_dh", "ssl = yes\nssl_cipher_list = DHE-RSA-AES256-GCM-SHA384\n"),
    ("ssl_options = no_ticket", "ssl = yes\nssl_options = no_ticket\n"),
]

OFFERS: list[tuple[str, str, str | None]] = [
    ("TLSv1.0", "ALL:@SECLEVEL=0", None),
    ("TLSv1.1", "ALL:@SECLEVEL=0", None),
    ("TLSv1.2", "ALL:@SECLEVEL=0", None),
    ("TLSv1.3", "ALL:@SECLEVEL=0", None),
    ("TLSv1.2", "AES128-SHA:@SECLEVEL=0", None),
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", None),
    ("TLSv1.2", "DHE-RSA-AES128-GCM-SHA256", None),
    ("TLSv1.2", "ECDHE-RSA-AES256-SHA", None),
    ("TLSv1.3", "ALL", "TLS_AES_128_GCM_SHA256"),
    ("TLSv1.3", "ALL", "TLS_CHACHA20_POLY1305_SHA256"),
]
_V = {"TLSv1.0": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
      "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _observe(host: str, port: int) -> dict:
    report = scan(host, port)
    scanner = Scanner(host, port)
    offers = {}
    for version, ciphers, suites in OFFERS:
        if suites and not _openssl.available():
            continue
        probe = scanner.probe(_V[version], ciphers, suites)
        offers[f"{version} {suites or ciphers}"] = (probe.cipher if probe.ok else "-")
    return {
        "versions": report.accepted_versions(),
        "suites": {v.version: [(c.name, c.kx) for c in v.ciphers] for v in report.versions
                   if v.accepted},
        "preference": {v.version: v.preference for v in report.versions if v.accepted},
        "broken": {v.version: v.broken for v in report.versions if v.broken},
        "offers": offers,
    }


def observe_lab(settings: str) -> dict | str:
    lab_lines = settings.replace("ssl_dh = <DH", "ssl_dh = </etc/dovecot/dh.pem")
    try:
        lab = tls_lab(lab_lines + LAB_FILES, CERT, KEY, dh=dh_params())
    except LabError as exc:
        return f"refused: {exc}"
    try:
        return _observe("127.0.0.1", lab.port("imaps"))
    finally:
        lab.cleanup()


def observe_dovecot(settings: str) -> dict | str:
    lines = settings.replace("ssl_dh = <DH", "ssl_dh = <{tmp}/dh.pem")
    try:
        with tls_dovecot(lines + DOVECOT_FILES, {"cert.pem": CERT, "key.pem": KEY,
                                                 "dh.pem": dh_params()}) as dc:
            return _observe(dc.host, dc.imaps_port)
    except RuntimeError as exc:
        return f"refused: {exc}"


def _refusal(text: str) -> str:
    for key in ("Unknown ssl_protocols value", "SSLv2", "Invalid"):
        if key in text:
            return key
    return text[:80]


@pytest.mark.parametrize("name,settings", COMBOS, ids=[c[0] for c in COMBOS])
def test_lab_handshakes_as_dovecot(name, settings) -> None:
    theirs = observe_dovecot(settings)
    ours = observe_lab(settings)
    if isinstance(theirs, str) or isinstance(ours, str):
        assert isinstance(theirs, str) and isinstance(ours, str), (ours, theirs)
        return
    assert ours == theirs


def test_chapter_protocols_line_is_an_error_but_both_start() -> None:
    """``ssl_protocols = !SSLv2 !SSLv3 !TLSv1``: Dovecot logs "Could not find a minimum
    ssl_min_protocol setting from ssl_protocols = ...: Unrecognized protocol 'SSLv2'" and
    starts with the default TLSv1.2; so does the lab."""
    settings = "ssl = required\nssl_protocols = !SSLv2 !SSLv3 !TLSv1\n"
    theirs, ours = observe_dovecot(settings), observe_lab(settings)
    assert isinstance(theirs, dict) and theirs == ours
    assert theirs["versions"] == ["TLSv1.2", "TLSv1.3"]
    lab = tls_lab(settings + LAB_FILES, CERT, KEY)
    try:
        texts = [m.text for m in lab.config.messages]
    finally:
        lab.cleanup()
    assert any("Unrecognized protocol 'SSLv2'" in t for t in texts), texts


def test_scanner_agrees_with_openssl_s_client() -> None:
    need_tool("openssl")
    lab = tls_lab("ssl = required\nssl_cipher_list = AES256+EECDH:AES256+EDH\n"
                  "ssl_prefer_server_ciphers = yes\nssl_dh = </etc/dovecot/dh.pem\n" + LAB_FILES,
                  CERT, KEY, dh=dh_params())
    try:
        port = lab.port("imaps")
        report = scan("127.0.0.1", port)
        accepted12 = set(report.ciphers("TLSv1.2"))
        assert "ECDHE-RSA-AES256-GCM-SHA384" in accepted12
        flags = {"TLSv1.0": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2",
                 "TLSv1.3": "-tls1_3"}
        for version, flag in flags.items():
            ok = _s_client_ok(port, [flag, "-cipher", "ALL:@SECLEVEL=0"])
            assert ok == (version in report.accepted_versions()), version
        for cipher in sorted(accepted12) + ["AES128-SHA", "ECDHE-RSA-AES128-GCM-SHA256"]:
            ok = _s_client_ok(port, ["-tls1_2", "-cipher", cipher + ":@SECLEVEL=0"])
            assert ok == (cipher in accepted12), cipher
        for suite in ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                      "TLS_CHACHA20_POLY1305_SHA256"]:
            ok = _s_client_ok(port, ["-tls1_3", "-ciphersuites", suite])
            assert ok == (suite in report.ciphers("TLSv1.3")), suite
        # the server's order: s_client offering the list reversed still gets the first
        reverse = ":".join(reversed(report.ciphers("TLSv1.2")))
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                              "-tls1_2", "-cipher", reverse], input="", capture_output=True,
                             text=True, timeout=20).stdout
        assert f"Cipher is {report.ciphers('TLSv1.2')[0]}" in out
    finally:
        lab.cleanup()


def _s_client_ok(port: int, args: list[str]) -> bool:
    ran = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                         input="", capture_output=True, text=True, timeout=20)
    return "Cipher is (NONE)" not in ran.stdout and ran.returncode == 0 and \
        "New, " in ran.stdout


# -- what the plaintext ports allow under ssl = required ----------------------------------

def _plain_imap(port: int) -> list[str]:
    with socket.create_connection(("127.0.0.1", port), 5,
                                  source_address=("127.0.0.2", 0)) as s:
        f = s.makefile("rwb")
        lines = [f.readline().decode().strip()]
        for cmd in (b"a CAPABILITY\r\n", b"b LOGIN alice secret\r\n",
                    b"c AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"):
            f.write(cmd)
            f.flush()
            tag = cmd[:1].decode() + " "
            while True:
                line = f.readline().decode().strip()
                lines.append(line)
                if line.startswith(tag) or not line:
                    break
        return lines


def _plain_pop3(port: int) -> list[str]:
    with socket.create_connection(("127.0.0.1", port), 5,
                                  source_address=("127.0.0.2", 0)) as s:
        f = s.makefile("rwb")
        lines = [f.readline().decode().strip()]
        for cmd in (b"CAPA\r\n", b"USER alice\r\n", b"PASS secret\r\n"):
            f.write(cmd)
            f.flush()
            line = f.readline().decode().strip()
            lines.append(line)
            if cmd == b"CAPA\r\n" and line.startswith("+OK"):
                while line != ".":
                    line = f.readline().decode().strip()
                    lines.append(line)
        return lines


@pytest.mark.parametrize("settings", ["ssl = required\n",
                                      "ssl = required\ndisable_plaintext_auth = yes\n",
                                      "ssl = yes\ndisable_plaintext_auth = yes\n"])
def test_plaintext_ports_under_ssl_required(settings) -> None:
    with tls_dovecot(settings + DOVECOT_FILES, {"cert.pem": CERT, "key.pem": KEY}) as dc:
        theirs = (_plain_imap(dc.imap_port), _plain_pop3(dc.pop3_port))
    lab = tls_lab(settings + LAB_FILES, CERT, KEY)
    try:
        ours = (_plain_imap(lab.port("imap")), _plain_pop3(lab.port("pop3")))
    finally:
        lab.cleanup()
    assert "LOGINDISABLED" in theirs[0][1]
    assert ours == theirs


def table() -> str:
    rows = ["| settings | Dovecot 2.3.19.1 | lab | same |", "| --- | --- | --- | --- |"]
    for name, settings in COMBOS:
        theirs, ours = observe_dovecot(settings), observe_lab(settings)
        rows.append(f"| {name} | {_cell(theirs)} | {_cell(ours)} | "
                    f"{'yes' if (theirs == ours or (isinstance(theirs, str) and isinstance(ours, str))) else 'NO'} |")  # noqa: E501
    return "\n".join(rows)


def _cell(result: dict | str) -> str:
    if isinstance(result, str):
        return "refuses to start"
    parts = []
    for version in result["versions"]:
        suites = result["suites"][version]
        kx = sorted({k for _, k in suites})
        parts.append(f"{version}: {len(suites)} suites ({result['preference'][version]} order; "
                     f"{', '.join(kx)})")
    offers = [k for k, v in result["offers"].items() if v != "-"]
    return "; ".join(parts) + f" — offers accepted: {len(offers)}/{len(result['offers'])}"


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        print(table())
