"""The engines with Courier's personality: replies, TLS, limits and reloads."""

from __future__ import annotations

import imaplib
import poplib
import ssl

import pytest

from labserver.courier.lab import CourierLab
from labserver.courier.personality import GREETING
from labserver.service.lab import Lab, LabError
from tests.courier.conftest import MESSAGES, imap_login

CAPS = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT "
        "QUOTA IDLE")


def _client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_imap_in_courier_words(courier_lab: CourierLab) -> None:
    imap = imaplib.IMAP4("127.0.0.1", courier_lab.port("imap"), timeout=30)
    # STARTTLS is announced as Courier does when IMAPDSTARTTLS=YES, certificate or not
    assert imap.welcome.decode() == (f"* OK [CAPABILITY {CAPS} ACL ACL2=UNION STARTTLS "
                                     f"ENABLE UTF8=ACCEPT] {GREETING}")
    assert imap.login("alice", "secret") == ("OK", [b"LOGIN Ok."])
    imap._simple_command("NAMESPACE")
    assert imap.untagged_responses["NAMESPACE"] == [
        b'(("INBOX." ".")) NIL (("#shared." ".")("shared." "."))']
    assert imap.create("INBOX.Archive")[0] == "OK"
    # the two messages wait in new/: INBOX is \Marked until a SELECT takes them
    assert imap.list() == ("OK", [b'(\\Marked \\HasChildren) "." INBOX',
                                  b'(\\HasNoChildren) "." INBOX.Archive'])
    assert imap.select("INBOX") == ("OK", [b"2"])
    assert imap.list('""', "INBOX")[1] == [b'(\\Unmarked \\HasChildren) "." INBOX']
    assert imap.uid("SEARCH", "ALL") == ("OK", [b"1 2"])
    typ, data = imap.fetch("1", "(RFC822)")
    assert typ == "OK" and data[0][1] == MESSAGES[0].replace(b"\n", b"\r\n")
    assert imap.close() == ("OK", [b"mailbox closed."])
    assert imap.logout() == ("BYE", [b"Courier-IMAP server shutting down"])


def test_folders_outside_inbox_do_not_exist(courier_lab: CourierLab) -> None:
    imap = imap_login(courier_lab)
    typ, _ = imap.create("Archive")
    assert typ == "NO"
    assert imap.select("INBOX.Nope")[0] == "NO"
    imap.logout()


def test_pop3_in_courier_words(courier_lab: CourierLab) -> None:
    pop = poplib.POP3("127.0.0.1", courier_lab.port("pop3"), timeout=30)
    assert pop.getwelcome() == b"+OK Hello there."
    assert pop.capa() == {"STLS": [], "TOP": [], "USER": [], "LOGIN-DELAY": ["10"],
                          "PIPELINING": [], "UIDL": [], "UTF8": ["USER"],
                          "IMPLEMENTATION": ["Courier", "Mail", "Server"]}
    assert pop.user("alice") == b"+OK Password required."
    assert pop.pass_("secret") == b"+OK logged in."
    resp, listing, _ = pop.list()
    assert resp == b"+OK POP3 clients that break here, they violate STD53."
    assert len(listing) == 2
    resp, uidls, _ = pop.uidl()
    assert [u.split()[1].split(b"-")[0] for u in uidls] == [b"UID1", b"UID2"]
    assert pop.retr(1)[0].endswith(b"octets follow.")
    assert pop.dele(1) == b"+OK Deleted."
    assert pop.rset() == b"+OK Resurrected."
    assert pop.noop() == b"+OK Yup."
    with pytest.raises(poplib.error_proto, match="Invalid message number."):
        pop.retr(9)
    assert pop.quit() == b"+OK Bye-bye."


def test_wrong_password(courier_lab: CourierLab) -> None:
    imap = imaplib.IMAP4("127.0.0.1", courier_lab.port("imap"), timeout=30)
    with pytest.raises(imaplib.IMAP4.error, match="Login failed."):
        imap.login("alice", "wrong")
    assert imap.login("alice", "secret")[0] == "OK"
    imap.logout()
    pop = poplib.POP3("127.0.0.1", courier_lab.port("pop3"), timeout=30)
    pop.user("alice")
    with pytest.raises(poplib.error_proto, match="-ERR Login failed."):
        pop.pass_("wrong")
    assert any("LOGIN FAILED, user=alice" in line for line in courier_lab.logs())


