"""The Courier personality against real Courier-IMAP 5 and Courier's pop3d.

Real Courier (Debian's packages, unpacked and run in a private mount namespace, see
``courier_harness``) and the Courier lab serve copies of the same maildir with
Courier's shipped configuration and one userdb account. The same client sessions run
against both; what must agree: the greetings, CAPABILITY before and after login, the
LOGIN reply, NAMESPACE, LIST, LSUB (names), STATUS, the tagged replies of SELECT,
FETCH, SEARCH, CLOSE and LOGOUT, and the POP3 replies (greeting, CAPA, USER, PASS,
STAT, LIST, UIDL, TOP, RETR, DELE, RSET, NOOP, a bad command, QUIT) with a wrong
password in each protocol. Normalised before comparing: numbers that are only
unique, not meaningful (UIDVALIDITY, the UIDVALIDITY part of POP3 UIDLs), quoting of
folder names and LIST's line order. Other differences are listed in docs/differences.md.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from labserver.courier.lab import CourierLab
from labserver.service.lab import Lab
from tests.courier.conftest import chown_tree, fill_maildir
from tests.courier.courier_harness import RealCourier

NOBODY = 65534

IMAP_SESSION = [
    b"a0 FOO", b"a01 ID NIL", b"a1 CAPABILITY", b"a2 NOOP", b"a3 LOGIN alice secret",
    b"a4 CAPABILITY",
    b"a5 NAMESPACE", b'a6 LIST "" "*"', b'a7 LIST "" "%"', b'a8 LSUB "" "*"',
    b"a9 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)", b"b1 SELECT INBOX",
    b"b2 UID FETCH 1:* (UID FLAGS RFC822.SIZE)", b"b3 SEARCH ALL", b"b0 FOO", b"b01 ID NIL",
    b"b02 UID MOVE 1 INBOX.Sent",
    b"b4 SUBSCRIBE INBOX.Sent.2024",
    b"b5 UNSUBSCRIBE INBOX.Sent.2024", b"b6 CLOSE", b"b7 LOGOUT",
]
POP3_SESSION = [
    b"CAPA", b"FOO", b"USER alice", b"PASS secret", b"STAT", b"LIST", b"UIDL", b"LIST 1",
    b"UIDL 2", b"TOP 1 0", b"RETR 2", b"DELE 1", b"LIST 1", b"RSET", b"NOOP", b"LIST 9",
    b"QUIT",
]
IMAP_TLS_SESSION = [b"t1 STARTTLS", b"t2 CAPABILITY", b"t3 LOGIN alice secret",
                    b"t4 CAPABILITY", b"t5 LOGOUT"]
POP3_TLS_SESSION = [b"STLS", b"CAPA", b"USER alice", b"PASS secret", b"QUIT"]
AUTHTEST = [("alice", "secret"), ("alice",), ("-s", "imap", "alice", "secret"),
            ("alice", "wrong"), ("bob", "x")]
POP3_MULTILINE = {b"CAPA", b"LIST", b"UIDL", b"TOP", b"RETR"}


def _recv_until(sock: socket.socket, done) -> bytes:  # noqa: ANN001 - a predicate
    data = b""
    while not done(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _tls(sock: socket.socket) -> ssl.SSLSocket:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(sock)


def imap_session(port: int, commands: list[bytes]) -> dict[bytes, list[str]]:
    """Tag -> the reply lines (untagged and tagged); the greeting under b"*".

    After a successful STARTTLS the session goes on over TLS."""
    out: dict[bytes, list[str]] = {}
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        sock: socket.socket = raw
        out[b"*"] = _recv_until(sock, lambda d: d.endswith(b"\r\n")).decode().splitlines()
        for line in commands:
            tag = line.split(b" ", 1)[0]
            sock.sendall(line + b"\r\n")
            reply = _recv_until(sock, lambda d, t=tag: re.search(
                rb"(^|\r\n)" + re.escape(t) + rb" [^\r\n]*\r\n$", d) is not None)
            out[tag] = reply.decode("utf-8", "replace").splitlines()
            if line.endswith(b" STARTTLS") and reply.startswith(tag + b" OK"):
                sock = _tls(sock)
    return out


def pop3_session(port: int, commands: list[bytes]) -> list[list[str]]:
    """The greeting, then each command's reply lines (over TLS after STLS)."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        sock: socket.socket = raw
        replies.append(_recv_until(sock, lambda d: d.endswith(b"\r\n")).decode().splitlines())
        for line in commands:
            if replies[-1][:1] == ["+OK Begin SSL/TLS negotiation now."]:
                sock = _tls(sock)
            sock.sendall(line + b"\r\n")
            name = line.split(b" ")[0]
            multi = name in POP3_MULTILINE and (name in (b"TOP", b"RETR", b"CAPA")
                                                or line == name)

            def done(d: bytes, multi: bool = multi) -> bool:
                if d.startswith(b"-ERR") or not multi:
                    return d.endswith(b"\r\n")
                return d.endswith(b"\r\n.\r\n")

            replies.append(_recv_until(sock, done).decode("utf-8", "replace").splitlines())
    return replies


