"""Pictures: valid SVG (parsed by xml.etree), and drawn from what really happened."""

from __future__ import annotations

import imaplib
import xml.etree.ElementTree as ET

import pytest

from labserver.jupyter.charts import nice_ticks
from labserver.jupyter.diagrams import (
    Step,
    bar_chart,
    flow_diagram,
    handshake_diagram,
    scatter_plot,
    sequence_diagram,
)
from labserver.jupyter.svg import FAIL, PASS, SKIP
from labserver.service.lab import Lab

from .conftest import CONFIG

SVG = "{http://www.w3.org/2000/svg}"


def parse(drawing) -> ET.Element:
    root = ET.fromstring(drawing._repr_svg_())
    assert root.tag == SVG + "svg"
    return root


def texts(drawing) -> list[str]:
    return [t.text or "" for t in parse(drawing).iter(SVG + "text")]


@pytest.fixture(scope="module")
def session() -> object:
    lab = Lab(CONFIG, ports="ephemeral")
    try:
        lab.add_user("alice", "s3cret&<pw>")
        lab.deliver("alice", b"Subject: hi\n\nbody\n")
        lab.start()
        with imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=5) as client:
            client.login("alice", "s3cret&<pw>")
            client.select("INBOX")
            client.fetch("1", "(RFC822.SIZE)")
            client.logout()
        yield lab.transcripts("imap")[-1]
    finally:
        lab.cleanup()


def test_sequence_diagram_shows_the_sessions_commands(session) -> None:
    found = texts(sequence_diagram(session))
    client_lines = [x[3:] for x in session.lines() if x.startswith("C: ")]
    assert len(client_lines) >= 4
    for line in client_lines:
        assert line in found
    assert any("s3cret&<pw>" in t for t in found)  # as the transcript has it, escaped
    assert found[0] == "IMAP session, user alice"
    assert any(t.startswith("Client 127.0.0.1:") for t in found)


def test_sequence_diagram_limits_and_shortens() -> None:
    lines = ["S: * OK ready"] + [f"C: a{i} NOOP\nS: a{i} OK done" for i in range(20)]
    drawing = sequence_diagram(lines, max_messages=5)
    found = texts(drawing)
    assert "… 36 more messages not drawn" in found
    assert "a1 OK done" in found and "a2 NOOP" not in found
    long = sequence_diagram(["C: a1 LOGIN " + "x" * 200, "S: " + "\n".join(["* 1"] * 9)],
                            max_chars=40, lines_per_message=3)
    found = texts(long)
    assert "a1 LOGIN " + "x" * 30 + "…" in found
    assert found.count("* 1") == 3 and "… 6 more lines" in found
    select = ["C: a2 SELECT INBOX", "S: * FLAGS ()", "S: * 1 EXISTS", "S: * 0 RECENT",
              "S: a2 OK [READ-WRITE] Select completed."]
    found = texts(sequence_diagram(select, lines_per_message=2))
    assert found[-3:] == ["* FLAGS ()", "… 2 more lines", "a2 OK [READ-WRITE] Select completed."]


def test_control_characters_and_markup_are_escaped() -> None:
    drawing = sequence_diagram(["C: a1 LOGIN \x00\x1b[31m <b>&amp;</b>", "S: ]]> \x7f"])
    found = texts(drawing)
    assert "a1 LOGIN \\x00\\x1b[31m <b>&amp;</b>" in found
    assert "]]> \\x7f" in found
    assert "(nothing was said)" in texts(sequence_diagram([]))


def test_handshake_with_and_without_a_shared_cipher() -> None:
    ok = texts(handshake_diagram(["ECDHE-RSA-AES256-GCM-SHA384", "AES128-SHA"],
                                 ["AES128-SHA", "ECDHE-RSA-AES256-GCM-SHA384"]))
    assert "version TLSv1.2, cipher: ECDHE-RSA-AES256-GCM-SHA384" in ok
    assert "Shared cipher: ECDHE-RSA-AES256-GCM-SHA384" in ok
    preferred = texts(handshake_diagram(["ECDHE-RSA-AES256-GCM-SHA384", "AES128-SHA"],
                                        ["AES128-SHA", "ECDHE-RSA-AES256-GCM-SHA384"],
                                        server_preference=True))
    assert "Shared cipher: AES128-SHA" in preferred
    tls13 = texts(handshake_diagram(["TLS_AES_128_GCM_SHA256"], ["TLS_AES_128_GCM_SHA256"],
                                    version="TLSv1.3"))
    assert "{CertificateVerify}" in tls13 and "ServerKeyExchange" not in tls13
    failed = handshake_diagram(["RC4-MD5", "DES-CBC3-SHA"], ["ECDHE-RSA-AES256-GCM-SHA384"],
                               "openssl: sslv3 alert handshake failure")
    found = texts(failed)
    assert "Alert (fatal): handshake_failure (40)" in found
    assert "openssl: sslv3 alert handshake failure" in found
    assert not any("application data" in t for t in found)


def test_flow_colours_results_and_greys_out_what_did_not_run() -> None:
    drawing = flow_diagram([
        Step("pam_unix.so nullok", "fail", note="unknown user", tag="auth required"),
        ("pam_deny.so", "fail", "", "auth requisite", "PAM_AUTH_ERR: refused"),
        {"label": "pam_permit.so", "result": "pass", "tag": "auth optional"},
    ], title="dovecot's PAM stack", outcome="fail: authentication failed")
    root = parse(drawing)
    found = [t.text for t in root.iter(SVG + "text")]
    assert "pam_unix.so nullok" in found and "auth required" in found
    assert "fail · unknown user" in found and "PAM_AUTH_ERR: refused" in found
    boxes = [r for r in root.iter(SVG + "rect") if r.get("rx") == "6"]
    assert [b.get("stroke") for b in boxes] == [FAIL, FAIL, SKIP]
    assert "not run" in found
    passing = flow_diagram(["a", ("b", "pass")], outcome="pass")
    strokes = [r.get("stroke") for r in parse(passing).iter(SVG + "rect") if r.get("rx")]
    assert strokes[-2:] == [PASS, PASS]


def test_bar_chart_has_axes_labels_legend_and_values() -> None:
    drawing = bar_chart(["1", "2"], {"file size": [100, 2000], "POP3 size": [104, 2050]},
                        title="Sizes", xlabel="message", ylabel="bytes")
    found = texts(drawing)
    for word in ("Sizes", "message", "bytes", "file size", "POP3 size", "2050", "0", "2500"):
        assert word in found
    bars = [r for r in parse(drawing).iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert len(bars) == 4
    with pytest.raises(ValueError, match="2 labels"):
        bar_chart(["a", "b"], {"x": [1]})


def test_scatter_plot_with_diagonal() -> None:
    drawing = scatter_plot({"maildir": [(100, 104), (2000, 2050)], "mbox": [(10, 11)]},
                           diagonal=True, xlabel="bytes on disk", ylabel="POP3 size")
    root = parse(drawing)
    assert len(list(root.iter(SVG + "circle"))) == 3
    found = texts(drawing)
    assert {"bytes on disk", "POP3 size", "maildir", "mbox", "y = x"} <= set(found)
    assert [t.text for t in root.iter(SVG + "title")][1:] == [
        "maildir: (100, 104)", "maildir: (2000, 2050)", "mbox: (10, 11)"]


def test_nice_ticks() -> None:
    assert nice_ticks(0, 2050) == [0, 500, 1000, 1500, 2000, 2500]
    assert nice_ticks(0.0, 0.9) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(5, 5) == [5, 5.2, 5.4, 5.6, 5.8, 6.0]
