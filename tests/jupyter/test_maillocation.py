"""The mail_location explorer: where it says mail lands is where the servers put it."""

from __future__ import annotations

import imaplib
import time
from pathlib import Path

import pytest

from graders.probe import close, imap_client, lab_for
from labserver.jupyter.maillocation import (
    MailLocationExplorer,
    explore,
    file_tree,
    landing_html,
    variables,
)
from tests.tools import require_program

USER = "amy@example.org"


def test_maildir_default_layout() -> None:
    got = explore("maildir:~/Maildir", USER)
    assert got.ok and got.location is not None and got.location.driver == "maildir"
    assert got.inbox == "/home/amy@example.org/Maildir"
    assert got.folder_name == "Archive.2024"
    assert got.folder == "/home/amy@example.org/Maildir/.Archive.2024"
    assert got.messages["INBOX"].startswith("/home/amy@example.org/Maildir/new/")
    assert ",S=" in got.messages["INBOX"] and ",W=" in got.messages["INBOX"]
    assert got.messages["Archive.2024"].startswith(got.folder + "/new/")
    assert "├── .Archive.2024/" in got.tree and "maildirfolder" in got.tree


def test_mbox_with_spool_inbox() -> None:
    got = explore("mbox:~/mail:INBOX=/var/mail/%u", USER, folder="Lists/python")
    assert got.inbox == "/var/mail/amy@example.org"
    assert got.folder_name == "Lists/python"
    assert got.messages == {"INBOX": "/var/mail/amy@example.org",
                            "Lists/python": "/home/amy@example.org/mail/Lists/python"}
    assert got.debug_line == ("fs: root=/home/amy@example.org/mail, index=, indexpvt=, "
                              "control=, inbox=/var/mail/amy@example.org, alt=")


def test_virtual_user_variables_and_control_dir() -> None:
    got = explore("maildir:/var/vmail/%d/%n:LAYOUT=fs:CONTROL=/var/control/%u", USER)
    assert got.expanded == "maildir:/var/vmail/example.org/amy:LAYOUT=fs:CONTROL=" \
                           "/var/control/amy@example.org"
    assert got.folder == "/var/vmail/example.org/amy/Archive/2024"
    # The UID list lives in the control directory, not beside the mail.
    assert "dovecot-uidlist" in file_tree_of(got, "/var/control")
    assert "dovecot-uidlist" not in got.tree.split("control/")[0]


def file_tree_of(landing, prefix: str) -> str:
    lines = landing.tree.splitlines()
    name = prefix.strip("/").split("/")[-1] + "/"
    start = next(i for i, line in enumerate(lines) if line.endswith(name))
    return "\n".join(lines[start:])


@pytest.mark.parametrize(("before", "driver"), [("~/Maildir with cur/", "maildir"),
                                               ("~/mail/.imap/ and /var/mail/USER", "mbox")])
def test_an_empty_value_autodetects_from_the_home(before: str, driver: str) -> None:
    got = explore("", USER, before=before)
    assert got.ok and got.location is not None
    assert got.location.driver == driver and got.location.autodetected


@pytest.mark.parametrize(("value", "error"), [
    ("", "mail_location not set and autodetection failed: Mail storage autodetection "
         "failed with home=/home/amy@example.org"),
    ("mdir:~/Maildir", "Unknown mail storage driver mdir"),
    ("~/Maildir", "Ambiguous mail location setting"),
    ("maildir:~/Maildir:LAYOT=fs", "Unknown setting: LAYOT"),
])
def test_values_dovecot_refuses_give_its_words(value: str, error: str) -> None:
    got = explore(value, USER)
    assert not got.ok and got.error is not None and got.error.startswith(error)
    assert "Error: " + error in landing_html(got)


def test_a_folder_name_that_escapes_is_refused_inside_the_sandbox() -> None:
    got = explore("maildir:~/Maildir:LAYOUT=fs", USER, folder="../../etc")
    assert not got.ok and "Invalid mailbox name" in (got.error or "")
    with pytest.raises(ValueError):
        explore("maildir:~/Maildir", "../root")


def test_variables_for_a_virtual_user() -> None:
    got = variables("Bob@Example.COM", "/srv/bob")
    assert got["%u"] == "Bob@Example.COM" and got["%n"] == "Bob"
    assert got["%d"] == "Example.COM" and got["%h"] == "/srv/bob"
    assert got["%Lu"] == "bob@example.com"


def test_file_tree_draws_like_tree(tmp_path: Path) -> None:
    (tmp_path / "home/a/Maildir/cur").mkdir(parents=True)
    (tmp_path / "home/a/Maildir/new").mkdir()
    (tmp_path / "home/a/Maildir/new/1.M1,S=3").write_bytes(b"abc")
    (tmp_path / "etc/dovecot").mkdir(parents=True)
    assert file_tree(tmp_path, "/home/a") == "\n".join([
        "/home/a/", "└── Maildir/", "    ├── cur/", "    └── new/",
        "        └── 1.M1,S=3  (3 bytes)"])
    assert "etc" not in file_tree(tmp_path)
    assert file_tree(tmp_path, "/nowhere") == "/nowhere (does not exist)"


def test_the_widget_follows_its_fields() -> None:
    explorer = MailLocationExplorer()
    assert explorer.last is not None and explorer.last.ok
    explorer.location.value = "mbox:~/mail:INBOX=/var/mail/%u"
    assert explorer.last.inbox == "/var/mail/alice" and "/var/mail/alice" in explorer.out.value
    explorer.user.value = "../x"
    assert "Invalid user name" in explorer.out.value


LOCATIONS = ["maildir:~/Maildir", "mbox:~/mail:INBOX=/var/mail/%u",
             "maildir:/var/vmail/%d/%n:LAYOUT=fs:CONTROL=/var/control/%u"]


@pytest.mark.parametrize("engine", ["lab", "dovecot"])
@pytest.mark.parametrize("value", LOCATIONS)
def test_servers_put_mail_where_the_explorer_says(value: str, engine: str) -> None:
    if engine == "dovecot":
        require_program("dovecot", "dovecot-core")
    predicted = explore(value, USER, folder="Archive")
    config = ("protocols = imap pop3\ndisable_plaintext_auth = no\nmail_debug = yes\n"
              f"mail_location = {value}\n")
    files: dict[str, str | bytes | None] = {"/var/mail/amy@example.org": b"",
                                            "/home/amy@example.org/mail": None,
                                            "/var/vmail": None, "/var/control": None}
    with lab_for("explorer", config, engine=engine, users=[(USER, "pw")], files=files,
                 default_auth=True) as lab:
        client = imap_client(lab, source=None)
        try:
            client.login(USER, "pw")
            assert client.create("Archive")[0] == "OK"
            client.append("Archive", None, imaplib.Time2Internaldate(time.time()),
                          b"Subject: x\r\n\r\nhello\r\n")
        finally:
            close(client)
        archive = lab.path(predicted.folder)
        assert archive.exists()
        assert (archive / "cur").is_dir() or archive.read_bytes().count(b"hello") == 1
        if engine == "dovecot":
            assert any(line.endswith(predicted.debug_line) for line in lab.logs("root=")), \
                lab.logs("root=")