def wrong_password(imap_port: int, pop3_port: int) -> tuple[list[str], list[str]]:
    """A wrong password in IMAP and in POP3, in parallel (each costs 5 seconds)."""
    found: dict[str, list[str]] = {}

    def imap() -> None:
        found["imap"] = imap_session(imap_port, [b"w1 LOGIN alice wrong"])[b"w1"]

    def pop3() -> None:
        found["pop3"] = pop3_session(pop3_port, [b"USER alice", b"PASS wrong"])[2]

    threads = [threading.Thread(target=imap), threading.Thread(target=pop3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return found["imap"], found["pop3"]


def normalise(line: str) -> str:
    line = re.sub(r"UIDVALIDITY \d+", "UIDVALIDITY n", line)
    line = re.sub(r"UID(\d+)-\d+", r"UID\1-n", line)
    # Courier quotes every folder name; the lab only those that need it.
    line = re.sub(r'"(INBOX[^" ]*)"', r"\1", line)
    return line


def _run(port_imap: int, port_pop3: int) -> dict[str, object]:
    imap = imap_session(port_imap, IMAP_SESSION)
    pop3 = pop3_session(port_pop3, POP3_SESSION)
    bad_imap, bad_pop3 = wrong_password(port_imap, port_pop3)
    return {"imap": {k: [normalise(x) for x in v] for k, v in imap.items()},
            "pop3": [[normalise(x) for x in r] for r in pop3],
            "bad_imap": bad_imap, "bad_pop3": bad_pop3,
            "imap_tls": imap_session(port_imap, IMAP_TLS_SESSION),
            "pop3_tls": pop3_session(port_pop3, POP3_TLS_SESSION)}


def _authtest(run) -> list[tuple[int, str, str]]:  # noqa: ANN001 - authtest(*args)
    out = []
    for args in AUTHTEST:
        code, stdout, stderr = run(*args)
        stdout = re.sub(r"(Home Directory|Encrypted Password): .*", r"\1: X", stdout)
        out.append((code, stdout, stderr))
    return out


@pytest.fixture(scope="module")
def both(courier_tree: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[dict, dict]]:
    """The sessions' replies from real Courier and from the Courier lab."""
    # Courier's imapd runs as the mail user (nobody), who must reach the maildir: not
    # under pytest's private (0700) directories.
    work = Path(tempfile.mkdtemp(prefix="real-courier-"))
    work.chmod(0o755)
    home = work / "home/alice"
    home.mkdir(parents=True)
    fill_maildir(home / "Maildir")
    lab_root = tmp_path_factory.mktemp("courier-lab")
    shutil.copytree(home, lab_root / "home/alice", symlinks=True)
    chown_tree(home, NOBODY, NOBODY)
    lab = Lab(flavor="courier", root=lab_root, ports="ephemeral")
    assert isinstance(lab, CourierLab)
    # Certificates made by the lab's mkimapdcert and mkpop3dcert serve both servers.
    assert lab.mkimapdcert().returncode == lab.mkpop3dcert().returncode == 0
    certs = {name: lab.path(f"/etc/courier/{name}").read_bytes()
             for name in ("imapd.pem", "pop3d.pem")}
    try:
        with RealCourier(courier_tree, work, users={"alice": ("secret", home)},
                         files=certs) as real:
            real_replies = _run(real.imap_port, real.pop3_port)
            real_replies["authtest"] = _authtest(
                lambda *a: (lambda p: (p.returncode, p.stdout, p.stderr))(real.authtest(*a)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lab.add_user("alice", "secret")
    lab.start()
    try:
        lab_replies = _run(lab.port("imap"), lab.port("pop3"))
        lab_replies["authtest"] = _authtest(
            lambda *a: (lambda r: (r.returncode, r.stdout, r.stderr))(
                lab.authtest(*[x for x in a if x not in ("-s", "imap")],
                             service="imap" if "-s" in a else "login")))
    finally:
        lab.stop()
    yield real_replies, lab_replies


def _imap(both, tag: bytes) -> tuple[list[str], list[str]]:  # noqa: ANN001
    real, lab = both
    return real["imap"][tag], lab["imap"][tag]


def test_greeting_and_capabilities(both) -> None:  # noqa: ANN001
    for tag in (b"*", b"a0", b"a01", b"a1", b"a2", b"a3", b"a4"):
        real, lab = _imap(both, tag)
        assert lab == real, tag


def test_namespace(both) -> None:  # noqa: ANN001
    real, lab = _imap(both, b"a5")
    assert lab == real


def test_list_shows_the_same_folders_and_attributes(both) -> None:  # noqa: ANN001
    for tag in (b"a6", b"a7"):
        real, lab = _imap(both, tag)
        assert lab[-1] == real[-1]
        assert sorted(lab[:-1]) == sorted(real[:-1]), tag


def test_lsub_names(both) -> None:  # noqa: ANN001
    real, lab = _imap(both, b"a8")

    def names(lines: list[str]) -> list[str]:
        return sorted(x.rsplit(" ", 1)[-1] for x in lines[:-1] if "\\Noselect" not in x)

    assert names(lab) == names(real) == ["INBOX.Sent"]
    assert lab[-1] == real[-1]


def test_status_and_the_tagged_replies(both) -> None:  # noqa: ANN001
    real, lab = _imap(both, b"a9")
    assert lab == real
    for tag in (b"b0", b"b01", b"b02", b"b1", b"b2", b"b3", b"b4", b"b5", b"b6", b"b7"):
        real, lab = _imap(both, tag)
        assert lab[-1] == real[-1], tag
    real, lab = _imap(both, b"b7")
    assert lab == real


def test_fetch_and_search_see_the_same_messages(both) -> None:  # noqa: ANN001
    for tag in (b"b2", b"b3"):
        real, lab = _imap(both, tag)
        # Courier makes every message \Recent the first time it gives it a UID, the lab
        # (as Dovecot) only those it moves out of new/ (docs/differences.md).
        assert [x.replace(" \\Recent", "") for x in lab] == \
            [x.replace(" \\Recent", "") for x in real], tag


def test_pop3_replies(both) -> None:  # noqa: ANN001
    real, lab = both
    for command, a, b in zip([b"(greeting)", *POP3_SESSION], real["pop3"], lab["pop3"],
                             strict=True):
        assert b == a, command


def test_wrong_passwords(both) -> None:  # noqa: ANN001
    real, lab = both
    assert lab["bad_imap"] == real["bad_imap"]
    assert lab["bad_pop3"] == real["bad_pop3"]


def test_starttls_with_the_labs_certificate(both) -> None:  # noqa: ANN001
    real, lab = both
    assert lab["imap_tls"] == real["imap_tls"]
    assert lab["pop3_tls"] == real["pop3_tls"]


def test_authtest(both) -> None:  # noqa: ANN001
    real, lab = both
    assert lab["authtest"] == real["authtest"]
