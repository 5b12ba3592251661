"""The grammar of each IMAP command's arguments (RFC 3501 §9 and the extensions).

The lexer (``_lexer``) turns a line into tokens; here each command's tokens become its event
dataclass, or a ``CommandError`` carrying Dovecot's client error text ("Invalid arguments.",
"Invalid messageset.", "Unknown parameter: FOO." ...). Parsers of values have one shape,
``parse_x(bytes) -> value`` raising ``ValueError``; command builders take
``(tag, uid, args)``.

``COMMANDS`` maps each command name to ``(arg_limit, builder)``. ``arg_limit`` mirrors how
many arguments Dovecot reads before it acts: ``None`` means the command reads none (the rest
of the line is skipped unseen, so ``NOOP )`` is fine), a number means that many top-level
arguments are read and anything after them is ignored, 0 means the whole line is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

from . import _commands as c
from ._lexer import Atom, ListArg, String, Token, is_nil

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUM = {m.upper(): i + 1 for i, m in enumerate(MONTHS)}
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_SYSTEM_FLAG_BY_UPPER = {f.upper(): f for f in SYSTEM_FLAGS}


class CommandError(Exception):
    """The arguments are wrong; ``text`` is Dovecot's reason, e.g. "Invalid arguments."."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text if text.endswith(".") else text + "."


# --- value parsers -------------------------------------------------------------------------

def astring(tok: Token | None) -> bytes | None:
    """The value of an atom or string argument (RFC 3501 astring), else None."""
    if isinstance(tok, Atom | String):
        return tok.value
    return None


def parse_seqset(raw: bytes) -> c.SequenceSet:
    """RFC 3501 sequence-set: ``1``, ``*``, ``2:4``, ``1,3:*``. 0 and empty parts are invalid."""
    ranges = []
    for part in raw.split(b","):
        ends = part.split(b":")
        if len(ends) > 2:
            raise ValueError("too many ':'")
        nums: list[int | None] = []
        for e in ends:
            if e == b"*":
                nums.append(None)
            elif e.isdigit() and e.isascii() and not e.startswith(b"0"):
                n = int(e)
                if n > 0xFFFFFFFF:
                    raise ValueError("number too large")
                nums.append(n)
            else:
                raise ValueError(f"bad number {e!r}")
        ranges.append((nums[0], nums[-1]))
    return c.SequenceSet(tuple(ranges))


_DATE_RE = re.compile(rb"^(\d{1,2})-([A-Za-z]{3})-(\d{4})$")
_DATETIME_RE = re.compile(
    rb"^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")


def parse_date(raw: bytes) -> dt.date:
    """RFC 3501 date (``1-Feb-2024``), as for SEARCH SINCE; month names in any case.

    Dovecot takes an out-of-range day such as 31-Feb as the date it rolls over to.
    """
    m = _DATE_RE.match(raw)
    if not m or m.group(2).upper().decode() not in _MONTH_NUM:
        raise ValueError("invalid date")
    day, year = int(m.group(1)), int(m.group(3))
    if not 1 <= day <= 31 or year < 1:
        raise ValueError("invalid date")
    first = dt.date(year, _MONTH_NUM[m.group(2).upper().decode()], 1)
    return first + dt.timedelta(days=day - 1)


def parse_datetime(raw: bytes) -> dt.datetime:
    """RFC 3501 date-time: ``"17-Jul-1996 02:44:25 -0700"`` (day may be space-padded)."""
    m = _DATETIME_RE.match(raw)
    if not m or m.group(2).upper().decode() not in _MONTH_NUM:
        raise ValueError("invalid date-time")
    day, year = int(m.group(1)), int(m.group(3))
    hh, mm, ss = int(m.group(4)), int(m.group(5)), int(m.group(6))
    tzh, tzm = int(m.group(8)), int(m.group(9))
    if tzm > 59:
        raise ValueError("invalid zone")
    off = dt.timedelta(hours=tzh, minutes=tzm) * (-1 if m.group(7) == b"-" else 1)
    return dt.datetime(year, _MONTH_NUM[m.group(2).upper().decode()], day, hh, mm, ss,
                       tzinfo=dt.timezone(off))


