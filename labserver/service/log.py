"""Log lines in Dovecot's format, kept in memory and optionally written to a file.

Dovecot writes ``<timestamp><prefix><Level>: <text>``, e.g.
``Nov 25 13:10:19 imap-login: Info: Login: user=<alice>, method=PLAIN, ...``, with
the timestamp from ``log_timestamp`` (default ``"%b %d %H:%M:%S "``) and a prefix
per process (``imap-login: ``, ``imap(alice)<pid><session>: ``). The lab keeps the
same shape so that what a learner reads in the lab is what they will grep for in
``/var/log/mail.log`` on a real server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One logged event."""

    timestamp: float
    prefix: str  # e.g. "imap-login: " or "auth: "
    level: str  # "Info", "Warning", "Error", "Fatal", "Debug"
    text: str

    def format(self, timestamp_format: str = "%b %d %H:%M:%S ") -> str:
        stamp = time.strftime(timestamp_format, time.localtime(self.timestamp))
        return f"{stamp}{self.prefix}{self.level}: {self.text}"


class LogBook:
    """Thread-safe log shared by all sessions of one lab."""

    def __init__(self, path: Path | None = None, timestamp_format: str = "%b %d %H:%M:%S ",
                 debug: bool = False, max_records: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: list[LogRecord] = []
        self.path = path
        self.timestamp_format = timestamp_format
        self.debug_enabled = debug
        self.max_records = max_records

    def log(self, prefix: str, level: str, text: str) -> LogRecord:
        """Record one line (Debug lines only when debugging is enabled)."""
        record = LogRecord(time.time(), prefix, level, text)
        if level == "Debug" and not self.debug_enabled:
            return record
        with self._lock:
            self._records.append(record)
            if len(self._records) > self.max_records:
                del self._records[: len(self._records) - self.max_records]
            if self.path is not None:
                try:
                    with open(self.path, "a", encoding="utf-8", errors="surrogateescape") as fh:
                        fh.write(record.format(self.timestamp_format) + "\n")
                except OSError:
                    self.path = None
        return record

    def info(self, prefix: str, text: str) -> LogRecord:
        return self.log(prefix, "Info", text)

    def warning(self, prefix: str, text: str) -> LogRecord:
        return self.log(prefix, "Warning", text)

    def error(self, prefix: str, text: str) -> LogRecord:
        return self.log(prefix, "Error", text)

    def records(self) -> list[LogRecord]:
        with self._lock:
            return list(self._records)

    def lines(self, contains: str | None = None) -> list[str]:
        """Formatted lines, optionally only those containing a text."""
        out = [r.format(self.timestamp_format) for r in self.records()]
        return [line for line in out if contains is None or contains in line]
