"""Per-session transcripts: every byte each side sent, in order.

This is the lab's counterpart of Dovecot's ``rawlog``: a notebook can show exactly
what a client and the server said to each other (and draw it as a sequence
diagram), and a grader can judge a session a learner performed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Exchange:
    """One chunk of bytes sent by the client ("C") or the server ("S")."""

    timestamp: float
    side: str
    data: bytes


@dataclass
class Transcript:
    """Everything said on one connection."""

    session: str
    protocol: str
    remote: str
    local: str
    started: float = field(default_factory=time.time)
    exchanges: list[Exchange] = field(default_factory=list)
    user: str | None = None
    tls: bool = False
    closed: bool = False
    max_bytes: int = 1 << 20
    _size: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, side: str, data: bytes) -> None:
        """Record bytes from one side (kept up to ``max_bytes`` per session)."""
        if not data:
            return
        with self._lock:
            room = self.max_bytes - self._size
            if room <= 0:
                return
            data = data[:room]
            self._size += len(data)
            self.exchanges.append(Exchange(time.time(), side, data))

    def lines(self) -> list[str]:
        """``C: ...`` and ``S: ...`` lines, one per protocol line, decoded leniently."""
        out: list[str] = []
        with self._lock:
            exchanges = list(self.exchanges)
        for ex in exchanges:
            text = ex.data.decode("utf-8", "replace")
            for line in text.splitlines():
                out.append(f"{ex.side}: {line}")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())
