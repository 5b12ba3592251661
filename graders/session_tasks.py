"""Judging a session the learner performed: what the lab's transcripts show.

The submission is the learner's lab (or its transcripts): every byte each side sent,
recorded by the server, so the verdict rests on what happened on the wire, not on the
learner's code. The marker is a text the exercise put in the message to fetch (for
example a random subject), so a session must really have fetched that message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from labserver.service.lab import Lab
from labserver.service.rawlog import Transcript

from .probe import judge
from .verdict import Verdict

SEE = "03-mechanisms: Challenge-response over TLS"
PLAINTEXT = {"PLAIN", "LOGIN"}

_IMAP_TAGGED = re.compile(r"^(\S+) (\S+)(?: (.*))?$")


@dataclass
class Observed:
    """What one session did, in the order a grader cares about."""

    session: str
    protocol: str
    tls_from_start: bool
    tls: bool = False
    mechanism: str | None = None
    logged_in: bool = False
    login_under_tls: bool = False
    fetched: bool = False

    def held(self) -> int:
        return sum((self.logged_in, self.login_under_tls,
                    self.mechanism is not None and self.mechanism not in PLAINTEXT,
                    self.fetched))


def _imap(t: Transcript, marker: str) -> Observed:
    seen = Observed(t.session, "imap", t.tls and not _has(t, "STARTTLS"))
    seen.tls = seen.tls_from_start
    pending: dict[str, str] = {}
    fetch_tags: set[str] = set()
    for line in t.lines():
        side, _, text = line.partition(": ")
        if side == "C":
            m = _IMAP_TAGGED.match(text)
            if not m:
                continue
            tag, command, rest = m.group(1), m.group(2).upper(), m.group(3) or ""
            if command in ("STARTTLS", "LOGIN", "AUTHENTICATE"):
                pending[tag] = command if command != "AUTHENTICATE" else (
                    "AUTHENTICATE " + rest.split(" ")[0].upper())
            elif command == "UID" and rest.upper().startswith("FETCH") or command == "FETCH":
                fetch_tags.add(tag)
        else:
            m = _IMAP_TAGGED.match(text)
            if seen.logged_in and fetch_tags and marker in text:
                seen.fetched = True
            if not m or m.group(1) not in pending or m.group(2) != "OK":
                continue
            command = pending.pop(m.group(1))
            if command == "STARTTLS":
                seen.tls = True
            elif not seen.logged_in:
                seen.logged_in = True
                seen.mechanism = "LOGIN" if command == "LOGIN" else command.split(" ")[1]
                seen.login_under_tls = seen.tls
    return seen


def _pop3(t: Transcript, marker: str) -> Observed:
    seen = Observed(t.session, "pop3", t.tls and not _has(t, "STLS"))
    seen.tls = seen.tls_from_start
    last, in_sasl = "", False
    for line in t.lines():
        side, _, text = line.partition(": ")
        if side == "C":
            if in_sasl:
                continue  # a SASL response line, not a command
            words = text.split(" ")
            last = words[0].upper()
            if last == "AUTH" and len(words) > 1:
                last, in_sasl = words[1].upper(), True
            continue
        if text.startswith("+ "):
            continue
        in_sasl = False
        if not text.startswith("+OK"):
            continue
        if last == "STLS":
            seen.tls = True
        elif "Logged in" in text and not seen.logged_in:
            seen.logged_in = True
            seen.mechanism = "PLAIN" if last == "PASS" else last
            seen.login_under_tls = seen.tls
    for line in t.lines():
        if line.startswith("S: ") and marker in line and seen.logged_in and _has(t, "RETR|TOP"):
            seen.fetched = True
    return seen


def _has(t: Transcript, command: str) -> bool:
    return any(re.match(rf"C: (\S+ )?({command})\b", line, re.IGNORECASE)
               for line in t.lines())


def _transcripts(submission: object) -> list[Transcript]:
    if isinstance(submission, Lab):
        return submission.transcripts()
    if isinstance(submission, Transcript):
        return [submission]
    if isinstance(submission, Iterable) and not isinstance(submission, str | bytes):
        return [t for t in submission if isinstance(t, Transcript)]
    raise TypeError("expected the lab you worked with (or its transcripts)")


def secure_fetch(submission: object, *, user: str, marker: str) -> Verdict:
    """The learner's own session: TLS, a non-plaintext mechanism, the asked message fetched."""
    task = "session-secure-fetch"
    try:
        transcripts = [t for t in _transcripts(submission) if t.user in (None, user)]
    except TypeError as exc:
        return Verdict(task, False, 0.0, f"Hand in the lab you used: {exc}.", see=SEE)
    sessions = [(_imap if t.protocol == "imap" else _pop3)(t, marker) for t in transcripts]
    user_sessions = [s for s, t in zip(sessions, transcripts, strict=True) if t.user == user]
    best = max(user_sessions or sessions, key=Observed.held, default=None)
    if best is None:
        return Verdict(task, False, 0.0, "The lab recorded no session at all: run your "
                       "session against this lab, then check again.", see=SEE)
    mech = best.mechanism or "none"
    parts = [
        (best.logged_in, f"you logged in as {user}", "no successful login in any session"),
        (best.login_under_tls, "the login happened inside TLS (STARTTLS/STLS first, or the "
         "imaps/pop3s port)", "the credentials crossed the connection unencrypted"),
        (best.logged_in and mech not in PLAINTEXT,
         "a challenge-response mechanism (CRAM-MD5, DIGEST-MD5, SCRAM-...) or APOP",
         f"the session used {mech}"),
        (best.fetched, "the message marked with the exercise's text was fetched",
         "no FETCH/RETR in that session returned it"),
    ]
    return judge(task, parts, see=SEE,
                 evidence=[f"best session: {best.protocol} session=<{best.session}>"],
                 hint="imaplib: starttls() before authenticate('CRAM-MD5', ...); poplib: "
                      "stls() before apop() or a SASL exchange.")


CHECKS = {"session-secure-fetch": secure_fetch}
