"""The passwd-file format: fields, extra fields, comments and bad lines."""

from __future__ import annotations

from labserver.auth.db_passwdfile import parse

TEXT = """\
# a comment
:skipped:no user name

alice:{PLAIN}pw:1000:1000::/home/alice::userdb_mail=maildir:~/Maildir allow_nets=10.0.0.0/8
bob:{PLAIN}pw:1001:1001:Bob B:/home/bob:/bin/sh:nologin reason=Closed
carol:{PLAIN}pw
dave::1002:1002::/home/dave::nopassword
olduser:{PLAIN}pw:1003:1003::/home/old:::mbox:~/mail:INBOX=/var/mail/olduser
pam:0123456789abcdef0123456789abcdef[34]:1004:1004
des:abcdefghijklm[13]:1005:1005
alice:{PLAIN}again:1000:1000
root:{PLAIN}pw:0:0::/root
named:{PLAIN}pw:vmail:mail::/var/vmail
"""


def ids(kind: str, text: str) -> int | None:
    return {"vmail": 5000, "mail": 8}.get(text, int(text) if text.isdigit() else None)


def test_userdb_parse() -> None:
    users, errors = parse(TEXT, userdb=True, warn_missing=True, parse_id=ids)
    alice = users["alice"]
    assert (alice.password, alice.uid, alice.gid, alice.home) == ("{PLAIN}pw", 1000, 1000,
                                                                  "/home/alice")
    assert alice.extra_fields == ("userdb_mail=maildir:~/Maildir", "allow_nets=10.0.0.0/8")
    assert users["bob"].extra_fields == ("nologin", "reason=Closed")
    assert (users["carol"].uid, users["carol"].gid) == (0, 0)  # no userdb info
    assert users["dave"].password == "" and users["dave"].extra_fields == ("nopassword",)
    # old format: empty 7th field, then the mail location (its colons kept)
    assert users["olduser"].extra_fields == ("userdb_mail=mbox:~/mail:INBOX=/var/mail/olduser",)
    assert users["pam"].password == "{PLAIN-MD5}0123456789abcdef0123456789abcdef"
    assert users["des"].password == "{CRYPT}abcdefghijklm"
    assert (users["named"].uid, users["named"].gid) == (5000, 8)
    assert "root" not in users
    assert errors == ["User carol is missing userdb info",
                      "User alice exists more than once",
                      "User root has invalid UID '0'"]
    assert ":skipped" not in users and "" not in users


def test_passdb_parse_ignores_userdb_fields() -> None:
    users, errors = parse(TEXT, userdb=False)
    assert users["root"].uid is None and users["root"].home is None
    assert users["named"].uid is None
    assert errors == ["User alice exists more than once"]


def test_odd_lines() -> None:
    users, errors = parse("lonely\nx:y:notanumber:1\n\n#\n", userdb=True)
    assert users["lonely"].password is None
    assert errors == ["User x has invalid UID 'notanumber'"]
    assert parse("a:b:1:1:g:h:s:\n", userdb=True)[0]["a"].extra_fields == ()
