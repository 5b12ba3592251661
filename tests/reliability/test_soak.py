"""Soak, bounded form: 20 IMAP and POP3 clients on two shared mailboxes for 20 seconds.

The long form is ``make soak`` (50 clients, 5 minutes); both run ``bench/soak.py``,
whose docstring says what is recorded and checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import soak
from tests.tools import require_program


@pytest.mark.timeout(600)
def test_soak_loses_and_duplicates_nothing(open_root: Path) -> None:
    require_program("doveadm", "dovecot-core")
    report = soak.run(clients=20, seconds=20, root=open_root)
    print(report.text())
    assert report.problems == []
    assert report.dovecot_checked
    # The clients really did each kind of work.
    for op in ("imap APPEND", "deliver", "imap UID EXPUNGE", "imap COPY", "imap STORE",
               "imap FETCH", "pop3 RETR", "pop3 DELE"):
        assert report.ops[op] > 0, op
    assert report.messages_left > 0


def test_the_account_notices_a_lost_and_a_returned_message(open_root: Path) -> None:
    """The checks can fail: a ledger that claims more, or less, than the server holds."""
    lab = soak.prepare(open_root, soak.USERS, folders=("Archive",))
    uid = lab.deliver("alice", soak.message("kept"))
    lab.deliver("alice", soak.message("deleted-but-there"))
    ledger = soak.Ledger()
    ledger.added("alice", "INBOX", "kept", uid)
    ledger.added("alice", "INBOX", "never-arrived", 99)
    ledger.added("alice", "INBOX", "deleted-but-there", uid + 1)
    ledger.gone("alice", "INBOX", "deleted-but-there")
    server = soak.LabProcess(open_root)
    ports = server.start()
    try:
        found = soak.account(open_root, ports["imap"], ledger)
    finally:
        server.stop()
    assert found["lost"] == ["alice INBOX: never-arrived"]
    assert found["resurrected"] == ["alice INBOX: deleted-but-there x1"]
    assert found["duplicated"] == found["corrupt"] == found["uid_changed"] == []