def parse_flags(items: Sequence[Token]) -> tuple[str, ...]:
    """Flag list items: system flags in their canonical spelling, keywords as given."""
    out: list[str] = []
    for tok in items:
        if not isinstance(tok, Atom):
            raise CommandError("Flags list contains non-atoms.")
        text = tok.value.decode("latin-1")
        if text.startswith("\\"):
            canon = _SYSTEM_FLAG_BY_UPPER.get(text.upper())
            if canon is None:
                raise CommandError("Invalid system flag " + text.upper())
            text = canon
        if text not in out:
            out.append(text)
    return tuple(out)


# --- builders ------------------------------------------------------------------------------

Builder = Callable[[bytes, bool, list], c.Command]


def _need(args: list, n: int) -> None:
    if len(args) < n:
        raise CommandError("Missing arguments.")


def _strings(args: list, n: int) -> list[bytes]:
    """Dovecot's client_read_string_args(): n astrings, "Missing arguments." if fewer."""
    _need(args, n)
    out = []
    for tok in args[:n]:
        v = astring(tok)
        if v is None:
            raise CommandError("Invalid arguments.")
        out.append(v)
    return out


def _seqset(raw: bytes, uid: bool) -> c.SequenceSet:
    try:
        return parse_seqset(raw)
    except ValueError:
        raise CommandError("Invalid uidset." if uid else "Invalid messageset.") from None


def _simple(cls) -> Builder:
    return lambda tag, uid, args: cls(tag)


def _one_mailbox(cls) -> Builder:
    return lambda tag, uid, args: cls(tag, _strings(args, 1)[0])


def _login(tag: bytes, uid: bool, args: list) -> c.Command:
    if len(args) != 2:
        raise CommandError("Invalid arguments." if len(args) > 2 else "Missing arguments.")
    user, password = (astring(a) for a in args)
    if user is None or password is None:
        raise CommandError("Invalid arguments.")
    return c.Login(tag, user, password)


def _authenticate(tag: bytes, uid: bool, args: list) -> c.Command:
    if not args or not isinstance(args[0], Atom) or len(args) > 2:
        raise CommandError("Invalid arguments.")
    ir = None
    if len(args) == 2:
        ir = astring(args[1])
        if ir is None:
            raise CommandError("Invalid arguments.")
    return c.Authenticate(tag, args[0].upper, ir)


def _id(tag: bytes, uid: bool, args: list) -> c.Command:
    # Dovecot answers ID whatever the parameters are; keep them when they are well formed.
    if args and isinstance(args[0], ListArg):
        items = args[0].items
        if len(items) % 2 == 0 and all(isinstance(t, Atom | String) for t in items[::2]) \
                and all(isinstance(t, Atom | String) for t in items[1::2]):
            pairs = tuple((items[i].value, None if is_nil(items[i + 1]) else items[i + 1].value)
                          for i in range(0, len(items), 2))
            return c.Id(tag, pairs)
    return c.Id(tag, None)


def _enable(tag: bytes, uid: bool, args: list) -> c.Command:
    caps = []
    for tok in args:
        if not isinstance(tok, Atom):
            raise CommandError("Invalid arguments.")
        caps.append(tok.upper)
    return c.Enable(tag, tuple(caps))


def _select(readonly: bool) -> Builder:
    def build(tag: bytes, uid: bool, args: list) -> c.Command:
        mailbox = astring(args[0]) if args else None
        if mailbox is None:
            raise CommandError("Invalid arguments.")
        condstore = False
        if len(args) > 1:
            if not isinstance(args[1], ListArg):
                raise CommandError("Invalid arguments.")
            for tok in args[1].items:
                if isinstance(tok, Atom) and tok.upper == "CONDSTORE":
                    condstore = True
                else:
                    raise CommandError("Unknown FETCH modifier.")
        return c.Select(tag, mailbox, readonly=readonly, condstore=condstore)
    return build


def _rename(tag: bytes, uid: bool, args: list) -> c.Command:
    old, new = _strings(args, 2)
    return c.Rename(tag, old, new)


