"""``labserver doveadm`` against the real doveadm on the same configuration files.

The real ``doveadm auth``/``user`` commands ask a running Dovecot's auth process, so
the comparison starts one (tests/auth/oracle.py); the lab answers from the config
alone. Hashes with random salts are compared after verifying them, not as text.
"""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess

import pytest

from labserver import doveadm
from labserver.auth import schemes

from .oracle import RealAuth, doveadm_path


def mine(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = doveadm.main(list(args), out=out)
    return code, out.getvalue()


def real(*args: str) -> tuple[int, str]:
    proc = subprocess.run([doveadm_path(), *args], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout


SALTED = re.compile(r"^\{(SHA512-CRYPT|SHA256-CRYPT|CRYPT|BLF-CRYPT|MD5-CRYPT|SSHA|SSHA256|"
                    r"SSHA512|SMD5|PBKDF2)\}")


@pytest.mark.parametrize("args", [
    ("-s", "PLAIN", "-p", "secret"), ("-s", "cram-md5", "-p", "secret"),
    ("-s", "SHA256", "-p", "secret"), ("-s", "DIGEST-MD5", "-u", "bob", "-p", "x"),
    ("-s", "NOSUCH", "-p", "x"), ("-t", "{PLAIN}x", "-p", "x"), ("-t", "{PLAIN}y", "-p", "x"),
    ("-t", "nobrace", "-p", "x"), ("-s", "SHA512-CRYPT", "-p", "x"), ("-p", "x"),
    ("-s", "SSHA", "-p", "x", "-V"), ("-s", "SHA512-CRYPT", "-r", "6000", "-p", "x"),
])
def test_pw(args: tuple[str, ...]) -> None:
    rc_real, out_real = real("pw", *args)
    rc_mine, out_mine = mine("pw", *args)
    assert rc_mine == rc_real, (out_mine, out_real)
    if SALTED.match(out_real):
        assert SALTED.match(out_mine)
        assert out_mine.split("}")[0] == out_real.split("}")[0]
        assert out_mine.endswith(" (verified)\n") == out_real.endswith(" (verified)\n")
        for out in (out_mine, out_real):  # each side's hash verifies with the other
            assert real("pw", "-t", out.split(" ")[0].strip(), "-p", "x")[0] == 0
            assert mine("pw", "-t", out.split(" ")[0].strip(), "-p", "x")[0] == 0
    else:
        assert out_mine == out_real


def test_pw_list() -> None:
    _, out_real = real("pw", "-l")
    _, out_mine = mine("pw", "-l")
    assert out_mine.endswith(" \n")
    missing = set(out_real.split()) - set(out_mine.split())
    # the lab does not implement every scheme; say which, so the gap stays visible
    assert missing <= {"ARGON2I", "ARGON2ID", "OTP", "LDAP-MD5", "SCRAM-SHA-1",
                       "SCRAM-SHA-256", "PLAIN-MD4", "SHA1", "SSHA512", "SHA512", "SSHA256",
                       "SHA256", "PBKDF2", "HMAC-MD5", "DES-CRYPT"}, missing


USERS = ("alice:{PLAIN}secret:65534:65534::/tmp/alice::userdb_mail=maildir:~/Maildir\n"
         "bob:{PLAIN}pw\n"
         f"carol:{schemes.generate('pw', 'SHA512-CRYPT')}:65534:65534::/tmp/carol\n")
FILE_DBS = ("passdb {\n driver = passwd-file\n args = {dir}/users\n}\n"
            "userdb {\n driver = passwd-file\n args = {dir}/users\n}\n")
SQL_DBS = ("passdb {\n driver = sql\n args = {dir}/sql.conf\n}\n"
           "userdb {\n driver = sql\n args = {dir}/sql.conf\n}\n")
SQL_CONF = ("driver = sqlite\nconnect = {dir}/users.db\ndefault_pass_scheme = PLAIN\n"
            "password_query = SELECT username AS user, password FROM users "
            "WHERE username = '%u'\n"
            "user_query = SELECT home, uid, gid, mail FROM users WHERE username = '%u'\n")

COMMANDS = [
    ("auth", "test", "alice", "secret"), ("auth", "test", "alice", "bad"),
    ("auth", "test", "nobody", "x"), ("auth", "test", "bob", "pw"),
    ("auth", "test", "carol", "pw"), ("auth", "lookup", "alice"), ("auth", "lookup", "nobody"),
    ("auth", "login", "alice", "secret"), ("auth", "login", "alice", "bad"),
    ("user", "alice"), ("user", "nobody"), ("user", "bob"), ("user", "-f", "home", "alice"),
]


def compare(real_auth: RealAuth, commands: list[tuple[str, ...]]) -> None:
    conf = str(real_auth.conf)
    for args in commands:
        rc_real, out_real = real("-c", conf, *args)
        rc_mine, out_mine = mine("-c", conf, *args)
        assert (rc_mine, out_mine) == (rc_real, out_real), args


def test_auth_and_user_passwd_file() -> None:
    doveadm_path()
    with RealAuth(FILE_DBS, {"users": USERS}) as ra:
        compare(ra, COMMANDS)


def test_auth_and_user_sqlite() -> None:
    doveadm_path()
    ra = RealAuth(SQL_DBS, {"sql.conf": SQL_CONF})
    (ra.dir / "sql.conf").write_text(SQL_CONF.replace("{dir}", str(ra.dir)))
    db = sqlite3.connect(ra.dir / "users.db")
    db.execute("CREATE TABLE users (username TEXT, password TEXT, home TEXT, uid INT, "
               "gid INT, mail TEXT)")
    db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?)", [
        ("alice", "{PLAIN}secret", "/tmp/alice", 65534, 65534, "maildir:~/Maildir"),
        ("carol", schemes.generate("pw", "SHA512-CRYPT"), "/tmp/carol", 65534, 65534, None)])
    db.commit()
    db.close()
    (ra.dir / "users.db").chmod(0o644)
    with ra:
        # Known gap: for "x' OR '1'='1" real Dovecot adds an original_user= field to the
        # failure reply, which the lab does not yet; the outcome (77) is the same.
        compare(ra, [*COMMANDS, ("user", "alice' --")])
