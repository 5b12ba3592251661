"""The command reader: transcripts, literals, split input, Dovecot's BAD texts."""

from __future__ import annotations

import datetime as dt

import pytest

from labserver.imap import (
    NEED_DATA,
    Append,
    Authenticate,
    BadCommand,
    CommandReader,
    ConnectionClosed,
    ContinuationLine,
    Copy,
    Done,
    Enable,
    Expunge,
    FatalError,
    Fetch,
    FetchAtt,
    Id,
    Idle,
    List,
    LiteralPending,
    LocalProtocolError,
    Login,
    Move,
    Noop,
    Search,
    SearchKey,
    Section,
    Select,
    SequenceSet,
    Status,
    Store,
    Unselect,
)
from tests.imap.bad_cases import BAD_CASES
from tests.imap.transcript import events, transcript, wire


def test_login_with_synchronising_literals():
    reader = CommandReader()
    reader.receive_data(b"a1 LOGIN {5}\r\n")
    assert reader.next_event() == LiteralPending(b"a1", "LOGIN", 5, True)
    with pytest.raises(LocalProtocolError):
        reader.next_event()
    reader.accept_literal()  # the caller sends "+ OK"
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"alice {6}\r\n")
    assert reader.next_event() == LiteralPending(b"a1", "LOGIN", 6, True)
    reader.accept_literal()
    reader.receive_data(b"s3cr t\r\n")
    assert reader.next_event() == Login(b"a1", b"alice", b"s3cr t")
    assert reader.next_event() is NEED_DATA


def test_non_synchronising_literal_needs_no_decision():
    assert transcript(["C: a1 LOGIN {5+}\\r\\nalice secret"]) == [
        Login(b"a1", b"alice", b"secret")]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
def test_byte_by_byte_feeding_gives_the_same_events(chunk):
    data = (wire("a1 LOGIN {5}\\r\\nalice \"se\\\\cr\\\"et\"")
            + wire("a2 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.10>)")
            + wire("a3 APPEND INBOX (\\Seen) \"05-Jan-2024 10:00:00 +0100\" {4+}\\r\\nabcd")
            + wire("a4 UID SEARCH OR FROM alice (SEEN UNDELETED) NOT 2:4"))
    whole = events(data)
    assert events(data, chunk=chunk) == whole
    assert [type(e).__name__ for e in whole] == [
        "LiteralPending", "Login", "Fetch", "LiteralPending", "Append", "Search"]
    assert whole[1] == Login(b"a1", b"alice", b'se\\cr"et')


def test_fetch_items_and_sections():
    [ev] = transcript(["C: a2 UID FETCH 1,3:* (FLAGS BODY.PEEK[1.2.MIME] BODY[]<5.10> "
                       "BODY[HEADER.FIELDS (From \"To\")])"])
    assert ev == Fetch(b"a2", SequenceSet(((1, 1), (3, None))), (
        FetchAtt("UID"), FetchAtt("FLAGS"),
        FetchAtt("BODY[]", Section((1, 2), "MIME"), None, True),
        FetchAtt("BODY[]", Section(), (5, 10)),
        FetchAtt("BODY[]", Section((), "HEADER.FIELDS", (b"From", b"To"), (False, True))),
    ), uid=True)
    assert [a.response_name() for a in ev.items] == [
        "UID", "FLAGS", "BODY[1.2.MIME]", "BODY[]<5>", 'BODY[HEADER.FIELDS (FROM "TO")]']


def test_fetch_macros():
    [ev] = transcript(["C: a FETCH 1 FULL"])
    assert ev.macro == "FULL"
    assert [a.name for a in ev.items] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE",
                                          "BODY"]


def test_search_tree():
    [ev] = transcript(["C: s UID SEARCH CHARSET UTF-8 OR FROM alice (SEEN SINCE 1-Feb-2024) "
                       "NOT HEADER X-Spam yes LARGER 100 1:5"])
    assert ev == Search(b"s", "UTF-8", SearchKey("AND", (
        SearchKey("OR", (SearchKey("FROM", (b"alice",)), SearchKey("AND", (
            SearchKey("SEEN"), SearchKey("SINCE", (dt.date(2024, 2, 1),)))))),
        SearchKey("NOT", (SearchKey("HEADER", (b"X-Spam", b"yes")),)),
        SearchKey("LARGER", (100,)),
        SearchKey("SEQSET", (SequenceSet(((1, 5),)),)),
    )), uid=True)


def test_store_copy_move_expunge():
    assert transcript(["C: s STORE 2:4 -FLAGS.SILENT (\\seen $Junk)",
                       "C: c UID COPY 1:* Archive",
                       "C: m MOVE 3 \"Sent Items\"",
                       "C: e UID EXPUNGE 7,9",
                       "C: u UNSELECT"]) == [
        Store(b"s", SequenceSet(((2, 4),)), "-", True, ("\\Seen", "$Junk")),
        Copy(b"c", SequenceSet(((1, None),)), b"Archive", uid=True),
        Move(b"m", SequenceSet(((3, 3),)), b"Sent Items"),
        Expunge(b"e", SequenceSet(((7, 7), (9, 9)))),
        Unselect(b"u"),
    ]


