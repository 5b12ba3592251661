"""The same lab on two engines: the lab's own server and Debian's real Dovecot.

Each comparison builds two labs from the same configuration text, users and delivered
messages, one with ``engine="lab"`` and one with ``engine="dovecot"``, runs the same small
POP3 and IMAP session against both and compares what the clients saw (UIDVALIDITY, which
depends on the moment a mailbox is created, is masked). Without Dovecot the tests that need
it are skipped with a reason, and fail when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import poplib
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from labserver.config import ConfigError
from labserver.service import dovecot_engine
from labserver.service.dovecot_engine import PathMapper, parse_dump
from labserver.service.lab import DEFAULT_CONFIG, Lab, LabError
from labserver.storage import deliver as storage_deliver
from tests.dovecot_harness import dovecot_binary

MESSAGES = [
    b"From: Bob <bob@example.com>\nTo: alice@example.com\nSubject: lab test\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <1@example.com>\n\n"
    b"First line\n.starts with a dot\n",
    b"From: \"Carol C.\" <carol@example.org>\nTo: alice@example.com, bob@example.com\n"
    b"Cc: dave@example.net\nSubject: =?utf-8?q?caf=C3=A9?= second\n"
    b"Date: Tue, 24 Nov 2026 08:30:00 -0500\nMessage-ID: <2@example.org>\n\n"
    b"Second message\nwith two lines\n",
]

CHAPTER_CONFIG = DEFAULT_CONFIG.replace("maildir:~/Maildir", "mbox:~/mail:INBOX=/var/mail/%u")


@pytest.fixture
def make_lab() -> Iterator[Callable[..., Lab]]:
    labs: list[Lab] = []

    def make(config: str, engine: str, users: tuple[str, ...] = ("alice",),
             start: bool = True) -> Lab:
        if engine == "dovecot":
            dovecot_binary()
        lab = Lab(config, ports="ephemeral", engine=engine)
        labs.append(lab)
        for user in users:
            lab.add_user(user, "secret")
            for message in MESSAGES:
                lab.deliver(user, message)
        return lab.start() if start else lab

    yield make
    for lab in labs:
        lab.cleanup()


def session(lab: Lab, user: str = "alice") -> dict[str, object]:
    """What a POP3 and an IMAP client see, with UIDVALIDITY masked."""
    out: dict[str, object] = {}
    pop = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=10)
    try:
        out["pop3 greeting"] = pop.getwelcome()
        out["pop3 user"] = pop.user(user)
        out["pop3 pass"] = re.sub(rb"\d+ messages", b"N messages", pop.pass_("secret"))
        out["pop3 stat"] = pop.stat()
        out["pop3 list"] = pop.list()
        response, uidls, size = pop.uidl()
        out["pop3 uidl"] = (response, [re.sub(rb"[0-9a-f]{8}$", b"<uidvalidity>", x)
                                       for x in uidls], size)
        out["pop3 retr"] = [pop.retr(i + 1) for i in range(pop.stat()[0])]
    finally:
        out["pop3 quit"] = pop.quit()
    imap = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
    try:
        out["imap login"] = imap.login(user, "secret")
        out["imap select"] = imap.select("INBOX")
        out["imap exists"] = imap.response("EXISTS")
        out["imap flags"] = imap.response("FLAGS")
        out["imap fetch"] = imap.fetch("1:*", "(FLAGS RFC822.SIZE ENVELOPE)")
    finally:
        out["imap logout"] = imap.logout()[0]
    return out


@pytest.mark.parametrize("config", [DEFAULT_CONFIG, CHAPTER_CONFIG], ids=["maildir", "mbox"])
def test_same_session_on_both_engines(make_lab: Callable[..., Lab], config: str) -> None:
    text = config + "auth_failure_delay = 0\nlogin_greeting = Two engines ready.\n"
    lab = make_lab(text, "lab")
    real = make_lab(text, "dovecot")
    ours, theirs = session(lab), session(real)
    assert ours == theirs
    assert theirs["pop3 greeting"] == b"+OK Two engines ready."
    assert theirs["pop3 stat"][0] == len(MESSAGES)  # type: ignore[index]
    for engine in (lab, real):
        assert any("Login: user=<alice>, method=PLAIN" in x for x in engine.logs()), (
            engine.engine, engine.logs())


def test_inbox_path_is_mapped_into_the_sandbox(make_lab: Callable[..., Lab]) -> None:
    real = make_lab(CHAPTER_CONFIG, "dovecot")
    spool = real.path("/var/mail/alice")
    assert spool.is_file()
    generated = real._dovecot.conf_path.read_text()
    assert f"mail_location = mbox:~/mail:INBOX={real.path('/var/mail')}/%u" in generated
    assert session(real)["pop3 stat"][0] == len(MESSAGES)  # type: ignore[index]
    # Dovecot wrote its own headers into the one spool file the lab delivered to.
    assert b"X-UID:" in spool.read_bytes() or b"X-IMAPbase:" in spool.read_bytes()
    assert not real.path("/home/alice/mail/inbox").exists()
    # Dovecot's log shows the paths as the configuration names them.
    assert all(str(real.root) not in line for line in real.logs())


def test_listener_table_and_ports(make_lab: Callable[..., Lab]) -> None:
    real = make_lab(DEFAULT_CONFIG, "dovecot", users=())
    names = sorted(spec.name for spec, _ in real.listeners())
    assert names == ["imap", "pop3"]
    assert real.port("imap") != real.port("pop3")
    table = real.table()
    assert "imap-login" in table and str(real.port("pop3")) in table
    with pytest.raises(LabError, match="no listener named 'imaps'"):
        real.port("imaps")


@pytest.mark.parametrize("engine", ["lab", "dovecot"])
def test_unknown_setting_is_refused_by_both(make_lab: Callable[..., Lab], engine: str) -> None:
    with pytest.raises(ConfigError, match="Unknown setting: mail_locaton"):
        make_lab(DEFAULT_CONFIG + "mail_locaton = maildir:~/Maildir\n", engine, users=())


@pytest.mark.parametrize("extra", ["pop3_uidl_format = %Q\n", "protocols = imap pop4\n"])
def test_settings_check_error_is_the_same(make_lab: Callable[..., Lab], extra: str) -> None:
    # The lab's parser reads these; the refusal on the dovecot engine is real doveconf's.
    text = DEFAULT_CONFIG + extra
    with pytest.raises(ConfigError) as ours:
        make_lab(text, "lab", users=())
    with pytest.raises(ConfigError) as theirs:
        make_lab(text, "dovecot", users=())
    assert theirs.value.message == ours.value.message
    # Dovecot's message names the learner's file, not the generated one.
    assert "/etc/dovecot/dovecot.conf" in theirs.value.message


def test_includes_and_file_values_reach_dovecot(make_lab: Callable[..., Lab]) -> None:
    text = (DEFAULT_CONFIG.replace("ssl = no", "ssl = yes")
            + "!include conf.d/*.conf\n")
    real = make_lab(text, "dovecot", users=(), start=False)
    cert, key = self_signed()
    real.write_config(cert.decode(), "/etc/dovecot/private/cert.pem")
    real.write_config(key.decode(), "/etc/dovecot/private/key.pem")
    real.write_config("ssl_cert = </etc/dovecot/private/cert.pem\n"
                      "ssl_key = </etc/dovecot/private/key.pem\n"
                      "login_greeting = Included.\n", "/etc/dovecot/conf.d/10-ssl.conf")
    real.add_user("alice", "secret")
    real.start()
    generated = real._dovecot.conf_path.read_text()
    assert f"ssl_cert = <{real.path('/etc/dovecot/private/cert.pem')}" in generated
    assert "!include" not in generated
    assert {spec.name for spec, _ in real.listeners()} == {"imap", "imaps", "pop3", "pop3s"}
    imap = imaplib.IMAP4_SSL("127.0.0.1", real.port("imaps"),
                             ssl_context=_insecure_context(), timeout=10)
    try:
        assert imap.welcome.endswith(b"Included.")
        assert imap.login("alice", "secret")[0] == "OK"
    finally:
        imap.logout()


def self_signed(cn: str = "imap.example.com") -> tuple[bytes, bytes]:
    """A self-signed certificate and its unencrypted key (PEM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


def _insecure_context():  # noqa: ANN202 - a test helper
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_reload_and_add_user_while_running(make_lab: Callable[..., Lab]) -> None:
    real = make_lab(DEFAULT_CONFIG, "dovecot")
    port = real.port("pop3")
    assert real.reload(DEFAULT_CONFIG + "login_greeting = Reloaded.\n") is None
    assert real.port("pop3") == port
    pop = poplib.POP3("127.0.0.1", port, timeout=10)
    assert pop.getwelcome() == b"+OK Reloaded."
    pop.quit()
    error = real.reload(DEFAULT_CONFIG + "no_such_setting = 1\n")
    assert error is not None and "Unknown setting: no_such_setting" in error
    assert "no_such_setting" not in real.path("/etc/dovecot/dovecot.conf").read_text()
    real.add_user("bob", "secret")
    real.deliver("bob", MESSAGES[0])
    assert session(real, "bob")["pop3 stat"][0] == 1  # type: ignore[index]


def test_generated_config_is_accepted_by_doveconf(make_lab: Callable[..., Lab]) -> None:
    real = make_lab(CHAPTER_CONFIG + "protocol imap {\n  mail_max_userip_connections = 20\n}\n",
                    "dovecot")
    doveconf = dovecot_engine.doveconf_binary(dovecot_binary())
    result = subprocess.run([doveconf, "-n", "-c", str(real._dovecot.conf_path)],
                            capture_output=True, text=True, check=True)
    assert "mail_max_userip_connections = 20" in result.stdout
    users = real.path("/run/dovecot-engine/passwd/etc/dovecot/users")
    assert f"args = scheme=SHA512-CRYPT {users}\n" in result.stdout


def test_missing_dovecot_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot_engine, "dovecot_binary", lambda: None)
    with pytest.raises(LabError, match="not installed"):
        Lab(DEFAULT_CONFIG, engine="dovecot")
    with pytest.raises(LabError, match="unknown engine"):
        Lab(DEFAULT_CONFIG, engine="postfix")