def test_starttls_after_mkimapdcert(courier_lab: CourierLab) -> None:
    result = courier_lab.mkimapdcert()
    assert result.returncode == 0, result
    assert courier_lab.mkimapdcert().stdout == "/etc/courier/imapd.pem already exists.\n"
    assert courier_lab.mkpop3dcert().returncode == 0
    assert courier_lab.reload() is None
    imap = imaplib.IMAP4("127.0.0.1", courier_lab.port("imap"), timeout=30)
    assert "STARTTLS" in imap.capabilities
    imap.starttls(_client_tls())
    caps = imap.capability()[1][0].decode()
    assert caps == f"{CAPS} AUTH=PLAIN ACL ACL2=UNION ENABLE UTF8=ACCEPT"
    assert imap.login("alice", "secret")[0] == "OK"
    imap.logout()
    with imaplib.IMAP4_SSL("127.0.0.1", courier_lab.port("imaps"),
                           ssl_context=_client_tls(), timeout=30) as imaps:
        assert imaps.login("alice", "secret")[0] == "OK"
    pop = poplib.POP3_SSL("127.0.0.1", courier_lab.port("pop3s"), context=_client_tls(),
                          timeout=30)
    assert "STLS" not in pop.capa()
    pop.quit()


def test_tls_required(courier_lab: CourierLab) -> None:
    courier_lab.mkimapdcert()
    courier_lab.set_courier("imapd-ssl", "IMAP_TLS_REQUIRED", "1")
    assert courier_lab.reload() is None
    imap = imaplib.IMAP4("127.0.0.1", courier_lab.port("imap"), timeout=30)
    assert "LOGINDISABLED" in imap.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        imap.login("alice", "secret")
    imap.starttls(_client_tls())
    assert "LOGINDISABLED" not in imap.capability()[1][0].decode()
    assert imap.login("alice", "secret")[0] == "OK"
    imap.logout()


def test_a_bad_edit_keeps_the_server_running(courier_lab: CourierLab) -> None:
    error = courier_lab.reload({"imapd": "PORT=143\nMAXPERIP=lots\n"})
    assert error == "/etc/courier/imapd line 2: MAXPERIP: not a number: 'lots'"
    assert "MAXPERIP" not in courier_lab.read_courier("imapd").split("\n")[-2]
    imap_login(courier_lab).logout()


def test_imapdstart_no_closes_the_port(courier_lab: CourierLab) -> None:
    courier_lab.set_courier("imapd", "IMAPDSTART", "NO")
    assert courier_lab.reload() is None
    with pytest.raises(LabError, match="no listener named 'imap'"):
        courier_lab.port("imap")
    assert courier_lab.port("pop3")


def test_maildir_from_userdb(courier_lab: CourierLab) -> None:
    courier_lab.userdb("alice", mail="/var/mail/alice")
    courier_lab.makeuserdb()
    courier_lab.maildirmake("/var/mail/alice")
    courier_lab.deliver("alice", b"Subject: elsewhere\n\nhi\n")
    assert (courier_lab.path("/var/mail/alice") / "courierimapuiddb").exists()
    imap = imap_login(courier_lab)
    assert imap.select("INBOX") == ("OK", [b"1"])
    imap.logout()
    assert "Maildir: /var/mail/alice" in str(courier_lab.authtest("alice"))


def test_flavors(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(LabError, match="unknown flavor 'cyrus'"):
        Lab(flavor="cyrus")
    with pytest.raises(LabError, match="engine='lab'"):
        Lab(flavor="courier", root=tmp_path, engine="dovecot")
    with pytest.raises(LabError, match="takes its files as"):
        Lab("protocols = imap\n", flavor="courier", root=tmp_path)
    lab = CourierLab({"pop3d": "PORT=1110\n"}, root=tmp_path)
    assert lab.flavor == "courier" and (tmp_path / "etc/courier/imapd").exists()
    assert lab.read_courier("pop3d") == "PORT=1110\n"
    assert not (tmp_path / "etc/dovecot").exists()
    with pytest.raises(LabError, match="not one of Courier's files: 'dovecot.conf'"):
        lab.write_courier("dovecot.conf", "")
