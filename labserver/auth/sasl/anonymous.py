"""ANONYMOUS (RFC 4505): anyone may log in, as ``auth_anonymous_username``.

The client may send a trace string (an e-mail address, say); mech-anonymous.c logs it as
the user of a ``login`` line when ``auth_verbose`` is on, then logs the request in as
``auth_anonymous_username`` (default ``anonymous``) without asking any passdb: that user
must still exist in a userdb. Dovecot refuses to start when the mechanism is listed but
the setting is empty (``ANONYMOUS listed in mechanisms, but anonymous_username not set``).
"""

from __future__ import annotations

from typing import ClassVar

from .mech import Authorized, Challenge, Event, Mechanism


class Anonymous(Mechanism):
    name: ClassVar[str] = "ANONYMOUS"

    def _initial(self, data: bytes | None) -> Event:
        if data is None:
            return Challenge(b"")
        return self._continue(data)

    def _continue(self, data: bytes) -> Event:
        trace = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        self.username = trace
        return Authorized(self.params.anonymous_username, log="login", trace=trace)
