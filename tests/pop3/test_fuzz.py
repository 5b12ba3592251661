"""Arbitrary bytes never make the engine raise, and every reply is well formed."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labserver.pop3 import Pop3Settings

from .fakes import Driver, FakeMailbox

WORDS = [b"USER alice", b"PASS secret", b"PASS x", b"STAT", b"LIST", b"LIST 1", b"RETR 1",
         b"RETR 2", b"TOP 1 1", b"UIDL", b"UIDL 2", b"DELE 1", b"RSET", b"NOOP", b"CAPA",
         b"AUTH PLAIN", b"AUTH LOGIN", b"AUTH", b"*", b"AGFsaWNlAHNlY3JldA==", b"STLS",
         b"APOP alice 00000000000000000000000000000000", b"LAST", b"QUIT"]
LINE_END = st.sampled_from([b"\r\n", b"\n", b"\r", b"", b" "])
PIECE = st.one_of(st.sampled_from(WORDS), st.binary(max_size=40))
STREAM = st.lists(st.tuples(PIECE, LINE_END), max_size=25).map(
    lambda parts: b"".join(a + b for a, b in parts))

MULTILINE_STARTS = (b"+OK\r\nCAPA", b"+OK\r\nPLAIN")


def check_replies(output: bytes) -> None:
    """Every line is a status line, a continuation, or inside a dotted block."""
    assert output == b"" or output.endswith(b"\r\n")
    lines = output.split(b"\r\n")[:-1]
    i = 0
    while i < len(lines):
        line = lines[i]
        assert line.startswith((b"+OK", b"-ERR", b"+ ")), (line, lines)
        i += 1
        # A multi-line reply runs until a lone dot; data lines never start with
        # +OK/-ERR in these messages, so a following status line ends a one-liner.
        if line.startswith(b"+OK") and i < len(lines) and not lines[i].startswith(
                (b"+OK", b"-ERR", b"+ ")):
            while lines[i] != b".":
                assert not lines[i].startswith(b".") or lines[i].startswith(b".."), lines[i]
                i += 1
            i += 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=STREAM, cut=st.integers(min_value=1, max_value=64),
       mechs=st.sampled_from([("PLAIN",), ("PLAIN", "LOGIN", "APOP")]),
       remote=st.booleans())
def test_arbitrary_input(data, cut, mechs, remote):
    box = FakeMailbox([b"Subject: a\n\n.x\nbody\n", b"Subject: b\r\n\r\nhi\r\n"])
    kw = {"remote_ip": "192.0.2.9", "local_ip": "192.0.2.1"} if remote else {}
    d = Driver(Pop3Settings(auth_mechanisms=mechs), mailbox=box,
               apop_challenge="<1.1.1.x@lab>", **kw)
    for start in range(0, len(data), cut):
        if d.closed:
            break
        d.send(data[start:start + cut])
    if not d.closed:
        d.send(b"")
    assert d.closed
    check_replies(bytes(d.output))
    assert all(text.startswith(("pop3-login: Info: ", "pop3(alice)<")) for text in d.logs)
