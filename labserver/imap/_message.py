"""ENVELOPE, BODY, BODYSTRUCTURE and BODY[section]<partial> of a raw message.

Everything is computed on the message bytes with CRLF line ends (bare LFs are turned into
CRLF first, which is what Dovecot reports as the "virtual" size), so octet counts and part
boundaries are exact. The MIME structure follows Dovecot's ``message-parser.c`` and
``message-part-data.c``:

- Content-* headers count when the part is MIME: it has Mime-Version or Content-Type, or it is
  a part of a multipart. Otherwise the part is text/plain and other Content-* are ignored.
- A multipart needs a boundary parameter. A delimiter line starts with "--boundary"; the CRLF
  before it belongs to the delimiter; preamble and epilogue belong to no part.
- message/rfc822 (and a part without Content-Type inside multipart/digest) contains a message.
- Types, subtypes, parameter names and values keep the case they were written in; a text part
  without a charset parameter gets ("charset" "us-ascii"); a missing encoding is "7bit".
- The last Date, Subject, Message-ID and In-Reply-To header wins; address headers of the same
  name are merged; Sender and Reply-To default to From.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import _responses as r
from ._address import Address, parse_addresses
from ._commands import FetchAtt, Section

DEFAULT_CHARSET = b"us-ascii"
_BARE_LF = re.compile(rb"(?<!\r)\n")


def normalize_crlf(raw: bytes) -> bytes:
    return _BARE_LF.sub(b"\r\n", raw)


@dataclass(slots=True)
class Header:
    name: bytes
    value: bytes  # the value after ":" and leading white space; folding CRLFs kept
    raw: bytes  # the whole field as written, including its final CRLF


@dataclass(slots=True)
class MimePart:
    start: int
    body_start: int
    end: int
    headers: list[Header]
    is_mime: bool = False
    content_type: bytes | None = None
    subtype: bytes = b""
    params: list[tuple[bytes, bytes]] = field(default_factory=list)
    encoding: bytes | None = None
    content_id: bytes | None = None
    description: bytes | None = None
    md5: bytes | None = None
    disposition: bytes | None = None
    disposition_params: list[tuple[bytes, bytes]] = field(default_factory=list)
    language: list[bytes] | None = None
    location: bytes | None = None
    kind: str = "text"  # "text", "multipart", "rfc822", "other"
    children: list[MimePart] = field(default_factory=list)


# --- header parsing ------------------------------------------------------------------------

def parse_headers(data: bytes, start: int, limit: int) -> tuple[list[Header], int]:
    """Header fields from ``start``; returns them and the offset where the body starts."""
    headers: list[Header] = []
    pos = start
    cur: Header | None = None
    while pos < limit:
        eol = data.find(b"\n", pos, limit)
        line_end = limit if eol < 0 else eol + 1
        line = data[pos:line_end]
        if line in (b"\r\n", b"\n"):
            return headers, line_end
        if line[:1] in (b" ", b"\t") and cur is not None:
            body = line.rstrip(b"\r\n")
            cur.value += b"\r\n" + body
            cur.raw += line
        else:
            colon = line.find(b":")
            if colon < 0:
                cur = None  # Dovecot keeps such a line as a nameless header; it has no use here
                headers.append(Header(b"", line.rstrip(b"\r\n"), line))
            else:
                name = line[:colon].rstrip(b" \t")
                value = line[colon + 1:].rstrip(b"\r\n")
                stripped = value.lstrip(b" \t")
                if not stripped and value[:1] in (b" ", b"\t"):
                    stripped = value[1:]
                cur = Header(name, stripped, line)
                headers.append(cur)
        pos = line_end
    return headers, limit


def header_values(headers: list[Header], name: bytes) -> list[bytes]:
    lname = name.lower()
    return [h.value for h in headers if h.name.lower() == lname]


# --- RFC 2045 value parsing ----------------------------------------------------------------

_TSPECIALS = frozenset(b'()<>@,;:\\"/[]?= \t\r\n')


class _Lex:
    def __init__(self, data: bytes) -> None:
        self.d = data
        self.i = 0

    def skip(self) -> bool:
        d = self.d
        while self.i < len(d):
            c = d[self.i]
            if c in b" \t\r\n":
                self.i += 1
            elif c == 0x28:
                depth = 0
                while self.i < len(d):
                    ch = d[self.i]
                    self.i += 1
                    if ch == 0x5C:
                        self.i += 1
                    elif ch == 0x28:
                        depth += 1
                    elif ch == 0x29:
                        depth -= 1
                        if depth == 0:
                            break
            else:
                return True
        return False

    def token(self) -> bytes:
        start = self.i
        d = self.d
        while self.i < len(d) and d[self.i] not in _TSPECIALS and d[self.i] > 0x20:
            self.i += 1
        return d[start:self.i]

    def quoted(self) -> bytes | None:
        out = bytearray()
        d = self.d
        self.i += 1
        while self.i < len(d):
            c = d[self.i]
            self.i += 1
            if c == 0x22:
                return bytes(out)
            if c == 0x5C and self.i < len(d):
                out.append(d[self.i])
                self.i += 1
            elif c in b"\r\n":
                continue
            else:
                out.append(c)
        return None

    def peek(self) -> int:
        return self.d[self.i] if self.i < len(self.d) else -1


def _parse_params(lx: _Lex) -> list[tuple[bytes, bytes]]:
    raw: list[tuple[bytes, bytes]] = []
    while True:
        lx.skip()
        if lx.peek() != 0x3B:
            break
        lx.i += 1
        if not lx.skip():
            break
        key = lx.token()
        if not key:
            break
        lx.skip()
        if lx.peek() != 0x3D:
            break
        lx.i += 1
        if not lx.skip():
            raw.append((key, b""))
            break
        if lx.peek() == 0x22:
            value = lx.quoted()
            if value is None:
                break
        elif lx.peek() == 0x3D:
            start = lx.i
            while lx.i < len(lx.d) and lx.d[lx.i] not in b"; \t\r\n":
                lx.i += 1
            value = lx.d[start:lx.i]
        else:
            value = lx.token()
        raw.append((key, value))
    return _rfc2231(raw)


def _rfc2231(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Join RFC 2231 continuations (name*0, name*1*, ...) the way Dovecot's rfc2231_parse()
    does: plain parameters first, in order; then each continued one as "name" or, when any
    piece was extended, "name*" with the pieces concatenated undecoded."""
    plain: list[tuple[bytes, bytes]] = []
    continued: dict[bytes, dict[int, tuple[bytes, bool]]] = {}
    order: list[bytes] = []
    for key, value in raw:
        m = re.fullmatch(rb"(.+?)\*(\d+)(\*?)", key)
        if m:
            base = m.group(1)
            if base.lower() not in continued:
                continued[base.lower()] = {}
                order.append(base)
            continued[base.lower()][int(m.group(2))] = (value, bool(m.group(3)))
        else:
            plain.append((key, value))
    for base in order:
        pieces = continued[base.lower()]
        value = b"".join(pieces[i][0] for i in sorted(pieces))
        extended = any(ext for _, ext in pieces.values())
        plain.append((base + b"*" if extended else base, value))
    return plain


