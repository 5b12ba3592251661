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


def _tls_client(version: str):  # noqa: ANN202 - an ssl.SSLContext
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    if version == "1.2":
        ctx.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384")
    return ctx


def tls_handshake(port: int, version: str, ctx=None) -> None:  # noqa: ANN001
    """One full handshake (no session resumption) on an imaps port, then the greeting."""
    import socket

    ctx = ctx or _tls_client(version)
    with socket.create_connection(("127.0.0.1", port), 10) as raw, ctx.wrap_socket(raw) as s:
        if not s.recv(200).startswith(b"* OK"):
            raise RuntimeError("no IMAP greeting over TLS")


def handshakes_per_second(port: int, version: str, clients: int, seconds: float) -> float:
    count = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal count
        ctx = _tls_client(version)
        while time.monotonic() < stop:
            tls_handshake(port, version, ctx)
            with lock:
                count += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count / (time.monotonic() - start)
