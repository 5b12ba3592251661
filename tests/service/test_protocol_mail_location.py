"""mail_location in a protocol {} block applies to that protocol's sessions, as in Dovecot."""

from __future__ import annotations

import imaplib
import poplib

from labserver.config import load
from labserver.service.lab import DEFAULT_CONFIG, Lab
from labserver.storage import open_storage

SPLIT = DEFAULT_CONFIG.replace("mail_location = maildir:~/Maildir\n", "") + (
    "protocol imap {\n  mail_location = maildir:~/Maildir\n}\n"
    "protocol pop3 {\n  mail_location = mbox:~/mail:INBOX=/var/mail/%u\n}\n")


def test_open_storage_reads_the_protocols_value(tmp_path) -> None:
    (tmp_path / "etc/dovecot").mkdir(parents=True)
    (tmp_path / "etc/dovecot/dovecot.conf").write_text(SPLIT)
    config = load("/etc/dovecot/dovecot.conf", root=str(tmp_path))
    imap = open_storage(config, "amy", "/home/amy", protocol="imap", create=False)
    pop3 = open_storage(config, "amy", "/home/amy", protocol="pop3", create=False)
    assert (imap.location.driver, pop3.location.driver) == ("maildir", "mbox")
    assert pop3.location.inbox_path == "/var/mail/amy"


def test_sessions_of_each_protocol_use_their_own_location(tmp_path) -> None:
    with Lab(SPLIT, root=tmp_path, ports="ephemeral") as lab:
        lab.add_user("amy", "pw")
        imap = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=5)
        imap.login("amy", "pw")
        assert imap.select("INBOX")[0] == "OK"
        imap.logout()
        pop = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=5)
        pop.user("amy")
        pop.pass_("pw")
        pop.quit()
        assert (lab.path("/home/amy/Maildir") / "cur").is_dir()
        assert lab.path("/var/mail/amy").is_file()
