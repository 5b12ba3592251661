"""What the fuzzers feed: one function per target, bytes in, an exception only for a bug.

Each target takes one input and raises ``FuzzFailure`` (or lets any other exception
escape) when the code under test misbehaves; refusing bad input in the documented way
(``ConfigError``, a ``BAD``/``-ERR`` reply, a SASL ``Failure``) is success. The engines
catch their own exceptions and answer ``* BYE Internal error`` / ``-ERR`` with an
``Internal error`` log line, so the targets treat that log line as a crash too: a client
must never be able to trigger one.

Used by ``bench/fuzz.py`` (atheris, coverage-guided, the long runs) and by the
regression tests in ``tests/reliability/`` (every input that once failed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from labserver import pop3
from labserver.auth.sasl import MECHANISMS, Challenge
from labserver.auth.sasl.mech import MechParams, NeedCredentials
from labserver.config import ConfigError
from labserver.config.config import parse_text
from labserver.config.resolve import PathResolver
from labserver.imap import session as imap
from labserver.storage import deliver, open_storage

MAX_EVENTS = 20_000
# A fresh copy of the mail store after this many inputs, so that appends and
# expunges by earlier inputs do not pile up.
RESET_EVERY = 200

MAIL_CONFIG = """\
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Trash {
    special_use = \\Trash
  }
}
"""
SEED_MESSAGES = (
    b"From: bob@example.com\nSubject: one\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\nbody\n",
    b"Subject: two\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
    b"Content-Type: text/plain\r\n\r\npart\r\n--x--\r\n",
    b"Subject: three\n\n.leading dot\n\n",
)
IMAP_LOGIN = b"a LOGIN alice secret\r\nb SELECT INBOX\r\n"
POP3_LOGIN = b"USER alice\r\nPASS secret\r\n"


class FuzzFailure(AssertionError):
    """The code under test did something it must never do."""


class MailFixture:
    """A throwaway Maildir store with a few messages, renewed every RESET_EVERY uses."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="labfuzz-", dir=_scratch()))
        self.template = self.base / "template"
        self.config = parse_text(MAIL_CONFIG, root=str(self.template))
        storage = self._open(self.template)
        for raw in SEED_MESSAGES:
            deliver(storage, raw)
        storage.create("Archive")
        self.uses = 0
        self.live = self.base / "live"
        self._renew()

    def _open(self, root: Path):  # noqa: ANN202 - a MailStorage
        return open_storage(self.config, "alice", "/home/alice", PathResolver(root))

    def _renew(self) -> None:
        shutil.rmtree(self.live, ignore_errors=True)
        shutil.copytree(self.template, self.live, symlinks=True)

    def storage(self):  # noqa: ANN201 - a MailStorage
        self.uses += 1
        if self.uses % RESET_EVERY == 0:
            self._renew()
        return self._open(self.live)

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def _scratch() -> str | None:
    """tmpfs where there is one: the IMAP and POP3 targets write files on every input."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


_mail: MailFixture | None = None


def mail() -> MailFixture:
    global _mail
    if _mail is None:
        _mail = MailFixture()
    return _mail


def _check_log(prefix: str, level: str, message: str) -> None:
    if "Internal error" in message or level in ("Panic", "Fatal"):
        raise FuzzFailure(f"{prefix}{level}: {message}")


# --- config -------------------------------------------------------------------------

_config_root: str | None = None


def fuzz_config(data: bytes) -> None:
    """dovecot.conf text: a Config or a ConfigError, nothing else."""
    global _config_root
    if _config_root is None:
        # An empty sandbox: `!include` and `<file` values resolve inside it, never on
        # the real file system.
        _config_root = tempfile.mkdtemp(prefix="labfuzz-conf-")
    text = data.decode("utf-8", "replace")
    try:
        config = parse_text(text, root=_config_root)
    except ConfigError as exc:
        if not exc.message:
            raise FuzzFailure("ConfigError without a message") from None
        return
    config.get("mail_location")


# --- SASL -----------------------------------------------------------------------------

MECH_NAMES = sorted(MECHANISMS)
STORED = {"PLAIN": b"secret", "CRAM-MD5": b"secret", "DIGEST-MD5": b"secret"}


def fuzz_sasl(data: bytes) -> None:
    """A mechanism chosen by the first byte; then an initial response and later lines."""
    if not data:
        return
    name = MECH_NAMES[data[0] % len(MECH_NAMES)]
    lines = data[1:].split(b"\n")
    mech = MECHANISMS[name](MechParams(hostname="lab.example", realms=("lab.example",),
                                       apop_challenge="<1.2@lab.example>",
                                       cert_username="alice"))
    first = lines[0]
    event = mech.start(None if first == b"-" else first)
    for line in lines[1:]:
        for _ in range(4):
            if not isinstance(event, NeedCredentials):
                break
            event = mech.credentials(b"secret")
        if not isinstance(event, Challenge):
            return
        event = mech.step(line)


# --- IMAP and POP3 engines ---------------------------------------------------------------

def _after_selector(data: bytes, login: bytes) -> bytes:
    """The first byte chooses: even, a session that is logged in already; odd, the login
    phase. It also sets the size of the pieces the rest arrives in."""
    if not data:
        return data
    return data[:1] + (login if data[0] % 2 == 0 else b"") + data[1:]


def _feed(conn, data: bytes, answer: Callable[[object], bytes | None], events) -> None:  # noqa: ANN001
    """Feed ``data`` (after its selector byte) in pieces of varying size, as a socket
    would, then close."""
    step = 1 + (data[0] % 64 if data else 0)
    data = data[1:]
    chunks = [data[i:i + step] for i in range(0, len(data), step)] + [b""]
    handled = 0
    for chunk in chunks:
        conn.receive_data(chunk)
        while True:
            event = conn.next_event()
            handled += 1
            if handled > MAX_EVENTS:
                raise FuzzFailure("the engine does not make progress")
            if event is events.NEED_DATA or event is events.PAUSED:
                break
            if isinstance(event, events.Close):
                return
            if isinstance(event, events.LogLine):
                _check_log(event.prefix, event.level, event.message)
                continue
            answer(event)
        if chunk == b"":
            return


def fuzz_imap(data: bytes) -> None:
    """IMAP bytes from a client; an even first byte logs in and selects INBOX first."""
    data = _after_selector(data, IMAP_LOGIN)
    storage = mail().storage()
    conn = imap.ImapConnection(
        imap.ImapSettings(disable_plaintext_auth=False, ssl="no",
                          auth_mechanisms=("PLAIN", "LOGIN"), imap_max_line_length=4096),
        local_ip="127.0.0.1", remote_ip="127.0.0.1", tls_available=False,
        session_id="fuzz", hostname="lab", pid=1, clock=lambda: 1_700_000_000.0)
    conn.start()

    def answer(event: object) -> None:
        if isinstance(event, imap.AuthRequest):
            if event.username == "alice" or event.username is None:
                conn.auth_succeeded("alice", storage, mail_pid=1)
            else:
                conn.auth_failed()
        elif isinstance(event, imap.AuthResponse):
            conn.auth_failed()
        elif isinstance(event, imap.StartTLS):
            conn.tls_failed()

    _feed(conn, data, answer, imap)


def fuzz_pop3(data: bytes) -> None:
    """POP3 bytes from a client; an even first byte logs in first."""
    data = _after_selector(data, POP3_LOGIN)
    storage = mail().storage()
    conn = pop3.Pop3Connection(
        pop3.Pop3Settings(disable_plaintext_auth=False, ssl="no",
                          auth_mechanisms=("PLAIN", "LOGIN", "APOP")),
        local_ip="127.0.0.1", remote_ip="127.0.0.1", tls_available=False,
        session_id="fuzz", hostname="lab", pid=1, clock=lambda: 1_700_000_000.0,
        apop_challenge="<1.2@lab>")
    conn.start()
    box: list = []

    def answer(event: object) -> None:
        if isinstance(event, pop3.AuthRequest):
            if event.username == "alice" or event.username is None:
                box.append(storage.open("INBOX"))
                conn.auth_succeeded("alice", box[-1], mail_pid=1)
            else:
                conn.auth_failed()
        elif isinstance(event, pop3.AuthResponse):
            conn.auth_failed()
        elif isinstance(event, pop3.StartTLS):
            conn.tls_failed()

    try:
        _feed(conn, data, answer, pop3)
    finally:
        for b in box:
            b.close()


TARGETS: dict[str, Callable[[bytes], None]] = {
    "config": fuzz_config,
    "sasl": fuzz_sasl,
    "imap": fuzz_imap,
    "pop3": fuzz_pop3,
}

# Inputs a run starts from (the fuzzer mutates them); config also takes the
# configuration corpus of the tests.
SEEDS: dict[str, list[bytes]] = {
    "config": [b"protocols = imap pop3\nmail_location = maildir:~/Maildir\n",
               b"service imap-login {\n  inet_listener imaps {\n    port = 993\n    ssl = yes\n"
               b"  }\n}\nprotocol imap {\n  mail_max_userip_connections = 20\n}\n",
               b"passdb {\n  driver = passwd-file\n  args = scheme=CRYPT /etc/dovecot/users\n}\n"
               b"ssl_cert = </etc/dovecot/cert.pem\n!include_try conf.d/*.conf\n"],
    "sasl": [b"\x00AGFsaWNlAHNlY3JldA==", b"\x01-\nYWxpY2U=\nc2VjcmV0", b"\x02-\nYWxpY2UgMA==",
             b"\x03biwsbj1hbGljZSxyPWFiYw==\nYz1iaXdzLHI9YWJj"],
    "imap": [b"\x00c LIST \"\" *\r\nd FETCH 1:* (FLAGS BODY[] ENVELOPE BODYSTRUCTURE)\r\n",
             b"\x00c APPEND INBOX (\\Seen) {5}\r\nhello\r\nd UID STORE 1:* +FLAGS (\\Deleted)\r\n"
             b"e EXPUNGE\r\nf COPY 1 Archive\r\ng SEARCH OR SUBJECT one BODY part\r\n",
             b"\x01a CAPABILITY\r\nb AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n",
             b"\x00c IDLE\r\nDONE\r\nd RENAME Archive Old\r\ne CREATE x/y\r\nf LOGOUT\r\n"],
    "pop3": [b"\x00STAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nQUIT\r\n",
             b"\x01CAPA\r\nAUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nLAST\r\nRSET\r\nQUIT\r\n",
             b"\x01APOP alice 0123456789abcdef0123456789abcdef\r\nUSER\r\n"],
}
