"""SASL PLAIN (RFC 4616): ``authzid NUL authcid NUL passwd`` in one message (mech-plain.c).

Without an initial response the server sends an empty challenge and takes the
message in the next line. Anything but exactly two NULs is "invalid input" (logged
as ``plain(?): invalid input``). An authzid equal to the authcid is dropped, as
Dovecot does; a different one asks for a master-user login.
"""

from __future__ import annotations

from typing import ClassVar

from .mech import AUTH_FAILED_MSG, Challenge, Credentials, Event, Failure, Mechanism


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


class Plain(Mechanism):
    name: ClassVar[str] = "PLAIN"

    def _initial(self, data: bytes | None) -> Event:
        if data is None:
            return Challenge(b"")
        return self._continue(data)

    def _continue(self, data: bytes) -> Event:
        parts = data.split(b"\0")
        if len(parts) != 3:
            return Failure("invalid_input", AUTH_FAILED_MSG, "invalid input")
        authzid, authcid, password = (_text(p) for p in parts)
        if authzid == authcid:
            authzid = ""
        return Credentials(authcid=authcid, password=password, authzid=authzid)
