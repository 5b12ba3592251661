"""The TLS notebook tools: matrices from scans, comparisons, real handshakes on a lab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graders import probe
from labserver.jupyter import tls
from labserver.service.lab import DEFAULT_CONFIG, Lab, LabError
from labserver.tls.scan import Accepted, ScanReport, VersionResult

PAIR = ("ssl_cert = </etc/dovecot/private/dovecot.pem\n"
        "ssl_key = </etc/dovecot/private/dovecot.key\n")
TLS = DEFAULT_CONFIG.replace("ssl = no", "ssl = required\n" + PAIR)


def _report(versions: list[VersionResult]) -> ScanReport:
    return ScanReport("127.0.0.1:993", None, versions, [], [])


OPEN = _report([
    VersionResult("TLSv1.1", True, ciphers=[Accepted("ECDHE-RSA-AES128-SHA", "X25519 253")],
                  preference="indeterminate"),
    VersionResult("TLSv1.2", True, ciphers=[
        Accepted("ECDHE-RSA-AES128-GCM-SHA256", "X25519 253"),
        Accepted("AES128-SHA", "RSA key exchange", ["no forward secrecy"]),
        Accepted("ECDHE-RSA-AES128-SHA", "X25519 253")], preference="client"),
])
HARD = _report([
    VersionResult("TLSv1.1", False, error="UNEXPECTED_EOF_WHILE_READING"),
    VersionResult("TLSv1.2", True, ciphers=[
        Accepted("ECDHE-RSA-AES256-GCM-SHA384", "X25519 253")], preference="indeterminate"),
])


def test_matrix_has_a_row_per_suite_and_a_column_per_version() -> None:
    m = tls.matrix(OPEN)
    assert m.columns == ("TLSv1.1", "TLSv1.2")
    assert [r.suite for r in m.rows] == ["ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES128-GCM-SHA256",
                                         "AES128-SHA"]
    assert m.accepted("ECDHE-RSA-AES128-SHA", "TLSv1.1")
    assert m.accepted("ECDHE-RSA-AES128-SHA", "TLSv1.2")
    assert not m.accepted("AES128-SHA", "TLSv1.1")
    assert m.preference == {"TLSv1.1": "indeterminate", "TLSv1.2": "client"}
    page = tls.matrix_html(m)
    assert "no forward secrecy" in page and 'style="color:#c62828">TLSv1.1' in page


def test_compare_marks_removed_and_added_suites() -> None:
    shown = tls.compare(tls.matrix(OPEN), tls.matrix(HARD))
    change = {r.suite: r.change for r in shown.rows}
    assert change == {"ECDHE-RSA-AES256-GCM-SHA384": "added",
                      "ECDHE-RSA-AES128-SHA": "removed",
                      "ECDHE-RSA-AES128-GCM-SHA256": "removed", "AES128-SHA": "removed"}
    assert shown.refused == {"TLSv1.1": "UNEXPECTED_EOF_WHILE_READING"}
    page = tls.matrix_html(shown)
    assert "line-through" in page and "(removed)" in page and "refused" in page
    same = tls.compare(tls.matrix(HARD), tls.matrix(HARD))
    assert [r.change for r in same.rows] == [""]


def test_an_empty_scan_says_so() -> None:
    m = tls.matrix(_report([VersionResult("TLSv1.2", False, error="closed")]))
    assert m.rows == [] and "No suite completed a handshake." in tls.matrix_html(m)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with probe.lab_for("jupyter-tls", TLS) as running:
        yield running


def test_handshakes_that_work_and_fail_say_what_each_side_saw(lab: Lab) -> None:
    ok = tls.handshake(lab, "imaps")
    assert ok.ok and ok.agreed_version == "TLSv1.2" and ok.cipher.startswith("ECDHE")
    assert "bits" in ok.key_exchange
    starttls = tls.handshake(lab, "pop3", version="TLSv1.3")
    assert starttls.ok and starttls.agreed_version == "TLSv1.3"
    bad = tls.handshake(lab, "imaps", ciphers=["AES128-SHA"])
    assert not bad.ok and bad.client_error
    assert "no shared cipher" in bad.server_log and "no shared cipher" in bad.summary()
    old = tls.handshake(lab, "imaps", version="TLSv1.1")
    assert not old.ok and "unsupported protocol" in old.server_log
    with pytest.raises(LabError, match="no listener named 'smtps'"):
        tls.handshake(lab, "smtps")
    with pytest.raises(ValueError, match="version must be one of"):
        tls.handshake(lab, version="SSLv2")


def test_handshake_picture_draws_what_happened(lab: Lab) -> None:
    result, drawing = tls.handshake_picture(lab, ciphers=["AES128-SHA"])
    assert not result.ok and "handshake_failure" in str(drawing)
    result, drawing = tls.handshake_picture(lab, ciphers=["ECDHE-RSA-AES256-GCM-SHA384"])
    assert result.ok and "ECDHE-RSA-AES256-GCM-SHA384" in str(drawing)


def test_the_widget_scans_keeps_and_compares(lab: Lab) -> None:
    widget = tls.CipherMatrix(lab)
    first = widget.scan("imaps")
    assert first is not None and "TLSv1.2" in first.columns
    assert "ECDHE-RSA-AES256-GCM-SHA384" in widget.html.value
    widget.keep()
    again = widget.scan()
    assert again is not None and all(r.change == "" for r in again.rows)
    assert widget.scan("pop3s") is not None
    stopped = tls.CipherMatrix(Lab(TLS, ports="ephemeral"))
    assert stopped.scan() is None and "Cannot scan" in stopped.html.value
    stopped.lab.cleanup()


def test_a_failure_shows_each_tls_line_the_login_process_wrote() -> None:
    dhe_only = TLS + "ssl_cipher_list = DHE-RSA-AES256-GCM-SHA384\n"
    with probe.lab_for("jupyter-tls", dhe_only) as running:
        bad = tls.handshake(running, "imaps")
    assert "no DH parameters provided" in bad.server_log
    assert "SSL_accept() failed" in bad.server_log.splitlines()[-1]
