"""The pam, passwd, shadow and sql drivers over a lab root, with Dovecot's log lines."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest

from labserver.auth import AuthConfigError, Authenticator, PassdbResult, UserdbResult, schemes
from labserver.config import PathResolver, parse_text

ALICE = schemes.generate("secret", "SHA512-CRYPT", prefix=False)
TODAY = int(time.time() // 86400)
FILES = {
    "/etc/passwd": ("alice:x:1000:1000::/home/alice:/bin/bash\n"
                    "bob:x:1001:1001::/home/bob:/bin/bash\n"
                    "carol:x:1002:1002::/home/carol:/bin/bash\n"
                    "dave:x:1003:1003::/home/dave:/bin/bash\n"
                    "erin:x:1004:1004::/home/erin:/bin/bash\n"
                    "frank:x:1005:1005::/home/frank:/bin/bash\n"
                    "root:x:0:0::/root:/bin/bash\n"
                    "legacy:" + ALICE + ":1006:1006::/home/legacy:/bin/sh\n"),
    "/etc/shadow": (f"alice:{ALICE}:{TODAY - 1}:0:99999:7:::\n"
                    f"bob:!{ALICE}:{TODAY - 1}:0:99999:7:::\n"
                    f"carol:{ALICE}:{TODAY - 10}:0:99999:7::{TODAY - 1}:\n"
                    f"dave:{ALICE}:0:0:99999:7:::\n"
                    "erin::19000:0:99999:7:::\n"
                    f"frank:{ALICE}:{TODAY - 100}:0:30:7:::\n"
                    f"root:{ALICE}:{TODAY - 1}:0:99999:7:::\n"),
    "/etc/pam.d/dovecot": ("#%PAM-1.0\n@include common-auth\n@include common-account\n"),
    "/etc/pam.d/common-auth": ("auth [success=1 default=ignore] pam_unix.so nullok\n"
                               "auth requisite pam_deny.so\nauth required pam_permit.so\n"),
    "/etc/pam.d/common-account": (
        "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\n"
        "account requisite pam_deny.so\naccount required pam_permit.so\n"),
}

PAM = "passdb {\n  driver = pam\n  args = %s\n}\nuserdb {\n  driver = passwd\n}\n"


def lab(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    for name, text in {**FILES, **(extra or {})}.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def make(root: Path, body: str) -> Authenticator:
    # auth_username_chars empty: let quotes reach the databases, to test their escaping
    cfg = parse_text("auth_verbose = yes\nauth_debug = yes\nauth_username_chars =\n" + body,
                     root=str(root))
    return Authenticator(cfg, PathResolver(root))


_WORKER = re.compile(r"^auth-worker\(\d+\): (\w+): conn unix:auth-worker "
                     r"\(pid=\d+,uid=\d+\): auth-worker<\d+>: ")


def info(result) -> list[str]:  # noqa: ANN001
    """Non-debug lines; an auth-worker's lines as ``auth-worker: Level: ...`` (its pid,
    the asking connection and the request number left out)."""
    return [_WORKER.sub(r"auth-worker: \1: ", str(x)) for x in result.log
            if ": Debug: " not in str(x)]


def test_blocking_drivers_log_from_an_auth_worker(tmp_path: Path) -> None:
    auth = make(lab(tmp_path), PAM.replace("%s", "dovecot"))
    lines = [str(x) for x in auth.authenticate("alice", "wrong", remote_ip="127.0.0.2").log
             if ": Info: " in str(x)]
    assert len(lines) == 1 and _WORKER.match(lines[0]), lines
    assert lines[0].endswith(": auth-worker<1>: pam(alice,127.0.0.2): pam_authenticate() "
                             "failed: Authentication failure (Password mismatch?)")


def test_pam_success_and_userdb(tmp_path: Path) -> None:
    auth = make(lab(tmp_path), PAM.replace("%s", "dovecot"))
    result = auth.authenticate("alice", "secret", remote_ip="127.0.0.2", session="s1")
    assert result.success and result.home == "/home/alice" and result.uid == "1000"
    assert "pam(alice,127.0.0.2,<s1>): lookup service=dovecot" in " ".join(result.log_text)


@pytest.mark.parametrize(("user", "password", "result", "line"), [
    ("alice", "wrong", PassdbResult.PASSWORD_MISMATCH,
     "auth-worker: Info: pam(alice,127.0.0.2): pam_authenticate() failed: "
     "Authentication failure (Password mismatch?)"),
    ("nobody", "x", PassdbResult.PASSWORD_MISMATCH,  # common-auth's pam_deny answers
     "auth-worker: Info: pam(nobody,127.0.0.2): pam_authenticate() failed: "
     "Authentication failure (Password mismatch?)"),
    ("bob", "secret", PassdbResult.PASSWORD_MISMATCH, None),  # locked with "!"
    # Debian's common-account ignores pam_unix's ACCT_EXPIRED and runs into pam_deny
    ("carol", "secret", PassdbResult.PASSWORD_MISMATCH,
     "auth-worker: Error: pam(carol,127.0.0.2): pam_acct_mgmt() failed: Authentication failure"),
    ("dave", "secret", PassdbResult.PASS_EXPIRED,
     "auth-worker: Error: pam(dave,127.0.0.2): pam_acct_mgmt() failed: "
     "Authentication token is no longer valid; new one required"),
    ("frank", "secret", PassdbResult.PASS_EXPIRED, None),  # max age passed
    ("erin", "", PassdbResult.OK, None),  # nullok and an empty hash
])
def test_pam_failures(tmp_path: Path, user: str, password: str, result: PassdbResult,
                      line: str | None) -> None:
    auth = make(lab(tmp_path), PAM.replace("%s", "dovecot"))
    res = auth.authenticate(user, password, remote_ip="127.0.0.2")
    assert res.passdb_result is result
    if line:
        assert line in info(res)


def test_pam_unknown_user_direct(tmp_path: Path) -> None:
    root = lab(tmp_path, {"/etc/pam.d/imap": "auth required pam_unix.so\n"
                                              "account required pam_unix.so\n"})
    res = make(root, PAM).authenticate("nobody", "x", remote_ip="127.0.0.2")
    assert res.passdb_result is PassdbResult.USER_UNKNOWN
    assert "auth-worker: Info: pam(nobody,127.0.0.2): unknown user" in info(res)


def test_pam_modules(tmp_path: Path) -> None:
    root = lab(tmp_path, {
        "/etc/pam.d/imap": ("auth requisite pam_nologin.so\n"
                            "auth required pam_listfile.so item=user sense=deny "
                            "file=/etc/dovecot/deny onerr=succeed\n"
                            "auth required pam_succeed_if.so uid >= 1000 quiet\n"
                            "auth required pam_unix.so\naccount required pam_permit.so\n"),
        "/etc/pam.d/pop3": "auth required pam_unix.so\naccount required pam_ldap.so\n",
        "/etc/dovecot/deny": "frank\n"})
    auth = make(root, PAM.replace("%s", "%s"))
    assert auth.authenticate("alice", "secret", service="imap").success
    assert not auth.authenticate("frank", "secret", service="imap").success
    assert not auth.authenticate("root", "secret", service="imap").success  # uid < 1000
    res = auth.authenticate("alice", "secret", service="pop3")
    assert "auth-worker: Error: pam(alice): pam_acct_mgmt() failed: Module is unknown" in info(res)
    (root / "etc/nologin").write_text("Maintenance until 14:00\n")
    assert not auth.authenticate("alice", "secret", service="imap").success


def test_pam_missing_service_file_and_show_msg(tmp_path: Path) -> None:
    root = lab(tmp_path)
    auth = make(root, PAM.replace("%s", "failure_show_msg=yes nosuchservice"))
    res = auth.authenticate("alice", "secret", remote_ip="127.0.0.2")
    assert ("auth-worker: Error: pam(alice,127.0.0.2): pam_authenticate() failed: Permission "
            "denied (/etc/pam.d/nosuchservice missing?)") in info(res)
    auth = make(root, PAM.replace("%s", "failure_show_msg=yes dovecot"))
    request = auth.new_request()
    request.user = "alice"
    assert auth.passdbs[0].driver.verify_plain(request, "bad") is not PassdbResult.OK
    assert request.extra_fields.get("reason") == "Password: "  # the module's prompt


def test_pam_args_and_no_credentials(tmp_path: Path) -> None:
    root = lab(tmp_path, {"/etc/pam.d/dovecot": FILES["/etc/pam.d/dovecot"]
                          + "session required pam_permit.so\n"})
    with pytest.raises(AuthConfigError, match="pam: Unknown setting: bogus"):
        make(root, PAM.replace("%s", "bogus dovecot"))
    auth = make(root, PAM.replace("%s", "session=yes setcred=yes max_requests=5 dovecot"))
    assert auth.authenticate("alice", "secret").success
    lookup = auth.lookup_credentials("alice", "CRAM-MD5")
    assert lookup.result is not PassdbResult.OK
    assert any("passdb doesn't support credential lookups" in x for x in
               (str(line) for line in lookup.request.log))


def test_passwd_and_shadow(tmp_path: Path) -> None:
    root = lab(tmp_path)
    shadow = make(root, "passdb {\n driver = shadow\n}\nuserdb {\n driver = passwd\n}\n")
    assert shadow.authenticate("alice", "secret").success
    res = shadow.authenticate("bob", "secret", remote_ip="10.0.0.1")
    assert res.passdb_result is PassdbResult.USER_DISABLED
    assert "auth-worker: Info: shadow(bob,10.0.0.1): invalid password field" in info(res)
    assert shadow.authenticate("ghost", "x").passdb_result is PassdbResult.USER_UNKNOWN
    passwd = make(root, "passdb {\n driver = passwd\n}\nuserdb {\n driver = passwd\n}\n")
    assert passwd.authenticate("legacy", "secret").success
    assert not passwd.authenticate("alice", "secret").success  # "x": shadowed
    user = passwd.lookup_user("alice")
    assert user.userdb_fields == {"system_groups_user": "alice", "uid": "1000",
                                  "gid": "1000", "home": "/home/alice"}
    assert passwd.lookup_user("ghost").userdb_result is UserdbResult.USER_UNKNOWN
    with pytest.raises(AuthConfigError):
        make(root, "passdb {\n driver = shadow\n args = nonsense\n}\n")


SQL_CONF = """driver = sqlite
connect = /etc/dovecot/users.db
default_pass_scheme = SHA512-CRYPT
password_query = SELECT username AS user, password FROM users WHERE username = '%u'
user_query = SELECT home, uid, gid, mail FROM users WHERE username = '%u'
"""
SQL = ("passdb {\n driver = sql\n args = /etc/dovecot/dovecot-sql.conf.ext\n}\n"
       "userdb {\n driver = sql\n args = /etc/dovecot/dovecot-sql.conf.ext\n}\n")


def sql_lab(tmp_path: Path, conf: str = SQL_CONF) -> Path:
    root = lab(tmp_path, {"/etc/dovecot/dovecot-sql.conf.ext": conf})
    db = sqlite3.connect(root / "etc/dovecot/users.db")
    db.execute("CREATE TABLE users (username TEXT, password TEXT, home TEXT, uid INT, "
               "gid INT, mail TEXT)")
    db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?)", [
        ("alice", ALICE, "/home/alice", 1000, 1000, "maildir:~/Maildir"),
        ("o'brien", "{PLAIN}pw", "/home/ob", 1001, 1001, None),
        ("twin", "{PLAIN}a", "/a", 1, 1, None), ("twin", "{PLAIN}b", "/b", 1, 1, None)])
    db.commit()
    db.close()
    return root


def test_sql(tmp_path: Path) -> None:
    root = sql_lab(tmp_path)
    auth = make(root, SQL)
    res = auth.authenticate("alice", "secret")
    assert res.success and res.userdb_fields == {"home": "/home/alice", "uid": "1000",
                                                 "gid": "1000", "mail": "maildir:~/Maildir"}
    assert auth.authenticate("o'brien", "pw").success  # quotes doubled, not broken
    assert "mail" not in auth.lookup_user("o'brien").userdb_fields  # NULL column skipped
    res = auth.authenticate("twin", "a")
    assert "auth-worker: Error: sql(twin): Password query returned multiple matches" in info(res)
    assert auth.lookup_credentials("o'brien", "CRAM-MD5").result is PassdbResult.OK


@pytest.mark.parametrize("user", [
    "x' OR '1'='1", "alice'--", "' UNION SELECT 'alice','{PLAIN}x' --",
    "alice'; DROP TABLE users; --", "\\'", "alice\\"])
def test_sql_injection(tmp_path: Path, user: str) -> None:
    root = sql_lab(tmp_path)
    auth = make(root, SQL)
    res = auth.authenticate(user, "x")
    assert not res.success
    assert res.passdb_result is PassdbResult.USER_UNKNOWN
    assert auth.authenticate("alice", "secret").success  # the table is still there


def test_sql_errors(tmp_path: Path) -> None:
    root = sql_lab(tmp_path, SQL_CONF.replace("password_query = SELECT username AS user, "
                                              "password", "password_query = SELECT home"))
    res = make(root, SQL).authenticate("alice", "secret")
    assert ("auth-worker: Error: sql(alice): Password query must return a field named 'password'"
            in info(res))
    root2 = sql_lab(tmp_path / "b", "driver = sqlite\nconnect = /nowhere.db\n")
    res = make(root2, SQL).authenticate("alice", "secret")
    assert any("Password query failed: " in x and "built-in default" in x for x in info(res))
    for bad, message in [("connect = /x\n", "driver not set"),
                         ("driver = sqlite\n", "connect string not set"),
                         ("driver = sqlite\nconnect = /x\nbogus = 1\n", "Unknown setting"),
                         ("driver = mysql\nconnect = host=x\n", "Unknown database driver")]:
        root3 = lab(tmp_path / "c", {"/etc/dovecot/dovecot-sql.conf.ext": bad})
        with pytest.raises(AuthConfigError, match=message):
            make(root3, SQL)
    with pytest.raises(AuthConfigError, match="open"):
        make(lab(tmp_path / "d"), SQL)
