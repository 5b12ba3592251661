"""RFC 5322 address lists as Dovecot's ``message-address.c`` reads them for ENVELOPE.

Display names stay as written (encoded words are not decoded), quoted strings lose their
quotes and escapes, a comment after an addr-spec becomes the name, groups become
``(NIL NIL "name" NIL) ... (NIL NIL NIL NIL)``, and what is missing is filled in as
Dovecot's ``MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING`` does: "MISSING_MAILBOX",
"MISSING_DOMAIN", "SYNTAX_ERROR", "INVALID_ROUTE".
"""

from __future__ import annotations

from dataclasses import dataclass

_ATEXT_SPECIAL = frozenset(b"!#$%&'*+-/=?^_`{|}~")


def _is_atext(b: int) -> bool:
    return (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A
            or b in _ATEXT_SPECIAL or b >= 0x80)


@dataclass(frozen=True, slots=True)
class Address:
    """One ENVELOPE address: (name route mailbox host); a group start has only ``mailbox``,
    a group end is all None."""

    name: bytes | None
    route: bytes | None
    mailbox: bytes | None
    domain: bytes | None


class _P:
    def __init__(self, data: bytes) -> None:
        self.d = data
        self.i = 0
        self.last_comment = bytearray()

    @property
    def more(self) -> bool:
        return self.i < len(self.d)

    def peek(self) -> int:
        return self.d[self.i] if self.i < len(self.d) else -1

    def skip_lwsp(self) -> int:
        """Skip white space and comments; 1 if data follows, 0 at the end, -1 if broken."""
        d = self.d
        while self.i < len(d):
            c = d[self.i]
            if c in b" \t\r\n":
                self.i += 1
            elif c == 0x28:
                if not self._comment():
                    return -1
            else:
                return 1
        return 0

    def _comment(self) -> bool:
        self.last_comment.clear()
        depth = 0
        d = self.d
        while self.i < len(d):
            c = d[self.i]
            self.i += 1
            if c == 0x28:
                depth += 1
                if depth > 1:
                    self.last_comment.append(c)
            elif c == 0x29:
                depth -= 1
                if depth == 0:
                    return True
                self.last_comment.append(c)
            elif c == 0x5C and self.i < len(d):
                self.last_comment.append(d[self.i])
                self.i += 1
            elif c not in b"\r\n":
                self.last_comment.append(c)
        return False

    def atom(self, out: bytearray, dots: bool = False) -> bool:
        start = self.i
        d = self.d
        while self.i < len(d) and (_is_atext(d[self.i]) or (dots and d[self.i] == 0x2E)):
            self.i += 1
        out += d[start:self.i]
        return self.i > start

    def quoted(self, out: bytearray) -> int:
        d = self.d
        self.i += 1  # opening quote
        while self.i < len(d):
            c = d[self.i]
            self.i += 1
            if c == 0x22:
                return self.skip_lwsp()
            if c == 0x5C and self.i < len(d):
                out.append(d[self.i])
                self.i += 1
            elif c in b"\r\n":
                continue
            else:
                out.append(c)
        return -1

    def phrase(self, out: bytearray) -> int:
        """Words (atoms, dots, quoted strings) joined by single spaces."""
        ret = self.skip_lwsp()
        if ret <= 0:
            return ret
        first = True
        while self.more:
            c = self.peek()
            if c == 0x22:
                if not first:
                    out.append(0x20)
                ret = self.quoted(out)
            elif _is_atext(c) or c == 0x2E:
                if not first:
                    out.append(0x20)
                self.atom(out, dots=True)
                ret = self.skip_lwsp()
            else:
                break
            first = False
            if ret <= 0:
                return ret
        return 1 if self.more else 0

    def dot_atom(self, out: bytearray) -> int:
        if not self.atom(out):
            return -1
        while True:
            ret = self.skip_lwsp()
            if ret <= 0 or self.peek() != 0x2E:
                return ret
            self.i += 1
            out.append(0x2E)
            ret = self.skip_lwsp()
            if ret <= 0 or not self.atom(out):
                return -1


