"""Limits: connection floods, the per-user limit, endless lines, oversized literals, slow
clients and a password brute force, against the lab as its own process.

Where Dovecot has an answer, the same exchange runs against real Dovecot and the replies
are compared. Memory is the server process's resident set (``VmRSS``), measured before
and after; meanwhile an ordinary session must keep being served. The lab models
``mail_max_userip_connections`` but not the ``service { client_limit process_limit }``
limits (one process serves everyone), so the flood checks only that nothing breaks.
"""

from __future__ import annotations

import imaplib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.labproc import LabProcess, prepare
from labserver.service.lab import DEFAULT_CONFIG
from tests.dovecot_harness import real_dovecot

from .wire import RawImap, RawPop3

LIMITS = "auth_failure_delay = 1 secs\nmail_max_userip_connections = 3\n"
TIMING = re.compile(rb" \(\d+\.\d+ \+ \d+\.\d+(?: \+ \d+\.\d+)? secs\)")
# Memory a test may add to the server, beyond what it had before (MiB).
RSS_SLACK_MB = 64


class Servers:
    def __init__(self, lab: LabProcess, ports: dict[str, int], dovecot) -> None:  # noqa: ANN001
        self.lab, self.ports, self.dovecot = lab, ports, dovecot

    def rss_mb(self) -> float:
        return self.lab.rss_kb() / 1024

    def both(self) -> list[tuple[str, int, int]]:
        return [("lab", self.ports["imap"], self.ports["pop3"]),
                ("dovecot", self.dovecot.imap_port, self.dovecot.pop3_port)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("limits") / "lab"
    prepare(root, {"alice": "secret", "bob": "secret"}, config=DEFAULT_CONFIG + LIMITS)
    lab = LabProcess(root)
    ports = lab.start()
    try:
        with real_dovecot(extra_conf=LIMITS) as dc:
            yield Servers(lab, ports, dc)
    finally:
        lab.stop()


def ordinary_session(port: int, user: str = "bob") -> None:
    """What everyone else does meanwhile; raises if it is not served."""
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    imap.login(user, "secret")
    typ, _ = imap.select("INBOX")
    assert typ == "OK"
    imap.logout()


def exchange(port: int, payload: bytes, login: bool) -> bytes:
    """Send ``payload`` (after a LOGIN, if asked) and collect replies until the server goes
    quiet for a second or hangs up; timing suffixes removed."""
    c = RawImap(port)
    if login:
        c.command("LOGIN", b"alice", b"secret")
    heard = b""
    try:
        c.sock.sendall(payload)
        c.sock.settimeout(1.0)
        while True:
            chunk = c.sock.recv(65536)
            if not chunk:
                heard += b"<closed>"
                break
            heard += chunk
    except TimeoutError:
        pass
    except OSError:
        heard += b"<closed>"
    finally:
        c.close()
    return TIMING.sub(b"", heard)


ENDLESS = b"x" * (2 * 1024 * 1024)
CASES = {
    "endless line before login": (b"a1 NOOP " + ENDLESS, False),
    "endless tag before login": (ENDLESS, False),
    "endless argument after login": (b"a1 SEARCH SUBJECT " + ENDLESS, True),
    "literal too large before login": (b"a LOGIN {100000}\r\n", False),
    "literal+ too large before login": (b"a LOGIN {100000+}\r\n", False),
    "literal too large after login": (b"a SELECT {100000}\r\n", True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_long_input_answers_as_dovecot(servers: Servers, case: str) -> None:
    payload, login = CASES[case]
    before = servers.rss_mb()
    replies = {name: exchange(imap, payload, login) for name, imap, _ in servers.both()}
    lab, dovecot = (replies[n].removesuffix(b"<closed>") for n in ("lab", "dovecot"))
    # Both hang up, or neither does.
    assert replies["lab"].endswith(b"<closed>") == replies["dovecot"].endswith(b"<closed>")
    # A server that closes while the client is still sending resets the connection, and
    # the reset can discard its last words on the client's side: an empty reply is then
    # no difference.
    assert lab == dovecot or not lab or not dovecot, replies
    assert servers.rss_mb() - before < RSS_SLACK_MB
    ordinary_session(servers.ports["imap"])


def test_endless_pop3_line_ends_the_connection(servers: Servers) -> None:
    before = servers.rss_mb()
    for name, _, pop3 in servers.both():
        p = RawPop3(pop3)
        try:
            with pytest.raises(OSError):
                for _ in range(200):  # at most 12.5 MiB
                    p.sock.sendall(b"x" * 65536)
                p.sock.settimeout(5)
                while p.sock.recv(65536):
                    pass
                raise ConnectionResetError(f"{name}: closed without a reset")
        finally:
            p.close()
    assert servers.rss_mb() - before < RSS_SLACK_MB


def test_userip_limit_answers_as_dovecot(servers: Servers) -> None:
    answers = {}
    for name, imap, pop3 in servers.both():
        held = [RawImap(imap) for _ in range(3)]
        for c in held:
            assert c.command("LOGIN", b"alice", b"secret")[0] == "OK"
        extra = RawImap(imap)
        status, said = extra.command("LOGIN", b"alice", b"secret")
        after = extra.command("NOOP")[0]
        pops = [RawPop3(pop3) for _ in range(4)]
        for p in pops[:3]:
            p.command(b"USER alice")
            assert p.command(b"PASS secret")[0] == "+OK"
            assert p.command(b"STAT")[0] == "+OK"
        time.sleep(0.5)  # Dovecot counts a session once its pop3 process has registered
        last = (pops[3].command(b"USER alice")[1], pops[3].command(b"PASS secret")[1])
        answers[name] = (status, TIMING.sub(b"", said), after, last)
        for c in [*held, extra, *pops]:
            c.close()
        time.sleep(0.5)  # the server notices the closed sessions
    assert answers["lab"] == answers["dovecot"]
    assert answers["lab"][0] == "NO" and b"[LIMIT]" in answers["lab"][1]


def test_flood_of_connections_leaves_others_served(servers: Servers) -> None:
    before = servers.rss_mb()
    flood = []
    try:
        for i in range(400):
            s = socket.create_connection(("127.0.0.1", servers.ports["imap" if i % 2 else
                                                                    "pop3"]), 10)
            flood.append(s)
        ordinary_session(servers.ports["imap"])
        during = servers.rss_mb()
    finally:
        for s in flood:
            s.close()
    assert during - before < RSS_SLACK_MB
    ordinary_session(servers.ports["imap"])
    print(f"400 idle connections: server RSS {before:.0f} -> {during:.0f} MiB")


def test_slow_client_is_answered_and_does_not_hold_up_others(servers: Servers) -> None:
    """A byte a second: eight seconds for one NOOP, while others log in and out."""
    c = RawImap(servers.ports["imap"])
    answer: list[tuple[str, bytes]] = []

    def trickle() -> None:
        for byte in b"a NOOP\r\n":
            c.sock.sendall(bytes([byte]))
            time.sleep(1.0)
        answer.append(c.command("LOGOUT"))

    t = threading.Thread(target=trickle)
    t.start()
    served = 0
    while t.is_alive():
        ordinary_session(servers.ports["imap"])
        served += 1
    t.join()
    c.close()
    assert served >= 3
    assert c.transcript.count(b"a OK NOOP completed.") == 1


def test_password_brute_force_is_delayed_and_others_served(servers: Servers) -> None:
    """Each failure costs the lab ``auth_failure_delay`` (1 s here). Dovecot answers the
    failures it has queued once per that interval, so its first can come sooner, and adds
    a penalty per source address on top (its anvil ``auth_penalty``), which the lab does
    not model; Dovecot's delays are printed, not compared."""
    delays: dict[str, list[float]] = {}
    for name, imap, _ in servers.both():
        c = RawImap(imap)
        delays[name] = []
        # Two attempts at Dovecot: its penalty makes each further one cost 5 seconds.
        for _ in range(3 if name == "lab" else 2):
            start = time.monotonic()
            status, said = c.command("LOGIN", b"alice", b"guess")
            delays[name].append(round(time.monotonic() - start, 2))
            assert status == "NO" and b"[AUTHENTICATIONFAILED]" in said, said
        c.close()
    print("failed LOGIN delays (s):", delays)
    assert min(delays["lab"]) >= 0.9
    # The lab's delay is a timer, not a blocked server: others log in meanwhile.
    c = RawImap(servers.ports["imap"])
    worker = threading.Thread(target=lambda: [c.command("LOGIN", b"alice", b"guess")
                                              for _ in range(3)])
    worker.start()
    ordinary_session(servers.ports["imap"])
    assert worker.is_alive(), "the brute force finished before the other session"
    worker.join()
    c.close()


def test_server_survived(servers: Servers) -> None:
    assert servers.lab.proc is not None and servers.lab.proc.poll() is None
    ordinary_session(servers.ports["imap"])
    stderr = Path(servers.lab.stderr_path).read_text()
    assert "Traceback" not in stderr