def test_select_list_status_enable_id_authenticate():
    assert transcript(["C: a EXAMINE \"INBOX\" (CONDSTORE)",
                       "C: b LIST (SUBSCRIBED) \"\" (\"*\" Work/%) RETURN (CHILDREN)",
                       "C: c STATUS Drafts (MESSAGES UIDNEXT unseen)",
                       "C: d ENABLE CONDSTORE utf8=accept",
                       "C: e ID (\"name\" \"mutt\" \"version\" NIL)",
                       "C: f AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="]) == [
        Select(b"a", b"INBOX", readonly=True, condstore=True),
        List(b"b", b"", (b"*", b"Work/%"), ("SUBSCRIBED",), ("CHILDREN",)),
        Status(b"c", b"Drafts", ("MESSAGES", "UIDNEXT", "UNSEEN")),
        Enable(b"d", ("CONDSTORE", "UTF8=ACCEPT")),
        Id(b"e", ((b"name", b"mutt"), (b"version", None))),
        Authenticate(b"f", "PLAIN", b"AGFsaWNlAHNlY3JldA=="),
    ]


def test_append_literal_is_announced_with_what_was_parsed():
    reader = CommandReader(max_line_length=100)
    reader.receive_data(wire('a APPEND Drafts (\\Draft) " 5-Jan-2024 10:00:00 -0200" {500}'))
    ev = reader.next_event()
    # the message literal is not limited by imap_max_line_length; the caller decides
    assert isinstance(ev, LiteralPending) and ev.synchronizing and ev.size == 500
    when = dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    assert ev.append == Append(b"a", b"Drafts", ("\\Draft",), when)
    reader.accept_literal()
    reader.receive_data(b"x" * 500 + b"\r\n")
    assert reader.next_event() == Append(b"a", b"Drafts", ("\\Draft",), when, b"x" * 500)


def test_refused_literal_drops_the_command():
    reader = CommandReader()
    reader.receive_data(b"a APPEND INBOX {99999999}\r\n")
    assert isinstance(reader.next_event(), LiteralPending)
    reader.reject_literal()  # e.g. after sending "a NO [TOOBIG] ..."
    reader.receive_data(b"b NOOP\r\n")
    assert reader.next_event() == Noop(b"b")


def test_literal_larger_than_the_line_limit_is_fatal():
    assert events(b"a SELECT {70000}\r\n") == [FatalError("Literal size too large")]
    assert events(b"a SELECT {100}\r\n", CommandReader(max_line_length=50)) == [
        FatalError("Literal size too large")]


def test_too_long_argument_and_too_long_line():
    long_atom = b"a SELECT " + b"x" * 70000 + b"\r\nb NOOP\r\n"
    assert events(long_atom) == [
        BadCommand(b"a", "Error in IMAP command SELECT: Too long argument.",
                   "Too long argument.", "SELECT"), Noop(b"b")]
    many = b"a SEARCH" + b" ALL" * 20000 + b"\r\nb NOOP\r\n"
    assert [getattr(e, "text", e) for e in events(many)] == [
        "Error in IMAP command SEARCH: IMAP command line too large.", Noop(b"b")]
    assert events(b"x" * 70000 + b" NOOP\r\n")[0].text == "Error in IMAP tag: Too long argument."
    # ... also when it arrives in pieces and no line end comes
    reader = CommandReader(max_line_length=1000)
    reader.receive_data(b"a SELECT " + b"y" * 1500)
    assert reader.next_event().text == "Error in IMAP command SELECT: Too long argument."


def test_idle_done_and_continuation_lines():
    reader = CommandReader()
    reader.receive_data(b"i IDLE\r\n")
    assert reader.next_event() == Idle(b"i")
    reader.expect_done(b"i")  # after "+ idling"
    reader.receive_data(b"done\r\nj IDLE\r\n")
    assert reader.next_event() == Done(b"i")
    assert reader.next_event() == Idle(b"j")
    reader.expect_done(b"j")
    reader.receive_data(b"NOOP\r\n")
    assert reader.next_event() == BadCommand(b"j", "Expected DONE.", "Expected DONE.", "IDLE")
    reader.receive_data(b"a AUTHENTICATE PLAIN\r\n")
    assert reader.next_event() == Authenticate(b"a", "PLAIN")
    reader.expect_line()  # after "+ "
    reader.receive_data(b"AGFsaWNlAHNlY3JldA==\r\n")
    assert reader.next_event() == ContinuationLine(b"AGFsaWNlAHNlY3JldA==")


def test_end_of_stream():
    reader = CommandReader()
    reader.receive_data(b"a NOOP\r\nb LOG")
    reader.receive_data(b"")
    assert reader.next_event() == Noop(b"a")
    assert reader.next_event() == ConnectionClosed(b"LOG")
    assert reader.next_event() is NEED_DATA


def test_commands_without_arguments_ignore_the_rest_of_the_line():
    assert transcript(["C: a NOOP ) {5}", "C: b CHECK"])[0] == Noop(b"a")


@pytest.mark.parametrize(("line", "text"), BAD_CASES, ids=[c for c, _ in BAD_CASES])
def test_bad_texts_are_dovecots(line, text):
    evs = [e for e in events(wire(line)) if not isinstance(e, LiteralPending)]
    first = evs[0]
    if text is None:
        assert not isinstance(first, BadCommand), first
    else:
        assert isinstance(first, BadCommand), first
        assert first.text == text
        tag = line.split(" ", 1)[0].encode() if line and not line.startswith((" ", "a+")) \
            else b"*"
        assert first.tag == tag
