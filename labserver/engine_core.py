"""The state-machine plumbing the IMAP and POP3 engines share, in h11's manner.

An engine keeps its replies in ``_out`` and hands them out either as ``SendData``
events (bytes in, events out) or, inside a direct call such as ``auth_succeeded()``,
as the call's return value. A transition that the engine's table does not allow is a
protocol error of the caller's, never a silent state change.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from typing import Any, ClassVar


class EngineCore:
    """Transitions, direct calls and output buffering; subclasses name their own types."""

    TRANSITIONS: ClassVar[dict[Any, dict[object, Any]]]
    CLOSED: ClassVar[Any]
    PROTOCOL_ERROR: ClassVar[type[Exception]]
    SEND_DATA: ClassVar[type]

    state: Any
    _out: bytearray
    _events: deque[Any]
    _direct: bool

    def _transition(self, trigger: object) -> None:
        new = self.TRANSITIONS[self.state].get(trigger)
        if new is None:
            name = trigger if isinstance(trigger, str) else getattr(trigger, "__name__", "")
            raise self.PROTOCOL_ERROR(f"{name} is not possible in state {self.state.name}")
        self.state = new

    @contextlib.contextmanager
    def _call(self, name: str) -> Iterator[None]:
        """A direct call: earlier replies go out as events, this call's are returned."""
        target = self.TRANSITIONS[self.state].get(name)
        if target is None:
            raise self.PROTOCOL_ERROR(f"{name}() is not possible in state {self.state.name}")
        self._flush()
        self._direct = True
        if target is not self.CLOSED:
            self.state = target
        try:
            yield
        finally:
            self._direct = False

    def _take(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def _flush(self) -> None:
        if self._out and not self._direct:
            self._events.append(self.SEND_DATA(bytes(self._out)))
            self._out.clear()
