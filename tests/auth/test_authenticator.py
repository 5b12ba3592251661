"""The Authenticator over a temporary lab root, and its log lines against real Dovecot."""

from __future__ import annotations

from pathlib import Path

import pytest

from labserver.auth import AuthConfigError, Authenticator, PassdbResult, UserdbResult, schemes
from labserver.config import PathResolver, parse_text

from .oracle import RealAuth

SHA512 = "{SHA512-CRYPT}$6$rounds=1000$0123456789abcdef$ZIAd5WqfyLkpvsVCVUU1GrvqaZTqvhJoouxdSqJO71l9Ld3tVrfOatEjarhghvEYADkq//LpDnTeO90tcbtHR1"  # noqa: E501
SHA512_PW = "08/15!test~4711"


def users_text(home: str) -> str:
    return (
        f"alice:{SHA512}:65534:65534::{home}/alice::userdb_mail=maildir:~/Maildir\n"
        f"bob:{{PLAIN}}pw:65534:65534::{home}/bob::nologin reason=Go_away\n"
        f"carol:{schemes.generate('secret', 'CRAM-MD5')}:65534:65534::{home}/carol\n"
        f"dave::65534:65534::{home}/dave::nopassword\n"
        f"eve:{{PLAIN}}pw:65534:65534::{home}/eve::allow_nets=10.0.0.0/8\n"
        f"frank:{{SHA256}}not-base64!:65534:65534::{home}/frank\n"
        "gina:pw\n"
    )


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    root = tmp_path / "lab"
    (root / "etc/dovecot").mkdir(parents=True)
    (root / "etc/dovecot/users").write_text(users_text("/home"))
    (root / "etc/passwd").write_text("vmail:x:5000:5000::/var/vmail:/bin/false\n")
    (root / "etc/group").write_text("vmail:x:5000:\n")
    return root


def make(lab: Path, body: str, verbose: bool = True) -> Authenticator:
    flags = "auth_verbose = yes\nauth_debug = yes\n" if verbose else ""
    cfg = parse_text(flags + body, root=str(lab))
    return Authenticator(cfg, PathResolver(lab))


PASSWD_FILE = """
passdb {
  driver = passwd-file
  args = scheme=PLAIN /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = /etc/dovecot/users
}
"""


def info(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(line) for line in result.log if line.level != "Debug"]


def test_success_with_userdb_fields(lab: Path) -> None:
    auth = make(lab, PASSWD_FILE)
    result = auth.authenticate("Alice", SHA512_PW, remote_ip="127.0.0.1")
    assert result.success and result.user == "alice"
    assert (result.home, result.uid, result.gid, result.mail) == (
        "/home/alice", "65534", "65534", "maildir:~/Maildir")
    assert info(result) == []
    assert "auth: Debug: passwd-file(alice,127.0.0.1): Performing passdb lookup" in \
        result.log_text


def test_failures_and_their_log_lines(lab: Path) -> None:
    auth = make(lab, PASSWD_FILE)
    wrong = auth.authenticate("alice", "nope", remote_ip="127.0.0.1", session="S1")
    assert not wrong.success and wrong.failure == "authfailed"
    assert info(wrong) == ["auth: Info: passwd-file(alice,127.0.0.1,<S1>): Password mismatch"]
    unknown = auth.authenticate("nobody", "x", remote_ip="127.0.0.1")
    assert info(unknown) == ["auth: Info: passwd-file(nobody,127.0.0.1): unknown user"]
    assert unknown.passdb_result is PassdbResult.USER_UNKNOWN
    bad = auth.authenticate("a b", "x")
    assert info(bad) == ["auth: Info: plain(?): Username character disallowed by "
                         "auth_username_chars: 0x20 (username: a b)"]
    frank = auth.authenticate("frank", "x")
    assert info(frank) == ["auth: Error: passwd-file(frank): Password data is not valid for "
                           "scheme SHA256: Input isn't valid base64 encoded data"]
    tab = auth.authenticate("alice", "a\tb")
    assert not tab.success and info(tab) == []
    assert ("auth: Debug: passwd-file(alice): Attempted login with password having illegal "
            "chars") in [str(x) for x in tab.log]


