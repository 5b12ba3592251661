"""An in-memory mailbox and authenticator for driving the POP3 engine in tests."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable

from labserver.pop3 import (
    NEED_DATA,
    PAUSED,
    AuthCancelled,
    AuthRequest,
    AuthResponse,
    Close,
    LogLine,
    Pop3Connection,
    Pop3Settings,
    SendData,
    StartTLS,
)
from labserver.storage.model import MessageInfo

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class FakeMailbox:
    """Messages kept as stored bytes (bare LF allowed); ``read`` gives CRLF."""

    name = "INBOX"

    def __init__(self, messages: Iterable[bytes] = (), uidvalidity: int = 1700000000,
                 readonly: bool = False, guids: Iterable[str] | None = None) -> None:
        self.uidvalidity = uidvalidity
        self.readonly = readonly
        self.data: dict[int, bytes] = {}
        self.flags: dict[int, set[str]] = {}
        self.guids: dict[int, str] = {}
        self.calls: list[tuple] = []
        guid_list = list(guids) if guids is not None else None
        for index, message in enumerate(messages):
            uid = index + 1
            self.data[uid] = message
            self.flags[uid] = set()
            self.guids[uid] = guid_list[index] if guid_list else f"msg{uid}.host"

    @property
    def uidnext(self) -> int:
        return max(self.data, default=0) + 1

    @property
    def messages(self) -> list[MessageInfo]:
        return [MessageInfo(uid, frozenset(self.flags[uid]), EPOCH,
                            len(crlf(self.data[uid])), len(self.data[uid]),
                            self.guids[uid])
                for uid in sorted(self.data)]

    def read(self, uid: int) -> bytes:
        return crlf(self.data[uid])

    def set_flags(self, uids, flags, mode):
        uids, flags = list(uids), list(flags)
        self.calls.append(("set_flags", uids, flags, mode))
        for uid in uids:
            if mode == "add":
                self.flags[uid] |= set(flags)
            elif mode == "remove":
                self.flags[uid] -= set(flags)
            else:
                self.flags[uid] = set(flags)
        return []

    def expunge(self, uids=None):
        uids = list(self.data) if uids is None else list(uids)
        self.calls.append(("expunge", uids))
        gone = [u for u in uids if u in self.data and "\\Deleted" in self.flags[u]]
        for uid in gone:
            del self.data[uid]
            del self.flags[uid]
        return gone

    def sync(self):
        return None

    def close(self) -> None:
        pass


class Driver:
    """Plays the service layer: sends input, answers auth requests, collects output."""

    def __init__(self, settings: Pop3Settings | None = None, *,
                 users: dict[str, str] | None = None,
                 mailbox: FakeMailbox | None = None, **conn_args) -> None:
        conn_args.setdefault("session_id", "SESSION")
        conn_args.setdefault("hostname", "lab")
        conn_args.setdefault("pid", 4242)
        conn_args.setdefault("clock", lambda: 1_700_000_000.0)
        self.conn = Pop3Connection(settings or Pop3Settings(), **conn_args)
        self.users = users if users is not None else {"alice": "secret"}
        self.mailbox = mailbox if mailbox is not None else FakeMailbox()
        self.output = bytearray(self.conn.start())
        self.logs: list[str] = []
        self.events: list[object] = []
        self.closed = False
        self.sasl: dict[str, object] | None = None
        self.tls_requests = 0

    def send(self, data: bytes) -> bytes:
        """Feed bytes (b"" closes), run until the engine needs data; new output."""
        start = len(self.output)
        self.conn.receive_data(data)
        self.pump()
        return bytes(self.output[start:])

    def pump(self) -> None:
        while not self.closed:
            event = self.conn.next_event()
            if event is NEED_DATA or event is PAUSED:
                return
            self.events.append(event)
            if isinstance(event, SendData):
                self.output += event.data
            elif isinstance(event, LogLine):
                self.logs.append(event.text)
            elif isinstance(event, Close):
                self.closed = True
            elif isinstance(event, AuthRequest):
                self.output += self._auth_start(event)
            elif isinstance(event, AuthResponse):
                self.output += self._auth_step(event.data)
            elif isinstance(event, AuthCancelled):
                self.sasl = None
            elif isinstance(event, StartTLS):
                self.tls_requests += 1
                self.output += self.conn.tls_started()

    # A tiny SASL server: PLAIN, LOGIN and APOP against self.users.
    def _finish(self, user: str, password: bytes) -> bytes:
        self.sasl = None
        if self.users.get(user) == password.decode("utf-8", "replace"):
            return self.conn.auth_succeeded(user, self.mailbox)
        return self.conn.auth_failed(user=user)

    def _auth_start(self, req: AuthRequest) -> bytes:
        self.sasl = {"mech": req.mechanism, "step": 0}
        if req.mechanism == "APOP":
            password = self.users.get(req.username or "", "")
            want = hashlib.md5((req.apop_challenge + password).encode()).hexdigest()
            self.sasl = None
            if req.username in self.users and want == req.apop_digest:
                return self.conn.auth_succeeded(req.username, self.mailbox)
            return self.conn.auth_failed(user=req.username)
        if req.initial_response is None:
            if req.mechanism == "LOGIN":
                return self.conn.auth_continue(base64.b64encode(b"Username:"))
            return self.conn.auth_continue(b"")
        return self._auth_step(req.initial_response)

    def _auth_step(self, data: bytes) -> bytes:
        assert self.sasl is not None
        try:
            raw = base64.b64decode(data, validate=True) if data != b"=" else b""
        except ValueError:
            self.sasl = None
            return self.conn.auth_failed("Invalid base64 data in initial response",
                                         code="invalid_base64")
        if self.sasl["mech"] == "PLAIN":
            parts = raw.split(b"\0")
            if len(parts) != 3:
                self.sasl = None
                return self.conn.auth_failed()
            return self._finish(parts[1].decode("utf-8", "replace"), parts[2])
        if self.sasl["mech"] == "LOGIN":
            if self.sasl["step"] == 0:
                self.sasl["user"] = raw.decode("utf-8", "replace")
                self.sasl["step"] = 1
                return self.conn.auth_continue(base64.b64encode(b"Password:"))
            return self._finish(str(self.sasl["user"]), raw)
        self.sasl = None
        return self.conn.auth_failed()


def transcript(lines: list[str], driver: Driver | None = None, **kwargs) -> Driver:
    """Run ``C:``/``S:`` lines; ``S:`` lines must match the output line for line.

    ``C:`` text is sent with CRLF; ``S: ...`` lines collected after each client
    line are compared with everything the server sent in reply. A line ``S: *``
    matches any one line. The greeting is checked only if the first line is S:.
    """
    d = driver or Driver(**kwargs)
    pending: list[str] = []
    got = bytes(d.output).decode("utf-8", "surrogateescape")
    d.output.clear()

    def check(received: str) -> None:
        have = received.split("\r\n")[:-1] if received else []
        assert len(have) == len(pending), (pending, have)
        for want, line in zip(pending, have, strict=True):
            if want != "*":
                assert line == want, (want, line, have)
        assert received.endswith("\r\n") or not received
        pending.clear()

    greeting_checked = False
    for line in lines:
        if line.startswith("S: ") or line == "S:":
            pending.append(line[3:])
            continue
        if greeting_checked or pending:
            check(got)
        greeting_checked = True
        if line == "C: <close>":
            got = d.send(b"").decode("utf-8", "surrogateescape")
        else:
            assert line.startswith("C: ") or line == "C:", line
            got = d.send(line[3:].encode("utf-8", "surrogateescape") + b"\r\n").decode(
                "utf-8", "surrogateescape")
    check(got)
    return d
