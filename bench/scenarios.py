"""Client-side measurements, identical for every server (imaplib and poplib)."""

from __future__ import annotations

import imaplib
import poplib
import statistics
import threading
import time

from .peers import PASSWORD, USER

TIMEOUT = 600


def imap_session(port: int) -> None:
    """connect, LOGIN, SELECT INBOX, FETCH 1:10 (FLAGS RFC822.SIZE ENVELOPE), LOGOUT."""
    client = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT)
    client.login(USER, PASSWORD)
    client.select("INBOX")
    typ, _ = client.fetch("1:10", "(FLAGS RFC822.SIZE ENVELOPE)")
    assert typ == "OK"
    client.logout()


def sessions_per_second(port: int, clients: int, seconds: float) -> float:
    """How many complete IMAP sessions ``clients`` threads finish per second."""
    done = [0] * clients
    errors: list[BaseException] = []
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        try:
            while time.monotonic() < stop:
                imap_session(port)
                done[i] += 1
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(done) / (time.monotonic() - start)


def select_fetch_all(port: int) -> float:
    """Seconds for LOGIN, SELECT INBOX and UID FETCH 1:* (FLAGS RFC822.SIZE)."""
    start = time.perf_counter()
    client = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT)
    client.login(USER, PASSWORD)
    client.select("INBOX")
    typ, data = client.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE)")
    assert typ == "OK" and data
    elapsed = time.perf_counter() - start
    client.logout()
    return elapsed


def pop3_list_uidl(port: int) -> float:
    """Seconds for USER/PASS, STAT, LIST and UIDL."""
    start = time.perf_counter()
    client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    client.user(USER)
    client.pass_(PASSWORD)
    client.stat()
    client.list()
    client.uidl()
    elapsed = time.perf_counter() - start
    client.quit()
    return elapsed


def median_of(fn, runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))