def test_nologin_nopassword_allow_nets(lab: Path) -> None:
    auth = make(lab, PASSWD_FILE)
    bob = auth.authenticate("bob", "pw")
    assert not bob.success and bob.nologin and bob.failure == "nologin"
    assert bob.reason == "Go_away" and bob.passdb_result is PassdbResult.OK
    assert auth.authenticate("dave", "anything").success
    eve = auth.authenticate("eve", "pw", remote_ip="1.2.3.4")
    assert not eve.success and info(eve) == [
        "auth: Info: passwd-file(eve,1.2.3.4): allow_nets check failed: IP 1.2.3.4 not in "
        "allowed networks"]
    assert auth.authenticate("eve", "pw", remote_ip="10.1.2.3").success


def test_verbosity(lab: Path) -> None:
    quiet = make(lab, PASSWD_FILE, verbose=False)
    assert quiet.authenticate("alice", "nope").log == []
    frank = quiet.authenticate("frank", "x")
    assert [line.level for line in frank.log] == ["Error"]  # errors always reach the log


def test_default_scheme_and_username_format(lab: Path) -> None:
    auth = make(lab, """
auth_username_format = %Ln
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n /etc/dovecot/users
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=/var/vmail/%d/%n
}
""")
    result = auth.authenticate("Gina@Example.ORG", "pw")
    assert result.success and result.user == "gina"
    assert (result.uid, result.gid, result.home) == ("5000", "5000", "/var/vmail//gina")


def test_static_userdb_and_user_lookup(lab: Path) -> None:
    auth = make(lab, """
passdb {
  driver = passwd-file
  args = scheme=PLAIN /etc/dovecot/users
}
userdb {
  driver = static
  args = uid=5000 gid=5000 home=/var/vmail/%u
  default_fields = mail=maildir:~/Maildir
}
""")
    assert auth.lookup_user("gina").success
    assert auth.lookup_user("gina").home == "/var/vmail/gina"
    assert auth.lookup_user("gina").mail == "maildir:~/Maildir"
    missing = auth.lookup_user("zed")
    assert not missing.success and missing.userdb_result is UserdbResult.USER_UNKNOWN
    everyone = make(lab, PASSWD_FILE.replace(
        "driver = passwd-file\n  args = /etc/dovecot/users",
        "driver = static\n  args = uid=1 gid=1 home=/h/%u allow_all_users=yes"))
    assert everyone.lookup_user("zed").home == "/h/zed"


def test_userdb_misses_user(lab: Path) -> None:
    auth = make(lab, PASSWD_FILE)
    gina = auth.authenticate("gina", "pw")  # a passdb-only line
    assert not gina.success and gina.failure == "userdb"
    assert "auth: Error: passwd-file(gina): user not found from userdb" in gina.log_text


def test_passdb_chain_rules(lab: Path) -> None:
    (lab / "etc/dovecot/denied").write_text("alice:\n")
    (lab / "etc/dovecot/second").write_text("zoe:{PLAIN}z:1:1::/h/zoe\n")
    body = """
passdb {
  driver = passwd-file
  args = /etc/dovecot/denied
  deny = yes
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN /etc/dovecot/users
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN /etc/dovecot/second
}
userdb {
  driver = static
  args = uid=1 gid=1 home=/h/%u allow_all_users=yes
}
"""
    auth = make(lab, body)
    denied = auth.authenticate("alice", SHA512_PW)
    assert not denied.success and denied.passdb_result is PassdbResult.USER_DISABLED
    assert "auth: Info: passwd-file(alice): User found from deny passdb" in denied.log_text
    zoe = auth.authenticate("zoe", "z")
    assert zoe.success and "auth: Info: passwd-file(zoe): unknown user" in zoe.log_text


def test_credentials_lookup(lab: Path) -> None:
    auth = make(lab, PASSWD_FILE)
    lookup = auth.lookup_credentials("alice", "CRAM-MD5", remote_ip="127.0.0.1", session="s")
    assert lookup.result is PassdbResult.SCHEME_NOT_AVAILABLE
    assert "auth: Info: passwd-file(alice,127.0.0.1,<s>): Requested CRAM-MD5 scheme, but we " \
           "have only SHA512-CRYPT" in [str(x) for x in lookup.request.log]
    carol = auth.lookup_credentials("carol", "CRAM-MD5")
    assert carol.result is PassdbResult.OK
    assert carol.credentials == schemes.generate_raw("secret", "CRAM-MD5")
    assert auth.finish(carol, verified=True).success
    assert not auth.finish(auth.lookup_credentials("carol", "CRAM-MD5"), False).success
    bob = auth.lookup_credentials("bob", "CRAM-MD5")  # plaintext: generated on the fly
    assert bob.result is PassdbResult.OK and bob.scheme == "CRAM-MD5"


