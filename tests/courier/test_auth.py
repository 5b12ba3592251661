"""authdaemon's modules (authuserdb, authpam, authshadow), userdb tools and authtest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labserver.auth import schemes
from labserver.config.resolve import PathResolver
from labserver.courier import authdaemon, userdb

FAILED = (1, "", "Authentication FAILED: Operation not permitted\n")


@pytest.fixture
def resolver(tmp_path: Path) -> PathResolver:
    return PathResolver(tmp_path)


def _account(resolver: PathResolver, name: str = "alice", **extra: str) -> str:
    stored = userdb.userdbpw("secret", "-md5")
    userdb.userdb_set(resolver, name, {"uid": "1000", "gid": "1000", "home": f"/home/{name}",
                                       "systempw": stored, **extra})
    userdb.makeuserdb(resolver)
    return stored


def test_userdb_files_as_courier_writes_them(tmp_path: Path, resolver: PathResolver) -> None:
    stored = _account(resolver, mail="/var/mail/alice/Maildir", imappw="$1$x$y")
    source = tmp_path / "etc/courier/userdb"
    assert source.read_text() == (f"alice\tuid=1000|gid=1000|home=/home/alice|systempw={stored}"
                                  "|mail=/var/mail/alice/Maildir|imappw=$1$x$y\n")
    assert oct(source.stat().st_mode & 0o777) == "0o600"
    # makeuserdb splits passwords (fields ending in "pw") into the shadow file
    assert (tmp_path / "etc/courier/userdb.dat").read_text() == \
        "alice\tuid=1000|gid=1000|home=/home/alice|mail=/var/mail/alice/Maildir|_=\n"
    shadow = tmp_path / "etc/courier/userdbshadow.dat"
    assert shadow.read_text() == f"alice\tsystempw={stored}|imappw=$1$x$y\n"
    assert oct(shadow.stat().st_mode & 0o777) == "0o600"


def test_edits_count_only_after_makeuserdb(resolver: PathResolver) -> None:
    _account(resolver)
    userdb.userdb_set(resolver, "bob", {"uid": "1001", "gid": "1001", "home": "/home/bob",
                                        "systempw": userdb.userdbpw("pw", "")})
    assert authdaemon.authenticate(resolver, ("authuserdb",), "bob", "pw", "imap") is None
    userdb.makeuserdb(resolver)
    assert authdaemon.authenticate(resolver, ("authuserdb",), "bob", "pw", "imap") is not None
    userdb.userdb_del(resolver, "bob")
    userdb.makeuserdb(resolver)
    assert authdaemon.authenticate(resolver, ("authuserdb",), "bob", "pw", "imap") is None


def test_makeuserdb_refuses_a_readable_source(tmp_path: Path, resolver: PathResolver) -> None:
    with pytest.raises(userdb.UserdbError, match="/etc/courier/userdb: not found."):
        userdb.makeuserdb(resolver)
    _account(resolver)
    os.chmod(tmp_path / "etc/courier/userdb", 0o644)
    with pytest.raises(userdb.UserdbError, match="MAY NOT HAVE GROUP OR WORLD PERMISSIONS!!"):
        userdb.makeuserdb(resolver)


def test_userdb_refuses_separators(resolver: PathResolver) -> None:
    for name, fields in (("a|b", {}), ("alice", {"home": "/x|uid=0"}), ("", {})):
        with pytest.raises(userdb.UserdbError, match="Invalid field or value."):
            userdb.userdb_set(resolver, name, fields)


def test_userdbpw_schemes() -> None:
    assert userdb.userdbpw("secret", "-md5").startswith("$1$")
    assert len(userdb.userdbpw("secret", "")) == 13  # traditional DES crypt
    # the HMAC-MD5 secret is the one CRAM-MD5 uses (doveadm pw -s CRAM-MD5 gives the same)
    assert userdb.userdbpw("secret", "-hmac-md5") == \
        "cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56"
    with pytest.raises(userdb.UserdbError, match="userdbpw: invalid argument."):
        userdb.userdbpw("secret", "-sha1")
    assert schemes.verify("secret", userdb.userdbpw("secret", "-md5"), "CRYPT")


def test_authtest_prints_what_courier_prints(resolver: PathResolver) -> None:
    stored = _account(resolver, quota="10000000S")
    code, out, err = authdaemon.authtest(resolver, ("authuserdb",), "alice", "secret")
    assert (code, err) == (0, "")
    assert out == f"""\
Authentication succeeded.

     Authenticated: alice  (uid 1000, gid 1000)
    Home Directory: /home/alice
           Maildir: (none)
             Quota: 10000000S
Encrypted Password: {stored}
Cleartext Password: secret
           Options: (none)
"""
    assert authdaemon.authtest(resolver, ("authuserdb",), "alice", "wrong") == FAILED
    assert authdaemon.authtest(resolver, ("authuserdb",), "bob") == FAILED
    code, out, _ = authdaemon.authtest(resolver, ("authuserdb",), "alice")
    assert code == 0 and "Cleartext Password: (none)\n" in out


def test_a_service_password_comes_first(resolver: PathResolver) -> None:
    _account(resolver, imappw=userdb.userdbpw("imap-only", "-md5"))
    assert authdaemon.authenticate(resolver, ("authuserdb",), "alice", "imap-only", "imap")
    assert not authdaemon.authenticate(resolver, ("authuserdb",), "alice", "secret", "imap")
    assert authdaemon.authenticate(resolver, ("authuserdb",), "alice", "secret", "pop3")


def _system_user(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text("carol:x:1002:1002:Carol:/home/carol:/bin/sh\n")
    (etc / "shadow").write_text(
        f"carol:{schemes.generate('secret', 'SHA512-CRYPT').split('}', 1)[1]}:19000::::::\n")


def test_authshadow_reads_the_labs_shadow(tmp_path: Path, resolver: PathResolver) -> None:
    _system_user(tmp_path)
    info = authdaemon.authenticate(resolver, ("authshadow",), "carol", "secret", "imap")
    assert info is not None and (info.uid, info.home, info.module) == \
        (1002, "/home/carol", "authshadow")
    assert authdaemon.authenticate(resolver, ("authshadow",), "carol", "x", "imap") is None


def test_authpam_uses_the_service_named_after_the_server(tmp_path: Path,
                                                         resolver: PathResolver) -> None:
    _system_user(tmp_path)
    pamd = tmp_path / "etc/pam.d"
    pamd.mkdir(parents=True)
    (pamd / "common-auth").write_text("auth required pam_unix.so\n")
    (pamd / "common-account").write_text("account required pam_unix.so\n")
    (pamd / "imap").write_text("@include common-auth\n@include common-account\n")
    (pamd / "pop3").write_text("auth requisite pam_deny.so\naccount required pam_unix.so\n")
    info = authdaemon.authenticate(resolver, ("authpam",), "carol", "secret", "imap")
    assert info is not None and info.module == "authpam"
    assert authdaemon.authenticate(resolver, ("authpam",), "carol", "wrong", "imap") is None
    assert authdaemon.authenticate(resolver, ("authpam",), "carol", "secret", "pop3") is None


def test_modules_are_asked_in_order(tmp_path: Path, resolver: PathResolver) -> None:
    _account(resolver)
    _system_user(tmp_path)
    both = ("authuserdb", "authshadow")
    assert authdaemon.authenticate(resolver, both, "carol", "secret", "imap").module == \
        "authshadow"
    assert authdaemon.authenticate(resolver, both, "alice", "secret", "imap").module == \
        "authuserdb"
    assert authdaemon.authenticate(resolver, ("authshadow",), "alice", "secret", "imap") is None
