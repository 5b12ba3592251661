"""The LOGIN mechanism (draft-murchison-sasl-login): "Username:" then "Password:".

Not a standard but what many mail clients (Outlook among them) use. Dovecot's
mech-login.c sends the prompts ``Username:`` and ``Password:`` as base64 challenges;
an initial response is taken as the user name. NUL bytes are not allowed.
"""

from __future__ import annotations

from typing import ClassVar

from .mech import Challenge, Credentials, Event, Mechanism, MechParams

PROMPT_USER = b"Username:"
PROMPT_PASSWORD = b"Password:"


class Login(Mechanism):
    name: ClassVar[str] = "LOGIN"

    def __init__(self, params: MechParams | None = None) -> None:
        super().__init__(params)
        self.username: str | None = None

    def _initial(self, data: bytes | None) -> Event:
        if not data:
            return Challenge(PROMPT_USER)
        return self._continue(data)

    def _continue(self, data: bytes) -> Event:
        text = data.decode("utf-8", "surrogateescape")
        if self.username is None:
            self.username = text
            return Challenge(PROMPT_PASSWORD)
        return Credentials(authcid=self.username, password=text)
