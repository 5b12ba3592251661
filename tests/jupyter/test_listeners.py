"""The listener map: what it says is open is what the lab (and real Dovecot) bind."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from graders.probe import provide_certificates, read_config
from labserver.config import ConfigError
from labserver.jupyter.listeners import (
    EXAMPLE,
    ListenerMap,
    listener_rows,
    map_drawing,
    map_table,
    rows_from_text,
)
from labserver.service.lab import DEFAULT_CONFIG, Lab
from tests.tools import require_program

CLOSED = """service imap-login {
  inet_listener imap {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3s {
    port = 1995
  }
}
"""
TLS = ("ssl = yes\nssl_cert = </etc/dovecot/private/dovecot.pem\n"
       "ssl_key = </etc/dovecot/private/dovecot.key\n")


def _states(text: str) -> dict[str, str]:
    return {r.listener: r.state for r in rows_from_text(text)}


def test_default_listeners_and_their_tls_modes() -> None:
    rows = rows_from_text("protocols = imap pop3\n" + TLS)
    assert [(r.service, r.listener, r.configured_port, r.tls, r.open) for r in rows] == [
        ("imap-login", "imap", 143, "STARTTLS", True),
        ("imap-login", "imaps", 993, "implicit TLS", True),
        ("pop3-login", "pop3", 110, "STARTTLS", True),
        ("pop3-login", "pop3s", 995, "implicit TLS", True)]
    assert all(r.addresses == ("127.0.0.1",) for r in rows)


def test_each_reason_to_stay_closed() -> None:
    assert _states("protocols = imap\nssl = no\n" + CLOSED) == {
        "imap": "closed (port = 0)", "imaps": "closed (ssl = no: no implicit TLS)",
        "pop3": "closed (pop3 is not in protocols)",
        "pop3s": "closed (pop3 is not in protocols)"}
    rows = rows_from_text("protocols = imap pop3\nssl = no\n")
    assert {r.tls for r in rows if not r.listener.endswith("s")} == {"plaintext only"}


def test_listen_and_address() -> None:
    rows = rows_from_text("protocols = imap\nlisten = 127.0.0.3, ::1\nssl = no\n"
                          "service imap-login {\n  inet_listener imap {\n"
                          "    address = 127.0.0.4\n  }\n}\n")
    assert rows[0].addresses == ("127.0.0.4",) and rows[1].addresses == ()


def test_table_and_drawing() -> None:
    rows = rows_from_text("protocols = imap pop3\n" + TLS + CLOSED)
    table = map_table(rows).splitlines()
    assert table[0].split() == ["Service", "Listener", "Address", "Config", "port", "Real",
                                "port", "TLS", "State"]
    assert table[1].split()[:4] == ["imap-login", "imap", "-", "0"]
    assert "pop3s" in table[4] and "1995" in table[4] and "open" in table[4]
    svg = map_drawing(rows).svg
    assert svg.startswith("<svg") and "closed: port = 0" in svg and "service pop3-login" in svg


def test_a_refused_config_says_why() -> None:
    with pytest.raises(ConfigError, match="line 2: Unknown setting: prot"):
        rows_from_text("protocols = imap\nprot = 1\n")
    widget = ListenerMap("protocols = imap\nprot = 1\n")
    assert widget.rows == [] and "Unknown setting: prot" in widget.picture.value


def test_widget_follows_the_text() -> None:
    widget = ListenerMap()
    assert {r.listener for r in widget.rows if r.open} == {"imaps", "pop3", "pop3s"}
    widget.textarea.value = EXAMPLE.replace("imap pop3", "imap")
    assert {r.listener for r in widget.rows if r.open} == {"imaps"}
    assert "closed: pop3 is not in protocols" in widget.picture.value


def _configured(lab: Lab) -> set[tuple[str, int]]:
    return {(spec.name, spec.configured_port) for spec, _ in lab.listeners()}


@pytest.mark.parametrize("engine", ["lab", "dovecot"])
def test_the_map_of_a_running_lab_is_what_it_bound(engine: str) -> None:
    if engine == "dovecot":
        require_program("dovecot", "dovecot-core")
    root = Path(tempfile.mkdtemp(prefix="test-listeners-"))
    text = DEFAULT_CONFIG.replace("ssl = no\n", TLS) + CLOSED
    lab = Lab(text, root=root, ports="ephemeral", engine=engine)
    try:
        provide_certificates(read_config("t", root, expand=False), root)
        lab.start()
        rows = listener_rows(lab.config, lab)
        assert {(r.listener, r.configured_port) for r in rows if r.open} == _configured(lab)
        bound = {spec.name: port for spec, port in lab.listeners()}
        assert all(r.real_ports == (bound[r.listener],) for r in rows if r.open)
        assert ListenerMap(lab=lab).rows == rows
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)
