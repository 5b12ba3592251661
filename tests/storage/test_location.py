"""mail_location parsing, as src/lib-storage/mail-storage.c and mailbox-list.c do it."""

from __future__ import annotations

import os

import pytest

from labserver.config.resolve import PathResolver
from labserver.storage.location import LocationError, mail_home, parse_location

HOME = "/home/alice"

CASES = [
    # (mail_location, driver, root, layout, inbox, extra checks)
    ("maildir:~/Maildir", "maildir", "/home/alice/Maildir", "maildir++",
     "/home/alice/Maildir", {"subscription_fname": "subscriptions"}),
    ("maildir:~/Maildir/", "maildir", "/home/alice/Maildir", "maildir++",
     "/home/alice/Maildir", {}),
    ("maildir:~/Maildir:LAYOUT=fs", "maildir", "/home/alice/Maildir", "fs",
     "/home/alice/Maildir", {}),
    ("maildir:~/mail:LAYOUT=fs:DIRNAME=Maildir", "maildir", "/home/alice/mail", "fs", None,
     {"maildir_name": "Maildir"}),
    ("maildir:~/Maildir:INDEX=/var/index/%u:CONTROL=~/control", "maildir",
     "/home/alice/Maildir", "maildir++", "/home/alice/Maildir",
     {"index_dir": "/var/index/alice", "control_dir": "/home/alice/control"}),
    ("maildir:/var/vmail/%d/%n", "maildir", "/var/vmail/example.org/alice", "maildir++",
     "/var/vmail/example.org/alice", {}),
    ("mbox:~/mail:INBOX=/var/mail/%u", "mbox", "/home/alice/mail", "fs",
     "/var/mail/alice", {"subscription_fname": ".subscriptions"}),
    ("mbox:~/mail", "mbox", "/home/alice/mail", "fs", "/home/alice/mail/inbox", {}),
    ("maildir:~/Maildir:INDEX=MEMORY", "maildir", "/home/alice/Maildir", "maildir++",
     "/home/alice/Maildir", {"index_dir": ""}),
    ("maildir:~/Mail::dir", "maildir", "/home/alice/Mail:dir", "maildir++",
     "/home/alice/Mail:dir", {}),
    ("maildir:~/Maildir:UTF-8", "maildir", "/home/alice/Maildir", "maildir++",
     "/home/alice/Maildir", {"utf8": True}),
    ("MailDir:~/Maildir", "maildir", "/home/alice/Maildir", "maildir++",
     "/home/alice/Maildir", {}),
]


@pytest.mark.parametrize("text,driver,root,layout,inbox,extra", CASES)
def test_location_table(text, driver, root, layout, inbox, extra):
    user = "alice@example.org" if "%d" in text else "alice"
    loc = parse_location(text, user=user, home=HOME)
    assert (loc.driver, loc.root_dir, loc.layout.lower(), loc.inbox_path) == (
        driver, root, layout, inbox)
    for key, value in extra.items():
        assert getattr(loc, key) == value


ERRORS = [
    ("maildir:~/Maildir:FOO=bar", "Unknown setting: FOO"),
    ("mdirx:~/Maildir", "Unknown mail storage driver mdirx"),
    ("mbox:INBOX=/var/mail/%u", "Mail root directory not given: INBOX=/var/mail/alice"),
    ("maildir:", "Root mail directory not given"),
    ("maildir:~bob/Maildir", "No home directory for system user. Can't expand ~bob for "
     "mail root dir in: ~bob/Maildir"),
    ("maildir:~/x:BROKENCHAR=ab", "BROKENCHAR value must be a single character"),
    ("maildir:~/x:ITERINDEX", "ITERINDEX requires INDEX to be explicitly set"),
    ("/nowhere/at/all", "Ambiguous mail location setting, don't know what to do with it: "
     "/nowhere/at/all (try prefixing it with mbox: or maildir:)"),
]


@pytest.mark.parametrize("text,message", ERRORS)
def test_location_errors_in_dovecots_words(text, message, tmp_path):
    with pytest.raises(LocationError) as exc:
        parse_location(text, user="alice", home=HOME, resolver=PathResolver(tmp_path))
    assert str(exc.value) == message


def test_tilde_without_home():
    with pytest.raises(LocationError, match="Home directory not set for user. Can't expand ~/ "
                       "for mail root dir in: ~/Maildir"):
        parse_location("maildir:~/Maildir", user="alice", home=None)


def _mkdirs(root, *paths):
    for p in paths:
        os.makedirs(os.path.join(root, p.lstrip("/")), exist_ok=True)


def test_autodetect_order(tmp_path):
    resolver = PathResolver(tmp_path)
    with pytest.raises(LocationError, match=r"^Mail storage autodetection failed with "
                       r"home=/home/alice$"):
        parse_location("", user="alice", home=HOME, resolver=resolver)
    # mbox: ~/mail with an inbox file, INBOX from /var/mail/<user>
    _mkdirs(tmp_path, "/home/alice/mail", "/var/mail")
    (tmp_path / "home/alice/mail/inbox").write_bytes(b"")
    (tmp_path / "var/mail/alice").write_bytes(b"")
    loc = parse_location("", user="alice", home=HOME, resolver=resolver)
    assert (loc.driver, loc.root_dir, loc.inbox_path) == ("mbox", "/home/alice/mail",
                                                          "/var/mail/alice")
    # Maildir is tried before mbox
    _mkdirs(tmp_path, "/home/alice/Maildir/cur")
    loc = parse_location("", user="alice", home=HOME, resolver=resolver)
    assert (loc.driver, loc.root_dir, loc.layout) == ("maildir", "/home/alice/Maildir",
                                                      "maildir++")
    # and mdbox before Maildir
    _mkdirs(tmp_path, "/home/alice/mdbox/storage")
    assert parse_location("", user="alice", home=HOME, resolver=resolver).driver == "mdbox"


def test_autodetect_with_root_and_auto_driver(tmp_path):
    resolver = PathResolver(tmp_path)
    _mkdirs(tmp_path, "/srv/m/cur")
    loc = parse_location("/srv/m", user="alice", home=HOME, resolver=resolver)
    assert loc.driver == "maildir" and loc.autodetected
    with pytest.raises(LocationError, match=r"^Autodetection failed for auto:/srv/none "
                       r"\(home=/home/alice\)$"):
        parse_location("auto:/srv/none", user="alice", home=HOME, resolver=resolver)


def test_mail_home_is_the_fallback_for_the_userdb_home():
    assert mail_home("/srv/home/%u", "alice") == "/srv/home/alice"
    assert mail_home("/srv/home/%u", "alice", userdb_home="/home/alice") == "/home/alice"
    assert mail_home("", "alice") is None
