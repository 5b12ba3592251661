"""ENVELOPE, BODY, BODYSTRUCTURE and sections for the sample messages.

The expected values were checked against Dovecot 2.3.19.1 (``test_dovecot_differential``
compares every sample with a live Dovecot when one is installed).
"""

from __future__ import annotations

from labserver.imap import CommandReader, ParsedMessage, Section, parse_addresses
from tests.imap.samples import BARE_LF, MIXED, PLAIN, RFC822, SAMPLES
from tests.imap.transcript import wire

ALICE = b'(("Alice Example" NIL "alice" "example.org"))'


def test_plain():
    m = ParsedMessage(PLAIN)
    assert m.envelope() == (b'("Mon, 01 Jan 2024 10:00:00 +0100" "Lunch tomorrow?" '
                            + ALICE * 1 + b" " + ALICE + b" " + ALICE
                            + b' ((NIL NIL "bob" "example.com")) NIL NIL NIL '
                              b'"<1234@example.org>")')
    assert m.body() == b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 37 4)'
    assert m.bodystructure() == (b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 37 4 '
                                 b'NIL NIL NIL NIL)')
    assert m.size == len(PLAIN)


def test_mixed_with_attachment_and_extension_data():
    m = ParsedMessage(MIXED)
    assert m.bodystructure() == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1 NIL NIL NIL NIL)'
        b'("application" "pdf" ("name" "report.pdf") "<part2@example.org>" "The report" '
        b'"base64" 114 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "report.pdf")) '
        b'NIL NIL)'
        b'("text" "x-log" ("charset" "iso-8859-1") NIL NIL "7bit" 18 1 NIL ("inline" NIL) '
        b'("de" "en-GB") "http://example.org/log.txt") '
        b'"mixed" ("boundary" "==mixed==") NIL ("en") NIL)')
    # a folded subject is unfolded and, being changed, sent as a literal
    assert m.envelope().startswith(
        b'("Wed, 3 Jan 2024 12:00:00 +0000" {33}\r\nReport with a folded subject line ')
    assert b'((NIL NIL "Team" NIL)(NIL NIL "grace" "example.com")' in m.envelope()


def test_message_rfc822_nesting():
    m = ParsedMessage(RFC822)
    assert m.body() == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 16 0)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 326 ("Mon, 01 Jan 2024 10:00:00 +0100" '
        b'"Lunch tomorrow?" ' + ALICE + b" " + ALICE + b" " + ALICE
        + b' ((NIL NIL "bob" "example.com")) NIL NIL NIL NIL) '
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 0)'
        b'("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 21 0) "alternative") 16) '
        b'"mixed")')
    assert m.section(Section((2, 1))) == b"Content-Type: text/plain\r\n\r\nlunch at noon?"[-14:]
    assert m.section(Section((2,), "HEADER")).startswith(b"Date: Mon, 01 Jan 2024")
    assert m.section(Section((2,), "MIME")) == b"Content-Type: message/rfc822\r\n\r\n"
    assert m.section(Section((2, 3))) is None


def test_bare_lf_is_counted_with_crlf():
    m = ParsedMessage(BARE_LF)
    assert m.size == len(BARE_LF) + BARE_LF.count(b"\n")
    assert m.body() == (b'("text" "plain" ("charset" "us-ascii" "format" "flowed") NIL NIL '
                        b'"7bit" 16 2)')
    assert m.section(Section()) == BARE_LF.replace(b"\n", b"\r\n")


def _att(item: str):
    reader = CommandReader()
    reader.receive_data(wire(f"x FETCH 1 ({item})"))
    return reader.next_event().items[0]


def test_header_fields_and_partial():
    m = ParsedMessage(PLAIN)
    assert m.fetch_body_section(_att("BODY.PEEK[HEADER.FIELDS (subject FROM)]")) == (
        b"{69}\r\nFrom: Alice Example <alice@example.org>\r\nSubject: Lunch tomorrow?\r\n\r\n")
    assert m.fetch_body_section(_att("BODY[]<0.6>")) == b"{6}\r\nReturn"
    assert m.fetch_body_section(_att("BODY[TEXT]<1000>")) == b"{0}\r\n"
    no_body = ParsedMessage(SAMPLES["no_body"])
    # Dovecot adds the blank line to HEADER.FIELDS but not to HEADER.FIELDS.NOT here
    assert no_body.section(Section((), "HEADER.FIELDS", (b"from",))) == \
        b"From: nobody@example.com\r\n\r\n"
    assert no_body.section(Section((), "HEADER.FIELDS.NOT", (b"subject",))) == \
        b"From: nobody@example.com\r\n"


def test_addresses():
    def names(v: bytes):
        return [(a.name, a.route, a.mailbox, a.domain) for a in parse_addresses(v)]
    assert names(b'"Doe, John" <john@x.example>') == [(b"Doe, John", None, b"john",
                                                       b"x.example")]
    assert names(b"john@x.example (John Doe)") == [(b"John Doe", None, b"john", b"x.example")]
    assert names(b"<@a.example,@b.example:joe@c.example>") == [
        (None, b"@a.example,@b.example", b"joe", b"c.example")]
    assert names(b"undisclosed-recipients:;") == [(None, None, b"undisclosed-recipients", None),
                                                  (None, None, None, None)]
    assert names(b"no-at-sign") == [(None, None, b"no-at-sign", b"MISSING_DOMAIN")]
