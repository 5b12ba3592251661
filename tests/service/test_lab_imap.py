"""The lab serving IMAP to Python's imaplib and to IMAPClient over loopback sockets."""

from __future__ import annotations

import imaplib
import socket
import threading
import time

import pytest
from imapclient import IMAPClient

from .conftest import MESSAGE

SIZE = len(MESSAGE.replace(b"\n", b"\r\n"))


class IMAP4From(imaplib.IMAP4):
    """imaplib from a chosen source address (127.0.0.2 is not 'secured')."""

    def __init__(self, host: str, port: int, source: str) -> None:
        self._source = source
        super().__init__(host, port, timeout=10)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))


def test_imaplib_login_list_select_fetch(lab_factory) -> None:
    lab = lab_factory(messages=2)
    m = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    assert m.welcome.startswith(b"* OK [CAPABILITY IMAP4rev1 SASL-IR")
    assert m.welcome.endswith(b"Dovecot (Debian) ready.")
    typ, data = m.login("alice", "secret")
    assert typ == "OK" and data == [b"Logged in"]
    caps = m.capability()[1][0].split()
    assert b"UIDPLUS" in caps and b"MOVE" in caps and b"CONDSTORE" not in caps
    assert m.list()[1] == [b'(\\HasNoChildren) "." INBOX']
    assert m.select("INBOX") == ("OK", [b"2"])
    typ, data = m.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY "
                             "BODYSTRUCTURE BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.5>)")
    head = data[0][0]
    assert b"UID 1 FLAGS (\\Recent)" in head and b"RFC822.SIZE %d" % SIZE in head
    assert b'ENVELOPE ("Mon, 23 Nov 2026 10:00:00 +0000" "lab test"' in head
    typ, data = m.fetch("2", "(RFC822)")
    assert data[0][1] == MESSAGE.replace(b"\n", b"\r\n")
    assert b"\\Seen" in m.fetch("2", "FLAGS")[1][0]
    assert m.fetch("1", "(RFC822.HEADER)")[1][0][1].startswith(b"From: Bob")
    assert m.fetch("1", "(RFC822.TEXT)")[1][0][1] == b"First line\r\n.starts with a dot\r\n"
    assert m.search(None, "UNSEEN") == ("OK", [b""])  # RFC822.TEXT set \\Seen too
    assert m.uid("SEARCH", "SUBJECT", "lab") == ("OK", [b"1 2"])
    assert m.store("1", "+FLAGS", "(\\Flagged)")[1] == [b"1 (FLAGS (\\Flagged \\Seen \\Recent))"]
    m.logout()
    time.sleep(0.2)
    assert any("Disconnected: Logged out in=" in line and "body_count=" in line
               for line in lab.logs())


def test_imaplib_append_copy_move_with_uidplus(lab_factory) -> None:
    lab = lab_factory(messages=2)
    m = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    m.login("alice", "secret")
    assert m.create("Archive")[0] == "OK"
    typ, data = m.append("Archive", "(\\Seen)", imaplib.Time2Internaldate(time.time()),
                         MESSAGE.replace(b"\n", b"\r\n"))
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    typ, data = m.append("Nowhere", None, None, b"Subject: x\r\n\r\n")
    assert typ == "NO" and data[0].startswith(b"[TRYCREATE]")
    m.select("INBOX")
    typ, data = m.copy("1", "Archive")
    assert typ == "OK" and b"[COPYUID" in data[0]
    typ, data = m.uid("MOVE", "2", "Archive")
    assert typ == "OK"
    assert m.status("Archive", "(MESSAGES)")[1] == [b"Archive (MESSAGES 3)"]
    assert m.select("INBOX")[1] == [b"1"]
    m.store("1", "+FLAGS", "(\\Deleted)")
    assert m.expunge()[1] == [b"1"]
    m.logout()


def test_imapclient_session(lab_factory) -> None:
    lab = lab_factory(messages=3)
    with IMAPClient("127.0.0.1", port=lab.port("imap"), ssl=False, timeout=10) as c:
        c.login("alice", "secret")
        assert c.namespace().personal == (("", "."),)
        assert (b"name", b"Dovecot") in c.id_({"name": "test"})
        c.create_folder("Work")
        c.subscribe_folder("Work")
        assert [f[2] for f in c.list_folders()] == ["INBOX", "Work"]
        assert c.list_sub_folders() == [((), b".", "Work")]
        info = c.select_folder("INBOX")
        assert info[b"EXISTS"] == 3 and info[b"UIDNEXT"] == 4
        fetched = c.fetch([1, 2], ["FLAGS", "RFC822.SIZE", "ENVELOPE", "BODY.PEEK[]"])
        assert fetched[1][b"RFC822.SIZE"] == SIZE
        assert fetched[2][b"ENVELOPE"].subject == b"lab test"
        assert c.search(["FROM", "bob"]) == [1, 2, 3]
        c.add_flags([1], [b"$Important"])
        assert b"$Important" in c.get_flags([1])[1]
        c.copy([1], "Work")
        c.move([2], "Work")
        c.delete_messages([1])
        c.expunge()
        assert c.search() == [3]  # UIDs: IMAPClient uses UID SEARCH
        c.unselect_folder()
        assert c.folder_status("Work", ["MESSAGES"])[b"MESSAGES"] == 2
        c.logout()