def test_real_root_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot_engine, "dovecot_binary", lambda: "/usr/sbin/dovecot")
    with pytest.raises(LabError, match="not the real root"):
        Lab(root="/", engine="dovecot")


def test_serve_has_an_engine_option() -> None:
    from labserver.cli import build_parser

    args = build_parser().parse_args(["serve", "--engine", "dovecot", "--ports", "ephemeral"])
    assert args.engine == "dovecot"
    assert build_parser().parse_args(["serve"]).engine == "lab"


# -- path mapping, without Dovecot ------------------------------------------------------


def test_path_mapper(tmp_path: os.PathLike[str]) -> None:
    lab = Lab(DEFAULT_CONFIG, root=tmp_path)
    m = PathMapper(lab)
    root = str(lab.path("/"))
    assert m.path("/var/mail/%u") == f"{root}/var/mail/%u"
    assert m.path("/var/vmail/%d/%n/Maildir") == f"{root}/var/vmail/%d/%n/Maildir"
    assert m.path("~/Maildir") == "~/Maildir"
    assert m.value("</etc/ssl/certs/dovecot.pem") == f"<{root}/etc/ssl/certs/dovecot.pem"
    assert m.value("<private/key.pem") == f"<{root}/etc/dovecot/private/key.pem"
    assert m.location("mbox:~/mail:INBOX=/var/mail/%u") == (
        f"mbox:~/mail:INBOX={root}/var/mail/%u")
    assert m.location("maildir:/srv/mail/%u:INDEX=/var/index/%u:CONTROL=/var/ctl/%u:"
                      "LAYOUT=fs") == (
        f"maildir:{root}/srv/mail/%u:INDEX={root}/var/index/%u:CONTROL={root}/var/ctl/%u:"
        "LAYOUT=fs")
    assert m.location("/srv/mail/%u") == f"{root}/srv/mail/%u"
    assert m.location("") == ""
    assert m.args("scheme=SHA512-CRYPT username_format=%n /etc/dovecot/users") == (
        f"scheme=SHA512-CRYPT username_format=%n {root}/etc/dovecot/users")
    assert m.args("uid=vmail home=/var/vmail/%d/%n mail=maildir:/var/vmail/%u") == (
        f"uid=vmail home={root}/var/vmail/%d/%n mail=maildir:{root}/var/vmail/%u")


