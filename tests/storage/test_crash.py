"""SIGKILL during appends and flag changes: nothing partial becomes visible."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time

import pytest

from labserver.storage.maildir import Uidlist

from .conftest import make_storage

PAYLOAD = b"x" * 70 + b"\n"


def _message(tag: str) -> bytes:
    return (f"Subject: {tag}\n\nSTART-{tag}\n".encode() + PAYLOAD * 3000 +
            f"END-{tag}\n".encode())


def _churn(root, kind):
    storage = make_storage(root, kind)
    box = storage.open("INBOX")
    n = 0
    while True:
        n += 1
        box.append(_message(f"{os.getpid()}-{n}"))
        box.sync()
        if box.messages:
            box.set_flags([box.messages[-1].uid], ["\\Seen"], "add")


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_sigkill_mid_write(tmp_path, kind):
    make_storage(tmp_path, kind)
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(7)
    seen_uids: list[int] = []
    for _round in range(8):
        proc = ctx.Process(target=_churn, args=(tmp_path, kind))
        proc.start()
        time.sleep(0.05 + rng.random() * 0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        start = time.monotonic()
        box = make_storage(tmp_path, kind).open("INBOX")
        assert time.monotonic() - start < 10, "a dead process's lock blocked us"
        uids = [m.uid for m in box.messages]
        assert uids == sorted(set(uids))
        # UIDs already seen never change meaning (only expunges could remove them).
        assert uids[:len(seen_uids)] == seen_uids
        seen_uids = uids
        for m in box.messages:
            data = box.read(m.uid)
            tag = data.split(b"START-", 1)[1].split(b"\r\n", 1)[0].decode()
            assert data == _message(tag).replace(b"\n", b"\r\n"), f"uid {m.uid} is partial"
            assert m.virtual_size == len(data)
        if kind == "maildir":
            ul = (tmp_path / "home/alice/Maildir/dovecot-uidlist").read_text()
            Uidlist.parse(ul)
    assert len(seen_uids) >= 1