def test_idle_sees_a_delivery_from_elsewhere(lab_factory) -> None:
    lab = lab_factory(messages=1)
    with IMAPClient("127.0.0.1", port=lab.port("imap"), ssl=False, timeout=10) as c:
        c.login("alice", "secret")
        c.select_folder("INBOX")
        c.idle()
        threading.Timer(0.3, lambda: lab.deliver("alice", MESSAGE)).start()
        responses = c.idle_check(timeout=5)
        c.idle_done()
        assert (2, b"EXISTS") in responses


def test_two_sessions_see_each_others_expunge_and_exists(lab_factory) -> None:
    lab = lab_factory(messages=2)
    one = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    two = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    for m in (one, two):
        m.login("alice", "secret")
        m.select("INBOX")
    one.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    one.expunge()
    one.append("INBOX", None, None, MESSAGE.replace(b"\n", b"\r\n"))
    two.noop()
    assert two.untagged_responses.get("EXPUNGE") == [b"1"]
    assert two.untagged_responses.get("EXISTS")[-1] == b"2"
    for m in (one, two):
        m.logout()


def test_failures_policy_and_limits(lab_factory) -> None:
    lab = lab_factory(extra="disable_plaintext_auth = yes\n"
                            "protocol imap {\n  mail_max_userip_connections = 1\n}\n")
    remote = IMAP4From("127.0.0.1", lab.port("imap"), source="127.0.0.2")
    assert "LOGINDISABLED" in remote.capabilities
    assert "AUTH=PLAIN" not in remote.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        remote.login("alice", "secret")
    local = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        local.login("alice", "wrong")
    local.login("alice", "secret")
    extra = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[LIMIT\].*mail_max_userip_connections=1"):
        extra.login("alice", "secret")
    local.logout()
    remote.shutdown()
    time.sleep(0.3)
    logs = "\n".join(lab.logs())
    assert "Disconnected: Maximum number of connections from user+IP exceeded" in logs
    assert "imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts" in logs
    assert "user=<alice>, rip=127.0.0.2, lip=127.0.0.1, session=<" in logs


def test_bad_input_does_not_disturb_other_sessions(lab_factory) -> None:
    lab = lab_factory()
    with socket.create_connection(("127.0.0.1", lab.port("imap")), timeout=5) as s:
        s.recv(1000)
        s.sendall(b"\x00\xff garbage {99999999}\r\n" + bytes(range(256)) + b"\r\n")
        time.sleep(0.2)
    m = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    m.login("alice", "secret")
    assert m.select("INBOX")[0] == "OK"
    m.logout()
    assert not any("Panic" in line for line in lab.logs())


def _self_signed() -> tuple[bytes, bytes]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_starttls_changes_the_capabilities(tmp_path) -> None:
    import ssl

    from labserver.service.lab import DEFAULT_CONFIG, Lab

    config = DEFAULT_CONFIG.replace("ssl = no\ndisable_plaintext_auth = no\n", "") + (
        "ssl = yes\nssl_cert = </etc/dovecot/cert.pem\nssl_key = </etc/dovecot/key.pem\n"
        "disable_plaintext_auth = yes\nauth_failure_delay = 0\n")
    lab = Lab(config, root=tmp_path / "lab", ports="ephemeral")
    cert, key = _self_signed()
    lab.write_config(cert.decode(), "/etc/dovecot/cert.pem")
    lab.write_config(key.decode(), "/etc/dovecot/key.pem")
    lab.add_user("alice", "secret")
    lab.start()
    try:
        m = IMAP4From("127.0.0.1", lab.port("imap"), source="127.0.0.2")
        caps = m.capability()[1][0].split()
        assert b"STARTTLS" in caps and b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        assert m.starttls(context)[0] == "OK"
        caps = m.capability()[1][0].split()
        assert b"STARTTLS" not in caps and b"LOGINDISABLED" not in caps
        assert b"AUTH=PLAIN" in caps
        assert m.login("alice", "secret")[0] == "OK"
        m.logout()
        time.sleep(0.2)
        assert any("method=PLAIN, rip=127.0.0.2, lip=127.0.0.1, mpid=" in line
                   and ", TLS, session=<" in line for line in lab.logs())
    finally:
        lab.cleanup()