def test_variable_path_and_missing_file(lab: Path) -> None:
    (lab / "etc/dovecot/example.org").mkdir()
    (lab / "etc/dovecot/example.org/passwd").write_text("kim:{PLAIN}k:1:1::/h/kim\n")
    auth = make(lab, """
passdb {
  driver = passwd-file
  args = username_format=%n /etc/dovecot/%d/passwd
}
userdb {
  driver = static
  args = uid=1 gid=1 home=/h/%n allow_all_users=yes
}
""")
    assert auth.authenticate("kim@example.org", "k").success
    other = auth.authenticate("kim@other.org", "k")
    assert not other.success
    assert "auth: Info: passwd-file(kim@other.org): missing passwd file: " \
           "/etc/dovecot/other.org/passwd" in other.log_text


def test_sandbox_is_used(lab: Path, tmp_path: Path) -> None:
    # /etc/dovecot/users is the lab's file, never the host's.
    auth = make(lab, PASSWD_FILE)
    assert auth.passdbs[0].driver.db.resolver.real("/etc/dovecot/users") == \
        str((lab / "etc/dovecot/users").resolve())


@pytest.mark.parametrize(("args", "message"), [
    ("", "passdb passwd-file: Missing args"),
    ("foo=bar /etc/dovecot/users", "passdb passwd-file: Unknown setting: foo"),
])
def test_driver_config_errors(lab: Path, args: str, message: str) -> None:
    cfg = parse_text(f"passdb {{\n  driver = passwd-file\n  args = {args}\n}}\n", root=str(lab))
    with pytest.raises(AuthConfigError, match=message):
        Authenticator(cfg, PathResolver(lab))


def test_failure_delay(lab: Path) -> None:
    assert make(lab, PASSWD_FILE).failure_delay == 2
    assert make(lab, "auth_failure_delay = 0\n" + PASSWD_FILE).failure_delay == 0


# --- the same users in real Dovecot: same verdicts, same Info/Error lines ---------------

CASES = [("alice", SHA512_PW, ()), ("alice", "wrong", ()), ("Nobody", "x", ()),
         ("bob", "pw", ()), ("dave", "anything", ()), ("eve", "pw", ("rip=1.2.3.4",)),
         ("eve", "pw", ("rip=10.9.8.7",)), ("a b", "pw", ()), ("frank", "x", ()),
         ("gina", "pw", ())]


def test_log_lines_match_real_dovecot(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    (lab / "etc/dovecot").mkdir(parents=True)
    users = users_text("/nonexistent")
    (lab / "etc/dovecot/users").write_text(users)
    dbs = ("passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {p}\n}}\n"
           "userdb {{\n  driver = passwd-file\n  args = {p}\n}}\n")
    mine = make(lab, dbs.format(p="/etc/dovecot/users"))
    with RealAuth("auth_verbose = yes\nauth_debug = yes\n" + dbs.format(p="{dir}/users"),
                  {"users": users}) as real:
        for number, (user, password, extra) in enumerate(CASES):
            # A fresh client IP each time: Dovecot's auth penalty delays repeated failures
            # from one IP.
            extra = extra or (f"rip=192.0.2.{number + 1}",)
            ok, lines = real.auth_test(user, password, *extra)
            rip = extra[0].split("=", 1)[1] if extra else ""
            result = mine.authenticate(user, password, remote_ip=rip)
            # doveadm auth test runs the passdbs only; nologin still "succeeds" there.
            assert ok == (result.passdb_result is PassdbResult.OK), (user, lines)
            startup = [x for x in lines if x.startswith("auth: ") and "passwd-file /" in x
                       and ": Debug: " not in x]
            assert [x.replace(str(real.dir), "/etc/dovecot") for x in startup] in (
                [], [str(x) for x in mine.startup_log if x.level != "Debug"])
            expected = [x for x in lines if x.startswith("auth: ") and ": Debug: " not in x
                        and x not in startup]
            got = [str(x) for x in result.log if x.level != "Debug" and
                   "user not found from userdb" not in str(x)]
            assert got == expected, (user, lines)
            real_debug = [x for x in lines if "): " in x and ": Debug: " in x
                          and "lookup: user=" not in x and "client " not in x]
            my_debug = [str(x) for x in result.log if x.level == "Debug"
                        and "lookup: user=" not in str(x) and "userdb" not in str(x)]
            assert my_debug == real_debug, (user, lines)
