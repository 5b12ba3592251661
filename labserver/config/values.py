"""Typed setting values: parsing and printing exactly as Dovecot 2.3 does.

Dovecot's settings parser accepts a small closed set of value types. Each parser
here returns the typed value or raises ``ValueError`` carrying Dovecot's own error
text (``Invalid boolean value: x (use yes or no)``), so that a learner sees the same
words the real doveconf would print. The printers turn a typed value back into the
canonical text doveconf shows (``2 secs``, ``1 M``, ``0600``), which is how a
value written as ``2s`` or ``1024k`` appears in ``doveconf -n``.
"""

from __future__ import annotations

import re

UINT_MAX = 2**32 - 1
UOFF_T_MAX = 2**64 - 1

def parse_bool(value: str) -> bool:
    """Accept yes/y/1 and no (case-insensitively, like Dovecot)."""
    if value.lower() in ("yes", "y") or value == "1":
        return True
    if value.lower() == "no":
        return False
    raise ValueError(f"Invalid boolean value: {value} (use yes or no)")


def _num_error(value: str) -> str:
    # lib/strnum.c str_num_error(): the reason doveconf appends to "Invalid number".
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()):
        return "Not a valid number"
    return "Number too small" if value.startswith("-") else "Number too large"


def parse_uint(value: str) -> int:
    """An unsigned 32-bit decimal number with no sign, spaces or suffix."""
    if value.isascii() and value.isdigit() and int(value) <= UINT_MAX:
        return int(value)
    raise ValueError(f"Invalid number {value}: {_num_error(value)}")


def parse_uint_oct(value: str) -> int:
    """Octal when written with a leading 0 (file modes), decimal otherwise."""
    if not value.startswith("0"):
        return parse_uint(value)
    if re.fullmatch(r"[0-7]+", value) and int(value, 8) <= 2**64 - 1:
        return int(value, 8) & UINT_MAX
    raise ValueError(f"Invalid number: {value}")


def _leading_uint(text: str) -> tuple[int, str] | None:
    m = re.match(r"[0-9]+", text)
    if m is None or not m.group().isascii():
        return None
    num = int(m.group())
    if num > 2**64 - 1:
        return None
    return num, text[m.end():]


def _unit_matches(rest: str, *words: str) -> bool:
    # Dovecot compares strncasecmp(p, word, strlen(p)): any prefix of the word.
    return any(word.lower().startswith(rest.lower()) for word in words)


def parse_time(value: str, milliseconds: bool = False) -> int:
    """A time interval; returns seconds, or milliseconds for msec settings."""
    parsed = _leading_uint(value)
    if parsed is None:
        raise ValueError(f"Invalid time interval: {value}")
    num, rest = parsed
    rest = rest.lstrip(" ")
    multiply = 1000 if milliseconds else 1
    if rest == "" and num != 0:
        raise ValueError(
            f"Time interval '{value}' is missing units (add e.g. 's' for seconds)"
        )
    first = rest[:1].upper()
    if first == "S":
        if _unit_matches(rest, "secs", "seconds"):
            rest = ""
    elif first == "M":
        multiply *= 60
        if _unit_matches(rest, "mins", "minutes"):
            rest = ""
        elif _unit_matches(rest, "msecs", "mseconds", "millisecs", "milliseconds"):
            if not milliseconds and num % 1000 != 0:
                raise ValueError(f"Milliseconds not supported for this setting: {value}")
            if not milliseconds:
                num //= 1000
            multiply = 1
            rest = ""
    elif first == "H":
        multiply *= 3600
        if _unit_matches(rest, "hours"):
            rest = ""
    elif first == "D":
        multiply *= 86400
        if _unit_matches(rest, "days"):
            rest = ""
    elif first == "W":
        multiply *= 604800
        if _unit_matches(rest, "weeks"):
            rest = ""
    if rest != "":
        raise ValueError(f"Invalid time interval: {value}")
    if num > UINT_MAX // multiply:
        raise ValueError(f"Time interval is too large: {value}")
    return num * multiply


_SIZE_UNITS = {"B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(value: str) -> int:
    """A byte size with an optional B/k/M/G/T unit (and optional i/B after it)."""
    parsed = _leading_uint(value)
    if parsed is None:
        raise ValueError(f"Invalid size: {value}")
    num, rest = parsed
    rest = rest.lstrip(" ")
    multiply = 1
    unit = rest[:1].upper()
    if unit in _SIZE_UNITS:
        multiply = _SIZE_UNITS[unit]
        rest = rest[1:]
    if multiply > 1:
        if rest[:1].upper() == "I":
            rest = rest[1:]
        if rest[:1].upper() == "B":
            rest = rest[1:]
    if rest != "":
        raise ValueError(f"Invalid size: {value}")
    if num > UOFF_T_MAX // multiply:
        raise ValueError(f"Size is too large: {value}")
    return num * multiply


def parse_port(value: str) -> int:
    """A TCP port number; 0 is allowed and means "do not listen"."""
    if value.isascii() and value.isdigit() and int(value) <= 65535:
        return int(value)
    raise ValueError(f"Invalid port number {value}")


def parse_enum(value: str, allowed: list[str]) -> str:
    """One of the allowed words, compared exactly."""
    if value in allowed:
        return value
    raise ValueError(f"Invalid value: {value}")


def format_size(size: int) -> str:
    """Print a size as doveconf does: the largest exact unit, e.g. ``1 M``."""
    if size == 0:
        return "0"
    suffix = "B"
    for unit in "kMGT":
        if size % 1024 != 0:
            break
        size //= 1024
        suffix = unit
    return f"{size} {suffix}"


def format_time(secs: int) -> str:
    """Print seconds as doveconf does: the largest exact unit, e.g. ``1 mins``."""
    if secs == 0:
        return "0"
    suffix = "secs"
    for div, name in ((60, "mins"), (60, "hours"), (24, "days"), (7, "weeks")):
        if secs % div != 0:
            break
        secs //= div
        suffix = name
    return f"{secs} {suffix}"


def format_time_msecs(msecs: int) -> str:
    """Print milliseconds as doveconf does: whole seconds as a time, else ``N ms``."""
    if msecs % 1000 == 0:
        return format_time(msecs // 1000)
    return f"{msecs} ms"