def _content_type(part: MimePart, value: bytes) -> None:
    lx = _Lex(value)
    lx.skip()
    ctype = lx.token()
    ok = bool(ctype) and lx.peek() == 0x2F
    sub = b""
    if ok:
        lx.i += 1
        lx.skip()
        sub = lx.token()
        lx.skip()
        ok = bool(sub) and lx.peek() in (-1, 0x3B)
    if not ok:
        part.content_type = ctype
        part.subtype = b""
        return
    part.content_type, part.subtype = ctype, sub
    part.params = _parse_params(lx)


def _nul_to_8bit(v: bytes) -> bytes:
    return v.replace(b"\x00", b"\x80")


def _apply_content_headers(part: MimePart) -> None:
    for h in part.headers:
        name = h.name.lower()
        if not name.startswith(b"content-"):
            continue
        rest = name[8:]
        if rest == b"type" and part.content_type is None:
            _content_type(part, h.value)
        elif rest == b"transfer-encoding" and part.encoding is None:
            lx = _Lex(h.value)
            lx.skip()
            tok = lx.token()
            if tok and not lx.skip():
                part.encoding = tok
        elif rest == b"id" and part.content_id is None:
            part.content_id = _nul_to_8bit(h.value)
        elif rest == b"description" and part.description is None:
            part.description = _nul_to_8bit(h.value)
        elif rest == b"md5" and part.md5 is None:
            part.md5 = _nul_to_8bit(h.value)
        elif rest == b"location" and part.location is None:
            part.location = _nul_to_8bit(h.value)
        elif rest == b"disposition" and not part.disposition_params:
            lx = _Lex(h.value)
            lx.skip()
            tok = lx.token()
            if tok:
                part.disposition = tok
                part.disposition_params = _parse_params(lx)
        elif rest == b"language" and part.language is None:
            langs = []
            lx = _Lex(h.value)
            lx.skip()
            while True:
                start = lx.i
                while lx.i < len(lx.d) and (chr(lx.d[lx.i]).isalnum() or lx.d[lx.i] in b"-"):
                    lx.i += 1
                if lx.i == start:
                    break
                langs.append(lx.d[start:lx.i])
                lx.skip()
                if lx.peek() != 0x2C:
                    break
                lx.i += 1
                lx.skip()
            if langs:
                part.language = langs


