"""The IMAP session engine as transcripts: client lines in, the server's exact lines out.

The engine runs without sockets on a Maildir in a temporary lab directory; the test plays
the service layer (it answers ``AuthRequest`` itself). ``S:`` lines are compared after the
timing suffix is removed; ``S: ...`` alone skips any number of lines.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labserver.imap.session import (
    NEED_DATA,
    PAUSED,
    AuthCancelled,
    AuthRequest,
    AuthResponse,
    Close,
    ImapConnection,
    ImapSettings,
    LogLine,
    SendData,
    StartTLS,
)
from labserver.service.lab import DEFAULT_CONFIG, Lab

MESSAGE = (b"From: Bob <bob@example.com>\nTo: alice@example.com\nSubject: lab test\n"
           b"Date: Mon, 23 Nov 2026 10:00:00 +0000\n\nFirst line\n")
_TIMING = re.compile(rb" \(\d+\.\d+ \+ \d+\.\d+ secs\)\.")


@pytest.fixture
def lab():
    lab = Lab(DEFAULT_CONFIG, ports="ephemeral")
    lab.add_user("alice", "secret")
    lab.deliver("alice", MESSAGE)
    lab.deliver("alice", MESSAGE.replace(b"lab test", b"second"))
    yield lab
    lab.cleanup()


class Driver:
    """Plays the service layer for one engine."""

    def __init__(self, lab: Lab, remote_ip: str = "127.0.0.1", **settings: object) -> None:
        self.lab = lab
        base: dict = {"login_greeting": "Dovecot ready.", "disable_plaintext_auth": False,
                      "auth_mechanisms": ("PLAIN", "LOGIN")}
        base.update(settings)
        self.conn = ImapConnection(ImapSettings(**base), session_id="SESSION", pid=42,
                                   tls_available=False, remote_ip=remote_ip)
        self.out = bytearray(self.conn.start())
        self.logs: list[str] = []
        self.closed = False
        self.mech_lines: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self.pump()

    def pump(self) -> None:
        while not self.closed:
            ev = self.conn.next_event()
            if ev is NEED_DATA or ev is PAUSED:
                return
            if isinstance(ev, SendData):
                self.out += ev.data
            elif isinstance(ev, LogLine):
                self.logs.append(ev.text)
            elif isinstance(ev, Close):
                self.closed = True
            elif isinstance(ev, AuthRequest):
                if ev.initial_response is None:
                    self.out += self.conn.auth_continue(b"")
                    continue
                self._answer(ev.username, ev.password)
            elif isinstance(ev, AuthResponse):
                import base64
                _, user, password = base64.b64decode(ev.data).split(b"\0")
                self._answer(user.decode(), password)
            elif isinstance(ev, AuthCancelled | StartTLS):
                pass

    def _answer(self, user: str | None, password: bytes | None) -> None:
        if (user, password) == ("alice", b"secret"):
            self.out += self.conn.auth_succeeded("alice", self.lab.storage("alice"))
        else:
            self.out += self.conn.auth_failed(user=user)

    def take(self) -> list[str]:
        text = _TIMING.sub(b".", bytes(self.out)).decode("utf-8", "replace")
        self.out.clear()
        return text.split("\r\n")[:-1]


def transcript(driver: Driver, lines: list[str]) -> None:
    """Run ``C:`` lines and check the ``S:`` lines that follow each group."""
    expected: list[str] = []
    for line in [*lines, "C: "]:
        if line.startswith("C: "):
            if expected:
                got = driver.take()
                _match(got, expected)
                expected = []
            if line != "C: ":
                driver.feed(line[3:].replace("\\r\\n", "\r\n").encode() + b"\r\n")
        else:
            expected.append(line[3:])
    driver.take()


def _match(got: list[str], expected: list[str]) -> None:
    i = 0
    for j, want in enumerate(expected):
        if want == "...":
            nxt = expected[j + 1] if j + 1 < len(expected) else None
            while i < len(got) and got[i] != nxt:
                i += 1
            continue
        assert i < len(got), f"missing {want!r}; got {got}"
        assert got[i] == want, f"line {i}: {got[i]!r} != {want!r}\n{got}"
        i += 1
    assert i == len(got), f"extra lines: {got[i:]}"


def test_greeting_capability_and_login(lab):
    d = Driver(lab)
    transcript(d, [
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
        "AUTH=PLAIN AUTH=LOGIN] Dovecot ready.",
        "C: a1 CAPABILITY",
        "S: * CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
        "AUTH=LOGIN",
        "S: a1 OK Pre-login capabilities listed, post-login capabilities have more.",
        "C: a2 LOGIN alice secret",
        "S: * CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN "
        "NAMESPACE UIDPLUS MOVE LITERAL+",
        "S: a2 OK Logged in",
        "C: a3 LOGOUT",
        "S: * BYE Logging out",
        "S: a3 OK Logout completed.",
    ])
    assert d.closed
    assert any("imap-login: Info: Login: user=<alice>, method=PLAIN" in x for x in d.logs)
    assert any(x.startswith("imap(alice)<42><SESSION>: Info: Disconnected: Logged out in=")
               for x in d.logs)


def test_tagged_capability_code_without_prior_capability(lab):
    d = Driver(lab)
    d.take()
    d.feed(b"a LOGIN alice secret\r\n")
    assert d.take() == ["a OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                        "UNSELECT CHILDREN NAMESPACE UIDPLUS MOVE LITERAL+] Logged in"]


def test_plaintext_policy_on_a_non_secured_connection(lab):
    d = Driver(lab, disable_plaintext_auth=True, remote_ip="127.0.0.2")
    transcript(d, [
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
        "LOGINDISABLED] Dovecot ready.",
        "C: a LOGIN alice secret",
        "S: * BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, but your "
        "client did it anyway. If anyone was listening, the password was exposed.",
        "S: a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
        "(SSL/TLS) connections.",
        "C: b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
        "S: b NO [PRIVACYREQUIRED] Plaintext authentication disabled.",
    ])


def test_bad_commands_before_login(lab):
    d = Driver(lab)
    transcript(d, [
        "S: ...",
        "C: a SELECT INBOX",
        "S: a BAD Error in IMAP command received by server.",
        "C: LOGIN alice secret",
        "S: LOGIN BAD First parameter in line is IMAP's command tag, not the command name. "
        "Add that before the command, like: a login user pass",
        "C: b FOO",
        "S: b BAD Error in IMAP command received by server.",
        "C: c BAR",
        "S: * BYE Too many invalid IMAP commands.",
    ])
    assert d.closed


def test_failed_login_and_sasl(lab):
    d = Driver(lab)
    transcript(d, [
        "S: ...",
        "C: a LOGIN alice wrong",
        "S: a NO [AUTHENTICATIONFAILED] Authentication failed.",
        "C: b AUTHENTICATE PLAIN",
        "S: + ",
        "C: *",
        "S: b BAD Authentication aborted by client.",
        "C: c AUTHENTICATE PLAIN",
        "S: + ",
        "C: AGFsaWNlAHNlY3JldA==",
        "S: ...",
        "C: d LOGOUT",
        "S: * BYE Logging out",
        "S: d OK Logout completed.",
    ])


def test_select_fetch_store_search(lab):
    d = Driver(lab)
    transcript(d, [
        "S: ...",
        "C: a LOGIN alice secret",
        "S: ...",
        "C: b SELECT INBOX",
        "S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
        "permitted.",
        "S: * 2 EXISTS",
        "S: * 2 RECENT",
        "S: * OK [UNSEEN 1] First unseen.",
        "S: ...",
        "S: b OK [READ-WRITE] Select completed.",
        "C: c FETCH 1 (UID BODY[HEADER.FIELDS (SUBJECT)])",
        "S: * 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) BODY[HEADER.FIELDS (SUBJECT)] {21}",
        "S: Subject: lab test",
        "S: ",
        "S: )",
        "S: c OK Fetch completed.",
        "C: d STORE 2 +FLAGS (\\Flagged $Work)",
        "S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)",
        "S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] "
        "Flags permitted.",
        "S: * 2 FETCH (FLAGS (\\Flagged \\Recent $Work))",
        "S: d OK Store completed.",
        "C: e SEARCH SEEN",
        "S: * SEARCH 1",
        "S: e OK Search completed.",
        "C: f UID SEARCH KEYWORD $Work",
        "S: * SEARCH 2",
        "S: f OK Search completed.",
        "C: g FETCH 3 FLAGS",
        "S: g BAD Error in IMAP command FETCH: Invalid messageset.",
    ])


def test_two_sessions_see_each_others_changes(lab):
    one, two = Driver(lab), Driver(lab)
    for d in (one, two):
        d.feed(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n")
        d.take()
    transcript(one, ["C: c STORE 1 +FLAGS.SILENT (\\Deleted)", "S: c OK Store completed.",
                     "C: d EXPUNGE", "S: * 1 EXPUNGE", "S: ...", "S: d OK Expunge completed."])
    lab.deliver("alice", MESSAGE)
    # FETCH without UID may not announce the expunge; the sequence numbers stay.
    transcript(two, ["C: e FETCH 2 (UID)", "S: * 2 FETCH (UID 2)", "S: * 3 EXISTS", "S: * 1 RECENT",
                     "S: e OK Fetch completed.",
                     "C: f NOOP", "S: * 1 EXPUNGE", "S: f OK NOOP completed."])


def test_idle_sees_a_delivery(lab):
    d = Driver(lab)
    d.feed(b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc IDLE\r\n")
    assert d.take()[-1] == "+ idling"
    assert d.conn.idling
    lab.deliver("alice", MESSAGE)
    d.out += d.conn.poll()
    assert d.take() == ["* 3 EXISTS", "* 3 RECENT"]
    transcript(d, ["C: DONE", "S: c OK Idle completed."])
    assert not d.conn.idling


def test_append_literals_and_trycreate(lab):
    d = Driver(lab)
    d.feed(b"a LOGIN alice secret\r\n")
    transcript(d, [
        "S: ...",
        "C: b APPEND nosuch {5}",
        "S: b NO [TRYCREATE] Mailbox doesn't exist: nosuch.",
        "C: c CREATE Drafts",
        "S: c OK Create completed.",
        "C: d APPEND Drafts (\\Draft) {11+}\\r\\nSubject: x\\r\\n",
        "S: ...",
        "C: e STATUS Drafts (MESSAGES UIDNEXT)",
        "S: * STATUS Drafts (MESSAGES 1 UIDNEXT 2)",
        "S: e OK Status completed.",
    ])


def test_copy_move_uidplus(lab):
    d = Driver(lab)
    d.feed(b"a LOGIN alice secret\r\nb CREATE Archive\r\nc SELECT INBOX\r\n")
    d.take()
    got = _TIMING.sub(b".", bytes(d.conn.session and b"") or b"")
    assert got == b""
    d.feed(b"d COPY 1 Archive\r\ne MOVE 2 Archive\r\n")
    lines = d.take()
    assert re.fullmatch(r"d OK \[COPYUID \d+ 1 1\] Copy completed\.", lines[0])
    assert re.fullmatch(r"\* OK \[COPYUID \d+ 2 2\] Moved UIDs\.", lines[1])
    assert lines[2:] == ["* 2 EXPUNGE", "* 1 RECENT", "e OK Move completed."]


def test_too_many_connections_and_timeouts(lab):
    d = Driver(lab)
    d.take()
    d.feed(b"a LOGIN alice secret\r\n")
    d.take()
    d.out += d.conn.timed_out()
    assert d.take() == ["* BYE Disconnected for inactivity."]
    assert any("Disconnected: Inactivity - no input for" in x for x in (d.pump() or d.logs))
    other = ImapConnection(ImapSettings(disable_plaintext_auth=False), session_id="X")
    other.start()
    other.receive_data(b"a LOGIN alice secret\r\n")
    assert isinstance(other.next_event(), AuthRequest)
    assert other.too_many_connections(10) == (
        b"a NO [LIMIT] Maximum number of connections from user+IP exceeded "
        b"(mail_max_userip_connections=10)\r\n")


def test_long_line_and_literal_limits(lab):
    d = Driver(lab, imap_max_line_length=1000)
    d.feed(b"a LOGIN alice secret\r\n")
    d.take()
    d.feed(b"b SELECT " + b"x" * 2000 + b"\r\nc NOOP\r\n")
    lines = d.take()
    assert lines[0].startswith("b BAD Error in IMAP command SELECT: Too long argument")
    assert lines[-1] == "c OK NOOP completed."


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=60), max_size=8), st.booleans())
def test_fuzz_arbitrary_lines_never_raise(lab, lines, logged_in):
    d = Driver(lab)
    if logged_in:
        d.feed(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n")
    for line in lines:
        if d.closed:
            break
        d.feed(line + b"\r\n")
    # another session on the same mailbox is unaffected
    other = Driver(lab)
    other.take()
    other.feed(b"x LOGIN alice secret\r\ny EXAMINE INBOX\r\nz LOGOUT\r\n")
    assert other.take()[-1] == "z OK Logout completed."
