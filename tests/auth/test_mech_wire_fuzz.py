"""Property-based fuzzing of every mechanism's decoder over the wire, Dovecot as the oracle.

Hypothesis writes SASL exchanges for IMAP ``AUTHENTICATE`` and POP3 ``AUTH``: with or
without an initial response (which may be ``*`` or not base64 at all), then lines of
malformed base64, ``=``, random bytes or protocol-shaped data in valid base64, long ones
or a cancel (``*``); the same exchange goes to the lab and to real Dovecot 2.3.19 on the same
configuration. The replies (random challenge parts
masked) and the auth and login log lines must be the same: Dovecot's words, never a
traceback, and both servers keep serving. ``LAB_WIRE_FUZZ=500 pytest
tests/auth/test_mech_wire_fuzz.py`` is the long form with fresh random exchanges. The
unit-level fuzzing of the state machines (thousands of inputs, no sockets) is in
test_mechanisms.py and test_sasl.py.
"""

from __future__ import annotations

import base64
import itertools
import os
import secrets
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labserver.service.lab import DEFAULT_CONFIG, Lab

from .test_mech_differential import case_log, normalise

MECHS = ["PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256",
         "ANONYMOUS"]
CONFIG = DEFAULT_CONFIG.replace(
    "auth_mechanisms = plain login\n",
    "auth_mechanisms = " + " ".join(m.lower() for m in MECHS) + "\n") + (
    "auth_verbose = yes\nauth_failure_delay = 0\n")
_sources = itertools.count()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Lines any step may get: empty, "=", broken padding, random bytes and protocol-shaped
# data in valid base64, and long ones (up to 2000 bytes, under the login process's
# 8 KiB line limit).
COMMON = st.one_of(
    st.just("="),
    st.just(""),
    st.sampled_from(["YQ", "YQ=", "YWJj=", "YQ==YQ==", "Y===", "YQ==x"]),
    st.binary(max_size=200).map(_b64),
    st.sampled_from([b"\0alice\0secret", b"alice\0\0", b"\0alice\0wrong", b"n,,n=alice,r=abc",
                     b"y,,n=alice,r=abc", b'username="alice",nonce="x",cnonce="y"',
                     b"alice 0123456789abcdef0123456789abcdef", b"c=biws,r=x,p=AAAA",
                     b"me@example.org"]).map(_b64),
    st.integers(1000, 2000).map(lambda n: _b64(b"A" * n)),
)
# An initial response may also be "*" (bad base64 there, not a cancel) or not base64 at
# all (atom characters: the lab's IMAP parser rejects "(", ")" and "%" sooner than
# Dovecot's). After a challenge "*" cancels; characters outside base64 and lines over
# 8 KiB are answered there by the login process itself, which the lab does not imitate
# yet (docs/differences.md).
INITIAL = st.one_of(COMMON, st.just("*"), st.text(alphabet="!@#$^&-_.~", min_size=1,
                                                  max_size=12))
CONTINUED = st.one_of(COMMON, st.just("*"))


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Lab]]:
    made: dict[str, Lab] = {}
    try:
        for engine in ("lab", "dovecot"):
            lab = Lab(CONFIG, ports="ephemeral", engine=engine)
            made[engine] = lab
            lab.add_user("alice", "secret", scheme="PLAIN")
            lab.add_user("anonymous", secrets.token_hex(8), scheme="PLAIN")
            lab.start()
        yield made
    finally:
        for lab in made.values():
            lab.cleanup()


def _exchange(lab: Lab, protocol: str, mech: str, initial: str | None, lines: list[str],
              source: str) -> list[bytes]:
    """The server's lines for one exchange; the client stops when its lines run out."""
    out: list[bytes] = []
    with socket.create_connection(("127.0.0.1", lab.port(protocol)), 10,
                                  (source, 0)) as sock:
        buf = b""

        def line() -> bytes:
            nonlocal buf
            while b"\r\n" not in buf:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    rest, buf = buf, b""
                    return rest
                buf += chunk
            got, _, buf = buf.partition(b"\r\n")
            return got

        out.append(line())
        command = (f"a AUTHENTICATE {mech}" if protocol == "imap" else f"AUTH {mech}")
        if initial is not None:
            command += " " + (initial or "=")
        sock.sendall(command.encode() + b"\r\n")
        pending = list(lines)
        while True:
            reply = line()
            out.append(reply)
            if not reply.startswith(b"+") or not pending:
                break
            try:
                sock.sendall(pending.pop(0).encode() + b"\r\n")
            except OSError:
                break
    return out


def _settled(lab: Lab, source: str) -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = case_log(lab.logs(), source)
        if any("-login: " in x for x in lines):
            # Dovecot's auth process may write its line a moment after the login process
            time.sleep(0.15)
            return case_log(lab.logs(), source)
        time.sleep(0.05)
    return case_log(lab.logs(), source)


# 60 fixed examples in the test suite (the same on every run, so that CI judges the lab and
# not the dice); LAB_WIRE_FUZZ=N runs N fresh random ones instead.
_FRESH = int(os.environ.get("LAB_WIRE_FUZZ", "0"))


@settings(max_examples=_FRESH or 60, derandomize=not _FRESH, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(protocol=st.sampled_from(["imap", "pop3"]), mech=st.sampled_from(MECHS),
       initial=st.one_of(st.none(), INITIAL), lines=st.lists(CONTINUED, min_size=1, max_size=3))
def test_malformed_exchanges_answered_as_dovecot(servers: dict[str, Lab], protocol: str,
                                                 mech: str, initial: str | None,
                                                 lines: list[str]) -> None:
    number = next(_sources)
    source = f"127.0.{1 + number // 240}.{2 + number % 240}"
    ours = _exchange(servers["lab"], protocol, mech, initial, lines, source)
    theirs = _exchange(servers["dovecot"], protocol, mech, initial, lines, source)
    assert normalise(ours) == normalise(theirs)
    # the auth and login processes write in either order: compare the lines, not the order
    assert sorted(_settled(servers["lab"], source)) == sorted(
        _settled(servers["dovecot"], source))


def test_both_still_serve_after_the_fuzzing(servers: dict[str, Lab]) -> None:
    for lab in servers.values():
        reply = _exchange(lab, "imap", "PLAIN", _b64(b"\0alice\0secret"), [], "127.0.0.251")
        assert reply[-1].startswith(b"a OK"), reply