class _AddressParser:
    def __init__(self, data: bytes) -> None:
        self.p = _P(data)
        self.out: list[Address] = []
        self._reset()

    def _reset(self) -> None:
        self.name: bytes | None = None
        self.route: bytes | None = None
        self.mailbox: bytes | None = None
        self.domain: bytes | None = None
        self.invalid = False

    def _add(self) -> None:
        self.out.append(Address(self.name, self.route, self.mailbox, self.domain))
        self._reset()

    def _add_fixed(self) -> None:
        if self.mailbox is None:
            self.mailbox = b"MISSING_MAILBOX"
        if not self.domain:
            self.domain = b"MISSING_DOMAIN"
        self._add()

    def _local_part(self) -> int:
        p = self.p
        buf = bytearray()
        if p.peek() == 0x22:
            ret = p.quoted(buf)
        else:
            ret = p.dot_atom(buf)
        self.mailbox = bytes(buf) if buf or ret >= 0 else None
        return ret

    def _domain(self) -> int:
        p = self.p
        p.i += 1  # "@"
        ret = p.skip_lwsp()
        if ret <= 0:
            return -1
        buf = bytearray()
        if p.peek() == 0x5B:
            end = p.d.find(b"]", p.i)
            if end < 0:
                return -1
            buf += p.d[p.i:end + 1]
            p.i = end + 1
            ret = p.skip_lwsp()
        else:
            ret = p.dot_atom(buf)
        self.domain = bytes(buf)
        return ret

    def _angle(self) -> int:
        p = self.p
        p.i += 1  # "<"
        if p.skip_lwsp() <= 0:
            return -1
        if p.peek() == 0x40:
            start = p.i
            while p.more and p.peek() != 0x3A:
                if p.peek() == 0x3E:
                    break
                p.i += 1
            if p.peek() != 0x3A:
                self.route = b"INVALID_ROUTE"
                return -1
            self.route = bytes(p.d[start:p.i]).replace(b" ", b"")
            p.i += 1
            if p.skip_lwsp() <= 0:
                return -1
        if p.peek() != 0x3E:
            if self._local_part() <= 0:
                return -1
            if p.peek() == 0x40 and self._domain() <= 0:
                return -1
        if p.peek() != 0x3E:
            return -1
        p.i += 1
        return p.skip_lwsp()

    def _name_addr(self) -> int:
        p = self.p
        buf = bytearray()
        if p.phrase(buf) <= 0 or p.peek() != 0x3C:
            return -1
        self.name = bytes(buf) or None
        if self._angle() < 0:
            self.domain = b"SYNTAX_ERROR"
            self.invalid = True
        return 1 if p.more else 0

    def _addr_spec(self) -> int:
        p = self.p
        p.last_comment.clear()
        quoted = p.peek() == 0x22
        ret = self._local_part()
        if ret <= 0:
            self.invalid = True
        ret2 = -2
        if ret != 0 and p.more and p.peek() == 0x40:
            ret2 = self._domain()
            if ret2 <= 0:
                ret = ret2
        if p.last_comment:
            self.name = bytes(p.last_comment)
        elif ret2 == -2:
            buf = bytearray((self.mailbox or b"") + b" ")
            before = len(buf)
            p.phrase(buf)
            if len(buf) != before:
                self.mailbox = None
                self.name = bytes(buf)
            elif not quoted:
                self.domain = b""
            self.invalid = True
            ret = -1
        return ret

    def _mailbox(self) -> int:
        start = self.p.i
        ret = self._name_addr()
        if ret < 0:
            self.p.i = start
            self.name = self.route = self.mailbox = self.domain = None
            ret = self._addr_spec()
            if self.invalid and self.name is None and self.mailbox is not None \
                    and self.domain is None:
                self.name, self.mailbox = self.mailbox, None
        self._add_fixed()
        return ret

    def _group(self) -> int:
        p = self.p
        buf = bytearray()
        if p.phrase(buf) <= 0 or p.peek() != 0x3A:
            return -1
        p.i += 1
        ret = p.skip_lwsp()
        self.mailbox = bytes(buf)
        self._add()
        if ret > 0 and p.peek() != 0x3B:
            while True:
                self._mailbox()
                if not p.more or p.peek() != 0x2C:
                    break
                p.i += 1
                if p.skip_lwsp() <= 0:
                    ret = -1
                    break
        if ret >= 0:
            if not p.more or p.peek() != 0x3B:
                ret = -1
            else:
                p.i += 1
                ret = p.skip_lwsp()
        self._add()
        return 0 if ret == 0 else 1

    def parse(self) -> list[Address]:
        p = self.p
        if p.skip_lwsp() <= 0:
            return []
        while True:
            start = p.i
            ret = self._group()
            if ret < 0:
                p.i = start
                self._reset()
                ret = self._mailbox()
            if ret == 0:
                break
            if not p.more or p.peek() != 0x2C:
                break
            p.i += 1
            ret = p.skip_lwsp()
            if ret <= 0:
                if ret < 0:
                    self._add_fixed()
                break
        return self.out


def parse_addresses(value: bytes) -> list[Address]:
    """The addresses of one header value (folding line ends allowed)."""
    return _AddressParser(value).parse()
