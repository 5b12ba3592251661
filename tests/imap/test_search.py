"""SEARCH programs evaluated against sample messages."""

from __future__ import annotations

import datetime as dt

import pytest

from labserver.imap import CommandReader, MessageView, search_matches
from tests.imap.samples import ALTERNATIVE, ENCODED, MIXED, PLAIN
from tests.imap.transcript import wire

UTC = dt.UTC
MESSAGES = [
    MessageView(PLAIN, seq=1, uid=10, flags=frozenset({"\\Seen"}),
                internaldate=dt.datetime(2024, 1, 1, 9, tzinfo=UTC)),
    MessageView(ALTERNATIVE, seq=2, uid=11, flags=frozenset({"\\Recent", "$Work"}),
                internaldate=dt.datetime(2024, 1, 2, 14, tzinfo=UTC)),
    MessageView(MIXED, seq=3, uid=12, flags=frozenset({"\\Flagged", "\\Deleted"}),
                internaldate=dt.datetime(2024, 1, 3, 12, tzinfo=UTC)),
    MessageView(ENCODED, seq=4, uid=14, flags=frozenset({"\\Answered", "\\Seen"}),
                internaldate=dt.datetime(2024, 1, 6, 8, tzinfo=UTC)),
]


def run(program: str) -> list[int]:
    reader = CommandReader()
    reader.receive_data(wire("s SEARCH " + program))
    key = reader.next_event().key
    return [m.seq for m in MESSAGES if search_matches(key, m, max_seq=4, max_uid=14)]


@pytest.mark.parametrize(("program", "expected"), [
    ("ALL", [1, 2, 3, 4]),
    ("SEEN", [1, 4]), ("UNSEEN", [2, 3]), ("ANSWERED", [4]), ("UNANSWERED", [1, 2, 3]),
    ("DELETED", [3]), ("UNDELETED", [1, 2, 4]), ("FLAGGED", [3]), ("UNFLAGGED", [1, 2, 4]),
    ("DRAFT", []), ("UNDRAFT", [1, 2, 3, 4]), ("RECENT", [2]), ("NEW", [2]),
    ("OLD", [1, 3, 4]), ("KEYWORD $work", [2]), ("UNKEYWORD $Work", [1, 3, 4]),
    ("FROM alice", [1]), ("FROM \"carol, the\"", [2]), ("TO bob", [1]), ("CC undisclosed", [2]),
    ("BCC secret", [4]), ("SUBJECT lunch", [1]), ("SUBJECT \"GRÜSSE\"", [2]),
    ("SUBJECT \"understand the example\"", [4]), ("FROM \"André\"", [4]),
    ("HEADER Message-ID 1234", [1]), ("HEADER In-Reply-To \"\"", [2]),
    ("BODY noon", [1]), ("BODY \"Grüße\"", [2]), ("BODY \"voilà\"", [4]), ("TEXT report", [3]),
    ("TEXT \"Lunch tomorrow\"", [1]),
    ("BEFORE 2-Jan-2024", [1]), ("ON 2-Jan-2024", [2]), ("SINCE 3-Jan-2024", [3, 4]),
    ("SENTBEFORE 2-Jan-2024", [1]), ("SENTON 5-Jan-2024", [4]), ("SENTSINCE 4-Jan-2024", [4]),
    ("LARGER 550", [2, 3]), ("SMALLER 550", [1, 4]), ("LARGER 911", []),
    ("2:3", [2, 3]), ("3:*", [3, 4]), ("UID 11,14", [2, 4]), ("UID *", [4]),
    ("NOT SEEN", [2, 3]), ("OR SEEN FLAGGED", [1, 3, 4]), ("(SEEN ANSWERED)", [4]),
    ("OR (SEEN NOT ANSWERED) 2", [1, 2]), ("NOT (OR 1 2)", [3, 4]),
])
def test_search(program, expected):
    assert run(program) == expected