def _list(tag: bytes, uid: bool, args: list) -> c.Command:
    selection: list[str] = []
    if args and isinstance(args[0], ListArg):
        for tok in args[0].items:
            if not isinstance(tok, Atom):
                raise CommandError("List options contains non-atoms.")
            selection.append(tok.upper)
        args = args[1:]
    ref = astring(args[0]) if args else None
    if ref is None:
        raise CommandError("Invalid reference.")
    patterns: list[bytes] = []
    if len(args) > 1 and isinstance(args[1], ListArg):
        for tok in args[1].items:
            v = astring(tok)
            if v is None:
                raise CommandError("Invalid pattern list.")
            patterns.append(v)
    else:
        pat = astring(args[1]) if len(args) > 1 else None
        if pat is None:
            raise CommandError("Invalid pattern.")
        patterns.append(pat)
    rest = args[2:]
    return_opts: list[str] = []
    if len(rest) >= 2 and isinstance(rest[0], Atom) and rest[0].upper == "RETURN" \
            and isinstance(rest[1], ListArg):
        for tok in rest[1].items:
            if isinstance(tok, Atom):
                return_opts.append(tok.upper)
            elif isinstance(tok, ListArg):
                continue  # STATUS (items): kept out of this small model
            else:
                raise CommandError("Invalid return options.")
        rest = rest[2:]
    if rest:
        raise CommandError("Extra arguments.")
    return c.List(tag, ref, tuple(patterns), tuple(selection), tuple(return_opts))


def _lsub(tag: bytes, uid: bool, args: list) -> c.Command:
    ref = astring(args[0]) if args else None
    if ref is None:
        raise CommandError("Invalid reference.")
    pat = astring(args[1]) if len(args) > 1 else None
    if pat is None:
        raise CommandError("Invalid pattern.")
    if len(args) > 2:
        raise CommandError("Extra arguments.")
    return c.Lsub(tag, ref, pat)


STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ",
                "SIZE")


def _status(tag: bytes, uid: bool, args: list) -> c.Command:
    _need(args, 2)
    mailbox = astring(args[0])
    if mailbox is None or not isinstance(args[1], ListArg):
        raise CommandError("Invalid arguments.")
    if not args[1].items:
        raise CommandError("Empty status list.")
    items = []
    for tok in args[1].items:
        name = tok.upper if isinstance(tok, Atom) else None
        if name is None:
            raise CommandError("Status list contains non-atoms.")
        if name not in STATUS_ITEMS:
            raise CommandError("Invalid status item " + name)
        items.append(name)
    return c.Status(tag, mailbox, tuple(items))


def append_prefix(tag: bytes, args: list) -> c.Append:
    """Mailbox, flags and date of APPEND, as far as they were given before the message."""
    if not args:
        raise CommandError("Missing arguments.")
    mailbox = astring(args[0])
    if mailbox is None:
        raise CommandError("Invalid arguments.")
    rest = list(args[1:])
    flags: tuple[str, ...] = ()
    date = None
    if rest and isinstance(rest[0], ListArg):
        flag_list = rest.pop(0)
        if rest and not isinstance(rest[0], ListArg):
            flags = parse_flags(flag_list.items)
        else:
            flags = parse_flags(flag_list.items)
    if rest and isinstance(rest[0], String) and not rest[0].literal:
        raw = rest.pop(0).value
        try:
            date = parse_datetime(raw)
        except ValueError:
            raise CommandError("Invalid internal date.") from None
    if rest:
        raise CommandError("Invalid arguments.")
    return c.Append(tag, mailbox, flags, date)


def _append_without_message(tag: bytes, uid: bool, args: list) -> c.Command:
    # APPEND reached the line end without a message literal.
    if len(args) <= 1:
        if not args:
            raise CommandError("Missing arguments.")
        if astring(args[0]) is None:
            raise CommandError("Invalid arguments.")
        raise CommandError("Missing message size.")
    append_prefix(tag, args)
    raise CommandError("Invalid arguments.")


def _expunge(tag: bytes, uid: bool, args: list) -> c.Command:
    if not uid:
        return c.Expunge(tag)
    _need(args, 1)
    if not isinstance(args[0], Atom):
        raise CommandError("Invalid arguments.")
    return c.Expunge(tag, _seqset(args[0].value, True))


def _copy_like(cls) -> Builder:
    def build(tag: bytes, uid: bool, args: list) -> c.Command:
        raw, mailbox = _strings(args, 2)
        return cls(tag, _seqset(raw, uid), mailbox, uid)
    return build


def _store(tag: bytes, uid: bool, args: list) -> c.Command:
    if len(args) < 2 or not isinstance(args[0], Atom) or not isinstance(args[1], Atom):
        raise CommandError("Invalid arguments.")
    seqset = _seqset(args[0].value, uid)
    item = args[1].upper
    mode = ""
    if item[:1] in "+-":
        mode, item = item[0], item[1:]
    silent = item.endswith(".SILENT")
    if silent:
        item = item[:-7]
    if item != "FLAGS":
        raise CommandError("Invalid arguments.")
    values = args[2:]
    if len(values) == 1 and isinstance(values[0], ListArg):
        flags = parse_flags(values[0].items)
    else:
        flags = parse_flags(values)
    return c.Store(tag, seqset, mode, silent, flags, uid)


