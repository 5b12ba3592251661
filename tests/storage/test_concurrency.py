"""Sessions in threads and in processes: no lost or doubled message, UIDs ascending."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time

import pytest

from .conftest import make_storage

DURATION = 1.5


def _worker(root, kind, name, seed, out):
    rng = random.Random(seed)
    storage = make_storage(root, kind)
    box = storage.open("INBOX")
    appended: dict[int, str] = {}
    expunged: list[int] = []
    problems: list[str] = []
    deadline = time.monotonic() + DURATION
    n = 0
    while time.monotonic() < deadline:
        n += 1
        tag = f"{name}-{n}"
        uid = box.append(f"Subject: {tag}\n\n{tag}\n".encode())
        if uid in appended:
            problems.append(f"uid {uid} returned twice")
        appended[uid] = tag
        box.sync()
        uids = [m.uid for m in box.messages]
        if uids != sorted(set(uids)):
            problems.append(f"view not ascending: {uids}")
        if box.messages and rng.random() < 0.5:
            target = rng.choice(box.messages).uid
            box.set_flags([target], [rng.choice(["\\Seen", "\\Flagged", "\\Deleted"])], "add")
        if rng.random() < 0.3:
            expunged += box.expunge()
    out.put((appended, expunged, problems))


def _check(root, kind, results):
    all_appended: dict[int, str] = {}
    all_expunged: list[int] = []
    for appended, expunged, problems in results:
        assert problems == []
        overlap = set(all_appended) & set(appended)
        assert not overlap, f"UIDs given twice: {sorted(overlap)[:5]}"
        all_appended.update(appended)
        all_expunged += expunged
    assert len(all_expunged) == len(set(all_expunged)), "a message expunged twice"
    assert set(all_expunged) <= set(all_appended)
    box = make_storage(root, kind).open("INBOX")
    on_disk = [m.uid for m in box.messages]
    assert on_disk == sorted(set(all_appended) - set(all_expunged))
    for uid in on_disk:
        assert all_appended[uid].encode() in box.read(uid)
    assert box.uidnext > max(all_appended)
    assert len(all_appended) > 20


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_threads_and_processes(tmp_path, kind):
    make_storage(tmp_path, kind)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(tmp_path, kind, f"p{i}", i, queue))
             for i in range(2)]
    for p in procs:
        p.start()

    class Q:
        def __init__(self):
            self.items = []
            self.lock = threading.Lock()

        def put(self, item):
            with self.lock:
                self.items.append(item)

    tq = Q()
    threads = [threading.Thread(target=_worker, args=(tmp_path, kind, f"t{i}", 10 + i, tq))
               for i in range(3)]
    for t in threads:
        t.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    for t in threads:
        t.join(60)
    results += tq.items
    assert len(results) == 5
    _check(tmp_path, kind, results)
