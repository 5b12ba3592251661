"""The lab serving POP3 to Python's poplib over real loopback sockets."""

from __future__ import annotations

import poplib
import socket
import time

import pytest

from labserver.service.lab import Lab, LabError

from .conftest import MESSAGE


class POP3From(poplib.POP3):
    """poplib with a chosen source address (127.0.0.2 is not 'secured' like 127.0.0.1)."""

    def __init__(self, host: str, port: int, source: str) -> None:
        self._source = source
        super().__init__(host, port, timeout=10)

    def _create_socket(self, timeout: float) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))


def test_start_binds_listeners_and_lists_them(lab_factory) -> None:
    lab = lab_factory()
    names = {spec.name for spec, _ in lab.listeners()}
    assert names == {"imap", "pop3"}
    assert all(spec.address == "127.0.0.1" for spec, _ in lab.listeners())
    assert "pop3-login" in lab.table()
    with pytest.raises(LabError, match="no listener named 'pop3s'"):
        lab.port("pop3s")


def test_poplib_session_with_exact_crlf_sizes(lab_factory) -> None:
    lab = lab_factory(messages=2)
    client = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=10)
    assert client.getwelcome() == b"+OK Dovecot (Debian) ready."
    client.user("alice")
    assert client.pass_("secret") == b"+OK Logged in."
    size = len(MESSAGE.replace(b"\n", b"\r\n"))
    assert client.stat() == (2, 2 * size)
    assert client.list()[1] == [b"1 %d" % size, b"2 %d" % size]
    response, lines, _ = client.retr(1)
    assert response == b"+OK %d octets" % size
    assert lines[-1] == b".starts with a dot"  # dot-stuffing undone by poplib
    client.dele(1)
    assert client.quit() == b"+OK Logging out, messages deleted."
    again = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=10)
    again.user("alice")
    again.pass_("secret")
    assert again.stat()[0] == 1
    again.quit()
    assert any("Login: user=<alice>, method=PLAIN" in line for line in lab.logs())
    assert any("Disconnected: Logged out" in line and "del=1/2" in line for line in lab.logs())


def test_wrong_password_is_refused_after_the_failure_delay(lab_factory) -> None:
    lab = lab_factory(extra="auth_failure_delay = 1 secs\n")
    client = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=10)
    client.user("alice")
    start = time.monotonic()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication failed\."):
        client.pass_("wrong")
    assert time.monotonic() - start >= 0.9


def test_plaintext_refused_from_a_non_secured_address(lab_factory) -> None:
    lab = lab_factory(extra="disable_plaintext_auth = yes\n")
    client = POP3From("127.0.0.1", lab.port("pop3"), source="127.0.0.2")
    with pytest.raises(poplib.error_proto, match=r"Plaintext authentication disallowed"):
        client.user("alice")
    # from 127.0.0.1 to 127.0.0.1 the connection counts as secured, as in Dovecot
    local = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=10)
    local.user("alice")
    assert local.pass_("secret") == b"+OK Logged in."
    local.quit()


def test_transcripts_record_both_sides(lab_factory) -> None:
    lab = lab_factory()
    client = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=10)
    client.user("alice")
    client.pass_("secret")
    client.quit()
    (transcript,) = lab.transcripts("pop3")
    lines = transcript.lines()
    assert lines[0] == "S: +OK Dovecot (Debian) ready."
    assert "C: USER alice" in lines and "S: +OK Logged in." in lines


def test_reload_keeps_the_old_config_when_the_new_one_is_bad(lab_factory) -> None:
    lab = lab_factory()
    port = lab.port("pop3")
    error = lab.reload("ssl = maybe\n")
    assert error is not None and "Invalid value: maybe" in error
    assert lab.port("pop3") == port
    assert any("Error reading configuration" in line for line in lab.logs())
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    assert client.getwelcome().startswith(b"+OK")
    client.quit()


def test_reload_applies_a_good_config(lab_factory) -> None:
    lab = lab_factory()
    text = lab.path(lab.config_path).read_text()
    assert lab.reload(text + 'login_greeting = Lab ready.\n') is None
    client = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=10)
    assert client.getwelcome() == b"+OK Lab ready."
    client.quit()


def test_port_zero_and_protocols_decide_what_listens(lab_factory) -> None:
    lab = lab_factory(extra="protocols = pop3\nservice pop3-login {\n  inet_listener pop3 {\n"
                      "    port = 0\n  }\n}\n")
    assert lab.listeners() == []


def test_a_lab_that_cannot_bind_says_so(tmp_path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    lab = Lab("protocols = pop3\nssl = no\npassdb {\n  driver = passwd-file\n"
              "  args = /etc/dovecot/users\n}\nservice pop3-login {\n  inet_listener pop3 {\n"
              f"    port = {port}\n  }}\n}}\n", root=tmp_path, ports="exact")
    try:
        with pytest.raises(OSError):
            lab.start()
        assert not lab.running
    finally:
        blocker.close()
        lab.cleanup()


def test_an_auth_driver_the_lab_lacks_is_a_clear_error(tmp_path) -> None:
    lab = Lab("protocols = pop3\nssl = no\npassdb {\n  driver = ldap\n}\n", root=tmp_path,
              ports="ephemeral")
    with pytest.raises(LabError, match="auth: Unknown passdb driver 'ldap'"):
        lab.start()
    assert not lab.running


@pytest.mark.parametrize("mechanisms,passdb,fatal", [
    ("plain rpa", "passwd-file\n  args = /etc/dovecot/users",
     "Unknown authentication mechanism 'RPA'"),
    ("plain cram-md5", "pam", "CRAM-MD5 mechanism can't be supported with given passdbs"),
])
def test_mechanisms_the_passdbs_cannot_serve_stop_auth(tmp_path, mechanisms: str, passdb: str,
                                                       fatal: str) -> None:
    """As Dovecot: the server starts, the auth process dies when a client needs it and
    the client is told so (tests/auth/test_mech_startup.py compares with Dovecot)."""
    lab = Lab(f"protocols = pop3\nssl = no\nauth_mechanisms = {mechanisms}\n"
              f"passdb {{\n  driver = {passdb}\n}}\n", root=tmp_path, ports="ephemeral")
    lab.start()
    try:
        with socket.create_connection(("127.0.0.1", lab.port("pop3")), 10) as sock:
            assert sock.recv(100) == b"-ERR Auth process broken\r\n"
            assert sock.recv(100) == b""
        assert lab.logs(f"auth: Fatal: {fatal}")
        assert lab.running
    finally:
        lab.stop()