# --- structure -----------------------------------------------------------------------------

def _param(params: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for k, v in params:
        if k.lower() == name:
            return v
    return None


def _parse_part(data: bytes, start: int, limit: int, in_multipart: bool,
                parent_digest: bool) -> MimePart:
    headers, body_start = parse_headers(data, start, limit)
    part = MimePart(start, body_start, limit, headers)
    has_ct = any(h.name.lower() == b"content-type" for h in headers)
    part.is_mime = in_multipart or has_ct or any(
        h.name.lower() == b"mime-version" for h in headers)
    if part.is_mime:
        _apply_content_headers(part)
    ctype = (part.content_type or b"").lower()
    sub = part.subtype.lower()
    boundary = _param(part.params, b"boundary")
    if ctype == b"multipart" and boundary:
        part.kind = "multipart"
        part.children = _split_multipart(data, body_start, limit, boundary, sub == b"digest")
    elif (ctype == b"message" and sub == b"rfc822") or \
            (part.content_type is None and parent_digest):
        part.kind = "rfc822"
        part.children = [_parse_part(data, body_start, limit, False, False)]
    elif part.content_type is None or ctype == b"text":
        part.kind = "text"
    else:
        part.kind = "other"
    return part


def _split_multipart(data: bytes, body_start: int, limit: int, boundary: bytes,
                     digest: bool) -> list[MimePart]:
    delim = b"--" + boundary
    # delimiter lines: at the start of the body or after a CRLF
    positions: list[tuple[int, int, bool]] = []  # (part end, next part start, is close)
    pos = body_start
    while pos < limit:
        if data.startswith(delim, pos) and pos + len(delim) <= limit:
            line_end = data.find(b"\n", pos, limit)
            nxt = limit if line_end < 0 else line_end + 1
            close = data.startswith(b"--", pos + len(delim))
            end = pos - 2 if pos - 2 >= body_start and data[pos - 2:pos] == b"\r\n" else pos
            positions.append((end, nxt, close))
            if close:
                break
            pos = nxt
            continue
        eol = data.find(b"\n", pos, limit)
        if eol < 0:
            break
        pos = eol + 1
    children = []
    for i, (_, start, close) in enumerate(positions):
        if close:
            break
        end = positions[i + 1][0] if i + 1 < len(positions) else limit
        end = max(end, start)
        children.append(_parse_part(data, start, end, True, digest))
    return children


# --- writing -------------------------------------------------------------------------------

def _params(params: list[tuple[bytes, bytes]], default_charset: bool) -> bytes:
    if not params and not default_charset:
        return b"NIL"
    items = []
    seen = False
    for k, v in params:
        if k.lower() == b"charset":
            seen = True
        items.append(r.string(k) + b" " + r.string(v))
    if default_charset and not seen:
        items.append(b'"charset" "' + DEFAULT_CHARSET + b'"')
    return b"(" + b" ".join(items) + b")"


def _ext_common(part: MimePart) -> bytes:
    if part.disposition is None:
        disp = b"NIL"
    else:
        disp = b"(" + r.string(part.disposition) + b" " + \
            _params(part.disposition_params, False) + b")"
    lang = b"NIL" if not part.language else \
        b"(" + b" ".join(r.string(x) for x in part.language) + b")"
    return b" " + disp + b" " + lang + b" " + r.nstring_nolf(part.location)


def _address_list(addrs: list[Address] | None) -> bytes:
    if not addrs:
        return b"NIL"
    out = []
    for a in addrs:
        name = b"NIL" if a.name is None else r.string_for_humans(a.name)
        out.append(b"(" + name + b" " + r.nstring(a.route) + b" " + r.nstring(a.mailbox)
                   + b" " + r.nstring(a.domain) + b")")
    return b"(" + b"".join(out) + b")"


def envelope(headers: list[Header]) -> bytes:
    """The ENVELOPE value (without the surrounding parentheses)."""
    strings: dict[bytes, bytes] = {}
    addrs: dict[bytes, list[Address]] = {}
    for h in headers:
        name = h.name.lower()
        if name in (b"date", b"subject", b"message-id", b"in-reply-to"):
            strings[name] = _nul_to_8bit(h.value)
        elif name in (b"from", b"sender", b"reply-to", b"to", b"cc", b"bcc"):
            addrs.setdefault(name, []).extend(parse_addresses(h.value))
    frm = addrs.get(b"from") or None
    subject = strings.get(b"subject")
    parts = [
        r.nstring_nolf(strings.get(b"date")),
        b"NIL" if subject is None else r.string_for_humans(subject),
        _address_list(frm),
        _address_list(addrs.get(b"sender") or frm),
        _address_list(addrs.get(b"reply-to") or frm),
        _address_list(addrs.get(b"to")),
        _address_list(addrs.get(b"cc")),
        _address_list(addrs.get(b"bcc")),
        r.nstring_nolf(strings.get(b"in-reply-to")),
        r.nstring_nolf(strings.get(b"message-id")),
    ]
    return b" ".join(parts)


def _write(data: bytes, part: MimePart, extended: bool) -> bytes:
    if part.kind == "multipart":
        out = b"".join(b"(" + _write(data, ch, extended) + b")" for ch in part.children)
        if not part.children:
            out = (b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0'
                   + (b" NIL NIL NIL NIL)" if extended else b")"))
        out += b" " + r.string(part.subtype)
        if extended:
            out += b" " + _params(part.params, False) + _ext_common(part)
        return out
    text = part.kind == "text"
    if part.kind == "rfc822":
        out = b'"message" "rfc822"'
    elif part.content_type is None:
        out = b'"text" "plain"'
    else:
        out = r.string(part.content_type) + b" " + r.string(part.subtype)
    out += b" " + _params(part.params, text)
    out += b" " + r.nstring_nolf(part.content_id) + b" " + r.nstring_nolf(part.description)
    out += b" " + (r.string(part.encoding) if part.encoding is not None else b'"7bit"')
    out += b" %d" % (part.end - part.body_start)
    lines = data.count(b"\n", part.body_start, part.end)
    if text:
        out += b" %d" % lines
    elif part.kind == "rfc822":
        child = part.children[0]
        out += b" (" + envelope(child.headers) + b") (" + _write(data, child, extended) + b")"
        out += b" %d" % lines
    if extended:
        out += b" " + r.nstring_nolf(part.md5) + _ext_common(part)
    return out


# --- the public object ---------------------------------------------------------------------

# ENVELOPE values by the header block they were computed from (ParsedMessage.envelope).
ENVELOPE_CACHE_SIZE = 4096
_ENVELOPES: dict[bytes, bytes] = {}


class ParsedMessage:
    """A message, parsed once; all values are bytes ready to put in a FETCH response."""

    def __init__(self, raw: bytes) -> None:
        self.data = normalize_crlf(raw)
        self.root = _parse_part(self.data, 0, len(self.data), False, False)

    @property
    def size(self) -> int:
        """RFC822.SIZE: octets with CRLF line ends."""
        return len(self.data)

    @property
    def headers(self) -> list[Header]:
        return self.root.headers

    def envelope(self) -> bytes:
        # The same headers give the same ENVELOPE: clients fetch it for the same
        # messages in session after session, and parsing addresses is the slow part.
        key = self.data[:self.root.body_start]
        value = _ENVELOPES.get(key)
        if value is None:
            value = b"(" + envelope(self.root.headers) + b")"
            if len(_ENVELOPES) >= ENVELOPE_CACHE_SIZE:
                _ENVELOPES.clear()
            _ENVELOPES[key] = value
        return value

    def body(self) -> bytes:
        return b"(" + _write(self.data, self.root, False) + b")"

    def bodystructure(self) -> bytes:
        return b"(" + _write(self.data, self.root, True) + b")"

    # sections

    def header_bytes(self) -> bytes:
        return self.data[self.root.start:self.root.body_start]

    def text_bytes(self) -> bytes:
        return self.data[self.root.body_start:]

    def _find(self, path: tuple[int, ...]) -> MimePart | None:
        # A number picks a child of a multipart; a part that is not multipart answers to
        # "1" once (that is its own body); a message/rfc822 part is entered before the next
        # number is applied. Dovecot takes 0 for the first part of a multipart.
        part = self.root
        stayed = False
        for n in path:
            if part.kind == "rfc822" and part is not self.root:
                part = part.children[0]
                stayed = False
            if part.kind == "multipart":
                if n > len(part.children) or not part.children:
                    return None
                part = part.children[max(n, 1) - 1]
                stayed = False
            elif n == 1 and not stayed:
                stayed = True
            else:
                return None
        return part

    def section(self, section: Section) -> bytes | None:
        """The octets of BODY[section] (before any <partial>); None if there is no such part."""
        part = self._find(section.part)
        if part is None:
            return None
        d = self.data
        text = section.text
        if text == "MIME":
            return d[part.start:part.body_start]
        if text is None:
            if not section.part:
                return d
            if part.kind == "multipart" and part is not self.root:
                return d[part.body_start:part.end]
            return d[part.body_start:part.end]
        # HEADER, HEADER.FIELDS[.NOT], TEXT apply to a message: the root or message/rfc822
        if section.part:
            if part.kind != "rfc822":
                return None
            msg = part.children[0]
        else:
            msg = self.root
        if text == "TEXT":
            return d[msg.body_start:msg.end]
        if text == "HEADER":
            return d[msg.start:msg.body_start]
        wanted = {f.lower() for f in section.fields}
        keep = text == "HEADER.FIELDS"
        out = b"".join(h.raw for h in msg.headers
                       if h.name and (h.name.lower() in wanted) == keep)
        if keep:
            return out + b"\r\n"
        # HEADER.FIELDS.NOT keeps the blank line that ends the header only if there is one
        has_blank = d[msg.start:msg.body_start].endswith(b"\r\n\r\n") or \
            d[msg.start:msg.body_start] == b"\r\n"
        return out + (b"\r\n" if has_blank else b"")

    def fetch_body_section(self, att: FetchAtt) -> bytes:
        """The FETCH value for a BODY[...] item: a literal (``{n}\\r\\n...``)."""
        assert att.section is not None
        value = self.section(att.section) or b""
        if att.partial is not None:
            start, length = att.partial
            value = value[start:] if length is None else value[start:start + length]
        return r.literal(value)

    def rfc822_header(self) -> bytes:
        return self.header_bytes()

    def rfc822_text(self) -> bytes:
        return self.text_bytes()