# FETCH ------------------------------------------------------------------------------------

_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SIMPLE_ATTS = ("FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY",
                "BODYSTRUCTURE", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "MODSEQ")


def parse_section(spec: str, fields: ListArg | None = None) -> c.Section:
    """The text between "[" and "]" (without any field list); ValueError if invalid."""
    parts: list[int] = []
    rest = spec
    while rest and rest[0].isdigit():
        num, _, after = rest.partition(".")
        if not num.isdigit() or num.startswith("0"):
            # Dovecot accepts BODY[0]: a part number 0 means "no such part".
            if num != "0":
                raise ValueError("bad part number")
        parts.append(int(num))
        rest = after
        if not _:
            break
    text = rest.upper() or None
    if text not in (None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"):
        raise ValueError("bad section text")
    if text == "MIME" and not parts:
        raise ValueError("MIME needs a part")
    if spec and not text and spec.endswith("."):
        raise ValueError("trailing dot")
    names: tuple[bytes, ...] = ()
    quoted: tuple[bool, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        if fields is None or not fields.items:
            raise ValueError("missing field list")
        vals = []
        for tok in fields.items:
            v = astring(tok)
            if v is None:
                raise CommandError("Invalid BODY[..] parameter: Header list contains "
                                   "non-strings")
            vals.append(v)
        names = tuple(vals)
        quoted = tuple(isinstance(t, String) for t in fields.items)
    elif fields is not None:
        raise ValueError("unexpected field list")
    return c.Section(tuple(parts), text, names, quoted)


def _partial(p: str, prefix: str) -> tuple[int, int | None] | None:
    if p == "":
        return None
    if not p.startswith("<"):
        raise CommandError(prefix + "Unexpected data after ']'")
    m = re.match(r"<(\d*)(?:\.(\d*))?(.*)$", p)
    assert m is not None
    if not m.group(1) or int(m.group(1)) >= 1 << 63:
        raise CommandError(prefix + "Too big partial start")
    if m.group(2) is not None and (not m.group(2) or int(m.group(2)) >= 1 << 63):
        raise CommandError(prefix + "Too big partial end")
    if not m.group(3).startswith(">"):
        raise CommandError(prefix + "Missing '>' in partial")
    if m.group(3) != ">":
        raise CommandError(prefix + "Unexpected data after '>'")
    return int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else None)


def _body_section(name: str, toks: list, i: int) -> tuple[c.FetchAtt, int]:
    """Parse BODY[...]/BODY.PEEK[...]/BINARY[...] starting at atom ``toks[i]``."""
    upper = name
    kind = "BINARY" if upper.startswith("BINARY") else "BODY"
    prefix = f"Invalid {kind}[..] parameter: "
    head = upper[len(kind):]
    peek = head.startswith(".PEEK")
    if peek:
        head = head[5:]
    size_only = False
    if kind == "BINARY" and head.startswith(".SIZE"):
        size_only, head = True, head[5:]
    if not head.startswith("["):
        raise CommandError(prefix + "Missing '['")
    raw_atom = toks[i].value.decode("latin-1")
    spec_start = raw_atom.index("[") + 1
    fields = None
    if i + 1 < len(toks) and isinstance(toks[i + 1], ListArg):
        fields = toks[i + 1]
        close = toks[i + 2] if i + 2 < len(toks) else None
        if not isinstance(close, Atom) or not close.value.startswith(b"]"):
            raise CommandError(prefix + "Missing ']'")
        spec = raw_atom[spec_start:]
        after = close.value.decode("latin-1")[1:]
        i += 3
    else:
        end = raw_atom.find("]", spec_start)
        if end < 0:
            raise CommandError(prefix + "Missing ']'")
        spec = raw_atom[spec_start:end]
        after = raw_atom[end + 1:]
        i += 1
    try:
        section = parse_section(spec, fields)
    except ValueError:
        raise CommandError(f"Invalid {kind}[..] section") from None
    partial = _partial(after, prefix)
    att_name = "BINARY.SIZE[]" if size_only else f"{kind}[]"
    return c.FetchAtt(att_name, section, partial, peek), i


def _fetch_att(toks: list, i: int, top_level: bool) -> tuple[list[c.FetchAtt], str | None, int]:
    tok = toks[i]
    if not isinstance(tok, Atom):
        raise CommandError("Invalid arguments.")
    upper = tok.upper
    if top_level and upper in _MACROS:
        return [c.FetchAtt(n) for n in _MACROS[upper]], upper, i + 1
    if upper in _SIMPLE_ATTS:
        return [c.FetchAtt(upper)], None, i + 1
    if upper.startswith(("BODY[", "BODY.PEEK[", "BINARY[", "BINARY.PEEK[", "BINARY.SIZE[")):
        att, i = _body_section(upper, toks, i)
        return [att], None, i
    if upper.startswith(("BODY.", "BINARY")):
        kind = "BINARY" if upper.startswith("BINARY") else "BODY"
        raise CommandError(f"Invalid {kind}[..] parameter: Missing '['")
    raise CommandError("Unknown parameter: " + upper)


def parse_fetch_atts(toks: Sequence[Token], top_level: bool) -> tuple[tuple[c.FetchAtt, ...],
                                                                        str | None]:
    """Fetch items: one item (or macro) when ``top_level``, else the items of a list."""
    toks = list(toks)
    items: list[c.FetchAtt] = []
    macro = None
    i = 0
    while i < len(toks):
        atts, macro, i = _fetch_att(toks, i, top_level)
        items.extend(atts)
        if top_level and i < len(toks):
            # Without parentheses Dovecot reads one item and then wants the line to end.
            raise CommandError("Invalid arguments.")
    return tuple(items), macro


def _fetch(tag: bytes, uid: bool, args: list) -> c.Command:
    if len(args) < 2 or not isinstance(args[0], Atom):
        raise CommandError("Invalid arguments.")
    seqset = _seqset(args[0].value, uid)
    if isinstance(args[1], ListArg):
        changedsince = None
        if len(args) > 2:
            if not isinstance(args[2], ListArg) or len(args) > 3:
                raise CommandError("Invalid arguments.")
            changedsince = _fetch_modifiers(args[2].items)
        if not args[1].items:
            raise CommandError("FETCH list is empty.")
        items, macro = parse_fetch_atts(args[1].items, False)
    else:
        changedsince = None
        items, macro = parse_fetch_atts(args[1:], True)
    if uid and not any(a.name == "UID" for a in items):
        items = (c.FetchAtt("UID"), *items)
    return c.Fetch(tag, seqset, items, uid, macro, changedsince)


def _fetch_modifiers(toks: Sequence[Token]) -> int | None:
    """RFC 7162 CHANGEDSINCE, the one FETCH modifier this model knows."""
    changedsince = None
    toks = list(toks)
    i = 0
    while i < len(toks):
        tok = toks[i]
        if isinstance(tok, Atom) and tok.upper == "CHANGEDSINCE":
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if not isinstance(nxt, Atom) or not nxt.value.isdigit():
                raise CommandError("Invalid CHANGEDSINCE modseq.")
            changedsince = int(nxt.value)
            i += 2
        else:
            raise CommandError("Unknown FETCH modifier.")
    return changedsince


# SEARCH -----------------------------------------------------------------------------------

_FLAG_KEYS = ("ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
              "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN")
_STRING_KEYS = ("BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO")
_DATE_KEYS = ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE")


class _SearchParser:
    def __init__(self, toks: Sequence[Token]) -> None:
        self.toks = list(toks)
        self.i = 0

    def _string(self, key: str) -> bytes:
        if self.i >= len(self.toks):
            raise CommandError(f"Missing parameter for search key (for search key: {key})")
        tok = self.toks[self.i]
        if isinstance(tok, ListArg):
            raise CommandError(f"Unexpected ( (for search key: {key})")
        self.i += 1
        return tok.value

    def key(self) -> c.SearchKey:
        if self.i >= len(self.toks):
            raise CommandError("Missing argument")
        tok = self.toks[self.i]
        self.i += 1
        if isinstance(tok, ListArg):
            sub = _SearchParser(tok.items)
            keys = sub.keys()
            if not keys:
                raise CommandError("No search parameters inside list")
            return c.SearchKey("AND", tuple(keys))
        if isinstance(tok, String):
            raise CommandError("Unexpected string as search key: "
                               + tok.value.decode("latin-1"))
        upper = tok.upper
        if upper in _FLAG_KEYS:
            return c.SearchKey(upper)
        if upper in _STRING_KEYS:
            return c.SearchKey(upper, (self._string(upper),))
        if upper in _DATE_KEYS:
            raw = self._string(upper)
            try:
                return c.SearchKey(upper, (parse_date(raw),))
            except ValueError:
                raise CommandError("Invalid search date parameter") from None
        if upper in ("LARGER", "SMALLER"):
            raw = self._string(upper)
            if not raw.isdigit() or not raw.isascii() or int(raw) >= 1 << 64:
                raise CommandError("Invalid search size parameter")
            return c.SearchKey(upper, (int(raw),))
        if upper in ("KEYWORD", "UNKEYWORD"):
            return c.SearchKey(upper, (self._string(upper).decode("utf-8", "replace"),))
        if upper == "HEADER":
            name = self._string(upper)
            value = self._string(upper)
            return c.SearchKey(upper, (name, value))
        if upper == "UID":
            raw = self._string(upper)
            try:
                return c.SearchKey("UID", (parse_seqset(raw),))
            except ValueError:
                raise CommandError("Invalid UID messageset") from None
        if upper == "NOT":
            return c.SearchKey("NOT", (self.key(),))
        if upper == "OR":
            a = self.key()
            b = self.key()
            return c.SearchKey("OR", (a, b))
        if upper[:1].isdigit() or upper[:1] == "*":
            try:
                return c.SearchKey("SEQSET", (parse_seqset(tok.value),))
            except ValueError:
                raise CommandError("Invalid messageset") from None
        raise CommandError("Unknown argument " + upper)

    def keys(self) -> list[c.SearchKey]:
        out = []
        while self.i < len(self.toks):
            out.append(self.key())
        return out


def parse_search_program(toks: Sequence[Token]) -> c.SearchKey:
    keys = _SearchParser(toks).keys()
    return keys[0] if len(keys) == 1 else c.SearchKey("AND", tuple(keys))


def _search(tag: bytes, uid: bool, args: list) -> c.Command:
    charset = None
    if args and isinstance(args[0], Atom) and args[0].upper == "CHARSET":
        if len(args) < 2 or astring(args[1]) is None:
            raise CommandError("Invalid charset argument.")
        charset = args[1].value.decode("latin-1")
        args = args[2:]
    if not args:
        raise CommandError("Missing search parameters")
    return c.Search(tag, charset, parse_search_program(args), uid)


# The table: name -> (argument limit, builder). None: the command reads no arguments.
COMMANDS: dict[str, tuple[int | None, Builder]] = {
    "CAPABILITY": (None, _simple(c.Capability)),
    "NOOP": (None, _simple(c.Noop)),
    "LOGOUT": (None, _simple(c.Logout)),
    "STARTTLS": (None, _simple(c.StartTLS)),
    "LOGIN": (0, _login),
    "AUTHENTICATE": (0, _authenticate),
    "ID": (0, _id),
    "ENABLE": (0, _enable),
    "SELECT": (0, _select(False)),
    "EXAMINE": (0, _select(True)),
    "CREATE": (1, _one_mailbox(c.Create)),
    "DELETE": (1, _one_mailbox(c.Delete)),
    "RENAME": (2, _rename),
    "SUBSCRIBE": (1, _one_mailbox(c.Subscribe)),
    "UNSUBSCRIBE": (1, _one_mailbox(c.Unsubscribe)),
    "LIST": (0, _list),
    "LSUB": (0, _lsub),
    "STATUS": (2, _status),
    "APPEND": (0, _append_without_message),
    "NAMESPACE": (None, _simple(c.Namespace)),
    "IDLE": (None, _simple(c.Idle)),
    "CHECK": (None, _simple(c.Check)),
    "CLOSE": (None, _simple(c.Close)),
    "UNSELECT": (None, _simple(c.Unselect)),
    "EXPUNGE": (None, _expunge),
    "SEARCH": (0, _search),
    "FETCH": (0, _fetch),
    "STORE": (0, _store),
    "COPY": (2, _copy_like(c.Copy)),
    "MOVE": (2, _copy_like(c.Move)),
}
# RFC 3501 §6.4.8 plus UIDPLUS (UID EXPUNGE) and MOVE (UID MOVE).
UID_COMMANDS: dict[str, tuple[int | None, Builder]] = {
    "UID FETCH": COMMANDS["FETCH"],
    "UID STORE": COMMANDS["STORE"],
    "UID SEARCH": COMMANDS["SEARCH"],
    "UID COPY": COMMANDS["COPY"],
    "UID MOVE": COMMANDS["MOVE"],
    "UID EXPUNGE": (1, _expunge),
}
