"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labserver.imap import UTF7Error, decode_mailbox, encode_mailbox

CASES = [
    ("INBOX", b"INBOX"),
    ("Entw\u00fcrfe", b"Entw&APw-rfe"),
    ("Tom & Jerry", b"Tom &- Jerry"),
    ("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("\U0001f4e7 mail", b"&2D3c5w- mail"),
    ("", b""),
]


@pytest.mark.parametrize(("name", "wire"), CASES)
def test_round_trip(name, wire):
    assert encode_mailbox(name) == wire
    assert decode_mailbox(wire) == name


@pytest.mark.parametrize("bad", [
    b"&Jjo", b"&AGE-",  # unterminated; printable ASCII ("a") inside a shift
    b"&U,BTFw-&ZeVnLIqe-",  # two shifts in a row must be one
    b"&2D0-",  # a lone surrogate
    b"\xc3\xa4", b"&A-",  # 8-bit octets; truncated base64
])
def test_invalid_names_are_rejected(bad):
    with pytest.raises(UTF7Error):
        decode_mailbox(bad)


@given(st.text())
def test_any_name_round_trips(name):
    assert decode_mailbox(encode_mailbox(name)) == name