def test_parse_dump_round_trip() -> None:
    text = ('login_greeting = "# not a comment"\nnamespace inbox {\n  location = \n'
            "  mailbox Drafts {\n    special_use = \\Drafts\n  }\n}\n"
            "protocol imap {\n  mail_max_userip_connections = 20\n}\n")
    tree = parse_dump(text)
    assert tree.get("login_greeting") == "# not a comment"
    assert tree.section("namespace", "inbox").section("mailbox", "Drafts").get(
        "special_use") == "\\Drafts"
    again = parse_dump("\n".join(tree.render()))
    assert again == tree


# -- starting the mail session after login ------------------------------------------------

_LOGIN_CAPS = re.compile(rb"\[CAPABILITY [^\]]*\] Logged in")


def talk(port: int, lines: list[bytes], wait: float = 5.0) -> bytes:
    """Send each line after the server's previous answer; everything it said, to its close."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        got = s.recv(4096)
        for line in lines:
            try:
                s.sendall(line + b"\r\n")
                chunk = s.recv(4096)
            except OSError:
                break
            got += chunk
            if not chunk:
                break
        with contextlib.suppress(OSError):  # a reset: the client wrote after the close
            while chunk := s.recv(4096):
                got += chunk
    return got


def mail_log(lab: Lab, service: str) -> list[str]:
    """The mail process's lines, with what differs between two runs masked."""
    lines = [re.sub(r"^\w{3} +\d+ [\d:]+ ", "", x) for x in lab.logs(f"{service}(alice)")]
    return [re.sub(r"<\d+><[^>]*>", "<P><S>", re.sub(r" out=\d+", " out=N", x))
            for x in lines]


