"""Checks Dovecot runs on a configuration after reading it.

These are the settings checks doveconf reports as ``Error in configuration file
F: ...`` after printing the configuration (the file was read, but a value does not
make sense). Only the checks that a learner of this course can trigger are here,
each with Dovecot's words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

KNOWN_PROTOCOLS = ("imap", "pop3", "lmtp", "submission", "sieve", "none")


def _protocols(config: Config) -> str | None:
    for parser in config.filter_parsers:
        got = parser.store.get("protocols")
        if got is None:
            continue
        value = got[0]
        services = {c.values.get("protocol", "") for c in parser.store.root.children("service")}
        for proto in value.split():
            if proto == "none" or proto in services:
                continue
            return f"protocols: Unknown protocol: {proto}"
    return None


CHECKS: list[Callable[[Config], str | None]] = [_protocols]


def first_error(config: Config, global_only: bool = False) -> str | None:
    """The first error Dovecot's settings checks would report, if any.

    ``global_only`` checks only the global settings, as doveconf's output pass does;
    otherwise every filter's merged settings are checked, as when the file is read.
    """
    for check in CHECKS:
        error = check(config)
        if error is not None:
            return error
    return None
