"""Round trips of the encodings: flags in Maildir names, folder names, the uidlist."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from labserver.storage import names
from labserver.storage.maildir import (
    LETTER_TO_FLAG,
    Uidlist,
    UidRecord,
    flags_from_info,
    info_from_flags,
)
from labserver.storage.mbox import _interpret, parse_mbox, render

ATOM = st.text(string.ascii_letters + string.digits + "$_-", min_size=1, max_size=12)
SYSTEM = st.sets(st.sampled_from(sorted(LETTER_TO_FLAG.values())))
KEYWORDS = st.lists(ATOM, unique=True, max_size=26)


@given(SYSTEM, KEYWORDS, st.data())
def test_maildir_flags_round_trip(system, keywords, data):
    letters = {k: chr(ord("a") + i) for i, k in enumerate(keywords)}
    by_letter = {v: k for k, v in letters.items()}
    chosen = data.draw(st.sets(st.sampled_from(keywords))) if keywords else set()
    flags = frozenset(system | chosen)
    info = info_from_flags(flags, letters)
    assert list(info) == sorted(info)  # Dovecot keeps the letters in ASCII order
    assert flags_from_info(info, by_letter) == flags


@given(st.text(min_size=1, max_size=20))
def test_mutf7_round_trip(text):
    encoded = names.mutf7_encode(text)
    assert encoded.isascii()
    assert names.mutf7_decode(encoded) == text


@given(st.lists(st.text(st.characters(blacklist_characters="./\x00",
                                      blacklist_categories=("Cs",)),
                        min_size=1, max_size=8), min_size=1, max_size=4))
def test_storage_name_round_trip(parts):
    vname = "/".join(parts)
    stored = names.to_storage_name(vname, "/", ".")
    assert names.from_storage_name(stored, "/", ".") == vname


@given(st.lists(st.tuples(st.integers(1, 50), st.text(string.ascii_letters + string.digits +
                                                      ".,=", min_size=1, max_size=30)),
                max_size=20, unique_by=lambda t: t[1]))
def test_uidlist_round_trip(items):
    uid = 0
    records = []
    for step, base in items:
        uid += step
        records.append(UidRecord(uid, base, ["W12"] if step % 2 else []))
    ul = Uidlist(1700000000, uid + 1, "0" * 32, records)
    again = Uidlist.parse(ul.format())
    assert (again.uidvalidity, again.next_uid, again.records) == (1700000000, uid + 1,
                                                                   records)


@settings(max_examples=50)
@given(st.lists(st.tuples(SYSTEM, st.sets(ATOM, max_size=3),
                          st.binary(max_size=200).map(lambda b: b.replace(b"\r", b""))),
                min_size=1, max_size=5))
def test_mbox_flags_and_bodies_round_trip(items):
    import datetime as dt

    from labserver.storage.mbox import new_message

    msgs = []
    for i, (system, kws, body) in enumerate(items):
        msgs.append(new_message(b"Subject: s\n\n" + body, frozenset(system | kws),
                                dt.datetime(2024, 1, 2, 3, 4, 5).astimezone(), "a@b",
                                i + 1, False))
    data = render(msgs, 1234, len(msgs) + 1)
    parsed, end = parse_mbox(data)
    real, uidvalidity, next_uid, dirty = _interpret(parsed)
    assert end == len(data) and not dirty
    assert (uidvalidity, next_uid) == (1234, len(msgs) + 1)
    assert [m.flags for m in real] == [m.flags for m in msgs]
    assert [m.body for m in real] == [m.body for m in msgs]