@pytest.mark.parametrize("lock", [False, True], ids=["pop3", "pop3-lock-session"])
def test_mail_location_failure_after_login(make_lab: Callable[..., Lab], lock: bool) -> None:
    # No mail_location and nothing to autodetect in the home: the login succeeds, then
    # the mail process cannot initialise the user's namespaces.
    text = DEFAULT_CONFIG.replace("mail_location = maildir:~/Maildir\n", "")
    text += "auth_failure_delay = 0\n" + ("pop3_lock_session = yes\n" if lock else "")
    said, logs = {}, {}
    for engine in ("lab", "dovecot"):
        lab = make_lab(text, engine, users=(), start=False)
        lab.add_user("alice", "secret")
        lab.start()
        imap = talk(lab.port("imap"), [b"a LOGIN alice secret", b"b NOOP"])
        pop3 = talk(lab.port("pop3"), [b"USER alice", b"PASS secret", b"STAT"])
        said[engine] = (_LOGIN_CAPS.sub(b"[CAPABILITY <post-login>] Logged in", imap), pop3)
        time.sleep(0.3)
        logs[engine] = mail_log(lab, "imap") + mail_log(lab, "pop3")
    assert said["lab"] == said["dovecot"]
    imap, pop3 = said["dovecot"]
    assert imap.endswith(b"] Logged in\r\n* BYE Internal error occurred. "
                         b"Refer to server log for more information.\r\n")
    assert pop3.endswith(b"-ERR Internal error occurred. Refer to server log for more "
                         b"information.\r\n" if lock else b"+OK\r\n+OK Logged in.\r\n")
    assert logs["lab"] == logs["dovecot"]
    reason = ("mail_location not set and autodetection failed: Mail storage autodetection "
              "failed with home=/home/alice")
    assert logs["dovecot"][:2] == [
        f"imap(alice)<P><S>: Error: {reason}",
        f"imap(alice)<P><S>: Info: Disconnected: {reason} in=0 out=N deleted=0 expunged=0 "
        "trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0"]


def test_userdb_mail_overrides_mail_location(make_lab: Callable[..., Lab]) -> None:
    # passwd-file's extra field userdb_mail= gives alice her own location; bob keeps
    # mail_location. Each folder holds a message whose subject says where it is.
    text = DEFAULT_CONFIG + "auth_failure_delay = 0\n"
    seen = {}
    for engine in ("lab", "dovecot"):
        lab = make_lab(text, engine, users=(), start=False)
        lab.add_user("alice", "secret", extra="userdb_mail=maildir:~/Other")
        lab.add_user("bob", "secret")
        for user in ("alice", "bob"):
            for where in ("Maildir", "Other"):
                storage_deliver(f"{lab.path(f'/home/{user}/{where}')}/",
                                f"Subject: {user} in {where}\n\nhello\n".encode())
        lab.deliver("alice", b"Subject: delivered\n\nby the lab's MDA\n")  # to ~/Other
        lab.start()
        seen[engine] = {user: session(lab, user) for user in ("alice", "bob")}
        imap = imaplib.IMAP4("127.0.0.1", lab.port("imap"), timeout=10)
        imap.login("alice", "secret")
        assert imap.create("Made")[0] == "OK"
        imap.logout()
        assert lab.path("/home/alice/Other/.Made").is_dir()
        assert not lab.path("/home/alice/Maildir/.Made").exists()
    assert seen["lab"] == seen["dovecot"]
    for user, where in (("alice", "Other"), ("bob", "Maildir")):
        retr = seen["dovecot"][user]["pop3 retr"]
        assert f"Subject: {user} in {where}".encode() in retr[0][1], retr  # type: ignore[index]
    assert seen["dovecot"]["alice"]["pop3 stat"][0] == 2  # type: ignore[index]


