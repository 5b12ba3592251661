"""Response serialisation with Dovecot's quoting rules (lib-imap imap-quote.c)."""

from __future__ import annotations

import datetime as dt

from labserver.imap import responses as r


def test_nstring_quoted_or_literal():
    assert r.nstring(None) == b"NIL"
    assert r.nstring(b"plain text") == b'"plain text"'
    assert r.nstring(b'say "hi"') == b'"say \\"hi\\""'
    assert r.nstring(b'"""""') == b'{5}\r\n"""""'  # more than four quoted-specials
    assert r.nstring(b"line\r\nbreak") == b"{11}\r\nline\r\nbreak"
    assert r.nstring("Gr\u00fc\u00dfe".encode()) == b"{7}\r\nGr\xc3\xbc\xc3\x9fe"


def test_astring_atom_when_possible():
    assert r.astring(b"INBOX") == b"INBOX"
    assert r.astring(b"nil") == b'"nil"'
    assert r.astring(b"") == b'""'
    assert r.astring(b"Sent Items") == b'"Sent Items"'
    assert r.astring(b"a]b") == b"a]b"


def test_string_for_humans():
    assert r.string_for_humans(b"Hello") == b'"Hello"'
    assert r.string_for_humans(b"Hello  \tthere\r\n ") == b"{11}\r\nHello there"
    assert r.string_for_humans(b"  ") == b'""'
    assert r.string_for_humans(b"a\x00b") == b"{3}\r\na\x80b"


def test_nstring_nolf_unfolds():
    assert r.nstring_nolf(b"\r\n <id@example>") == b'" <id@example>"'
    assert r.nstring_nolf(b"a\r\nb") == b'"a b"'


def test_lines():
    assert r.tagged(b"a1", "OK", "Select completed.", code="READ-WRITE") == \
        b"a1 OK [READ-WRITE] Select completed.\r\n"
    assert r.tagged(b"a1", "OK", "Select completed.", timing="0.001 + 0.000") == \
        b"a1 OK Select completed (0.001 + 0.000 secs).\r\n"
    assert r.fetch(3, [("UID", b"7"), ("FLAGS", r.flag_list(["\\Seen"]))]) == \
        b"* 3 FETCH (UID 7 FLAGS (\\Seen))\r\n"
    assert r.search([]) == b"* SEARCH\r\n"
    assert r.search([1, 4]) == b"* SEARCH 1 4\r\n"
    assert r.list_line("LIST", ["\\HasNoChildren"], ".", b"Sent Items") == \
        b'* LIST (\\HasNoChildren) "." "Sent Items"\r\n'
    assert r.status_line(b"INBOX", [("MESSAGES", 2), ("UNSEEN", 1)]) == \
        b"* STATUS INBOX (MESSAGES 2 UNSEEN 1)\r\n"
    assert r.continuation() == b"+ OK\r\n"
    assert r.bye("Logging out") == b"* BYE Logging out\r\n"


def test_internaldate():
    when = dt.datetime(2024, 1, 5, 9, 3, 7, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    assert r.internaldate(when) == b'"05-Jan-2024 09:03:07 -0700"'
