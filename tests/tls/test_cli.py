"""``labserver scan`` (labserver.tls.cli_scan) on the lab's implicit and STARTTLS ports."""

from __future__ import annotations

import json

from labserver.tls.cli_scan import main as scan_main

from .harness import LAB_FILES, self_signed, tls_lab

CERT, KEY = self_signed()


def test_scan_cli_text_json_and_starttls(capsys) -> None:
    lab = tls_lab("ssl = yes\nssl_min_protocol = TLSv1\nssl_cipher_list = "
                  "ALL:@SECLEVEL=0\nssl_prefer_server_ciphers = yes\n" + LAB_FILES, CERT, KEY)
    try:
        assert scan_main([f"127.0.0.1:{lab.port('imaps')}"]) == 0
        text = capsys.readouterr().out
        assert "  TLSv1.0:\n" in text and "cipher preference: server" in text
        assert "TLSv1.0 accepted: obsolete protocol (RFC 8996)" in text
        assert "no forward secrecy" in text  # ALL includes RSA key exchange
        assert scan_main([f"127.0.0.1:{lab.port('imaps')}", "--json"]) == 0
        implicit = json.loads(capsys.readouterr().out)
        for proto in ("imap", "pop3"):
            assert scan_main([f"127.0.0.1:{lab.port(proto)}", "--starttls", proto,
                              "--json"]) == 0
            starttls = json.loads(capsys.readouterr().out)
            assert starttls["versions"] == implicit["versions"]
        assert scan_main([f"127.0.0.1:{lab.port('imap')}", "--starttls", "pop3"]) == 1
        assert "not a POP3 greeting" in capsys.readouterr().err
    finally:
        lab.cleanup()