def test_static_userdb_mail_field(tmp_path: os.PathLike[str]) -> None:
    text = DEFAULT_CONFIG.replace(
        "  driver = passwd-file\n  args = /etc/dovecot/users\n"
        "  default_fields = home=/home/%u\n",
        f"  driver = static\n  args = uid={os.getuid() or 65534} gid={os.getgid() or 65534} "
        "home=/home/%u mail=maildir:~/Static\n")
    assert "driver = static" in text
    with Lab(text + "auth_failure_delay = 0\n", root=tmp_path, ports="ephemeral") as lab:
        lab.add_user("carol", "secret")
        pop = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=5)
        pop.user("carol")
        pop.pass_("secret")
        pop.quit()
        assert (lab.path("/home/carol/Static") / "cur").is_dir()
        assert not lab.path("/home/carol/Maildir").exists()


class _Pop3:
    """A raw POP3 client that has sent USER and reads one line per command."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.file.readline()
        assert self.say(b"USER alice") == b"+OK\r\n"

    def say(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.file.readline()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _lock_session_story(lab: Lab) -> dict[str, object]:
    """A holds the lock; B waits and is refused; C waits until A quits, then gets in."""
    port, out = lab.port("pop3"), {}
    a, b, c = _Pop3(port), _Pop3(port), _Pop3(port)
    try:
        out["a"] = a.say(b"PASS secret")
        out["lock file"] = lab.path("/home/alice/Maildir/dovecot-pop3-session.lock").is_file()
        started = time.monotonic()
        out["b"] = b.say(b"PASS secret")
        out["b waited"] = time.monotonic() - started
        out["b then"] = b.file.readline()
        c.sock.sendall(b"PASS secret\r\n")
        time.sleep(0.5)
        out["a quit"] = a.say(b"QUIT")
        out["c"] = c.file.readline()
        out["c quit"] = c.say(b"QUIT")
    finally:
        for client in (a, b, c):
            client.close()
    return out


def test_pop3_lock_session_refuses_a_second_session(make_lab: Callable[..., Lab]) -> None:
    # Dovecot waits for the lock with a fixed 10 s timeout (not a setting), so one
    # refusal per engine, both engines at once.
    from concurrent.futures import ThreadPoolExecutor

    text = DEFAULT_CONFIG + "auth_failure_delay = 0\npop3_lock_session = yes\n"
    labs = {engine: make_lab(text, engine) for engine in ("lab", "dovecot")}
    with ThreadPoolExecutor(2) as pool:
        runs = {engine: pool.submit(_lock_session_story, lab) for engine, lab in labs.items()}
        seen = {engine: run.result() for engine, run in runs.items()}
    waits = {engine: seen[engine].pop("b waited") for engine in seen}
    assert seen["lab"] == seen["dovecot"]
    assert seen["dovecot"] == {
        "a": b"+OK Logged in.\r\n", "lock file": True,
        "b": b"-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n", "b then": b"",
        "a quit": b"+OK Logging out.\r\n", "c": b"+OK Logged in.\r\n",
        "c quit": b"+OK Logging out.\r\n"}
    assert min(waits.values()) >= 9.5, waits
    time.sleep(0.3)
    # pop3-login logs each login before the mail process waits for the lock, so C's
    # Login line comes before A's logout.
    logs = {engine: _pop3_story_log(lab) for engine, lab in labs.items()}
    assert logs["lab"] == logs["dovecot"]
    assert logs["dovecot"] == [
        "pop3-login: Login", "pop3-login: Login",
        "pop3(alice)<P><S>: Disconnected: Couldn't lock POP3 session top=0/0, retr=0/0, "
        "del=0/0, size=0",
        "pop3-login: Login", "pop3(alice)<P><S>: Disconnected: Logged out",
        "pop3(alice)<P><S>: Disconnected: Logged out"]


def _pop3_story_log(lab: Lab) -> list[str]:
    """alice's POP3 logins and disconnections in the order logged, details cut short."""
    out = []
    for line in lab.logs():
        line = re.sub(r"<\d+><[^>]*>", "<P><S>", re.sub(r"^\w{3} +\d+ [\d:]+ ", "", line))
        if line.startswith("pop3-login: Info: Login: user=<alice>"):
            out.append("pop3-login: Login")
        elif line.startswith("pop3(alice)<P><S>: Info: Disconnected: Logged out"):
            out.append("pop3(alice)<P><S>: Disconnected: Logged out")
        elif line.startswith("pop3(alice)"):
            out.append(line.replace(": Info: ", ": ", 1))
    return out
