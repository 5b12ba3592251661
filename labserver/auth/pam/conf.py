"""Reading ``/etc/pam.d/<service>`` the way libpam does (pam_handlers.c), into rules.

A line is ``[-]type control module-path [module-arguments]``; ``#`` starts a comment,
a backslash at the end of a line continues it, and ``@include FILE`` pulls in every
line of another file. Types are ``auth``, ``account``, ``password``, ``session``
(case-insensitive; a leading ``-`` means "say nothing if the module is missing").
Controls are the four keywords, ``include FILE``, ``substack FILE`` or the bracket form
``[value=action ...]`` of pam.conf(5). Module arguments may be bracketed to hold
spaces: ``[query=select user where name = 'x']``, with ``\\]`` for a bracket.

Like libpam, a line that cannot be understood does not vanish: it becomes a rule that
always fails (``PAM_PERM_DENIED``), so a typo denies logins rather than allowing them.
A missing included file or too deep nesting makes ``pam_start()`` fail with
``PAM_ABORT``. Files are read through the lab's PathResolver, never from the host.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from labserver.config.resolve import PathResolver

from .codes import VALUE_NAMES

TYPES = ("auth", "account", "password", "session")
PAM_D = "/etc/pam.d"
MAX_DEPTH = 16  # PAM_SUBSTACK_MAX_LEVEL; also guards against include loops

# An action is one of these words, or a positive int: jump over that many rules.
Action = str | int
ACTIONS = ("ignore", "ok", "done", "bad", "die", "reset")
N_CODES = len(VALUE_NAMES)


def _actions(default: Action, **set_: Action) -> tuple[Action, ...]:
    out = [default] * N_CODES
    for name, action in set_.items():
        out[VALUE_NAMES[name]] = action
    return tuple(out)


# pam.conf(5): each keyword is shorthand for a bracket expression.
KEYWORDS: dict[str, tuple[Action, ...]] = {
    "required": _actions("bad", success="ok", new_authtok_reqd="ok", ignore="ignore"),
    "requisite": _actions("die", success="ok", new_authtok_reqd="ok", ignore="ignore"),
    "sufficient": _actions("ignore", success="done", new_authtok_reqd="done"),
    "optional": _actions("ignore", success="ok", new_authtok_reqd="ok"),
}


class PamConfAbort(Exception):
    """pam_start() fails: PAM_ABORT ("Critical error - immediate abort")."""


@dataclass
class Rule:
    """One stack entry: a module call, or a substack (``module`` empty, ``sub`` set)."""

    type: str
    actions: tuple[Action, ...]
    module: str = ""
    args: tuple[str, ...] = ()
    silent: bool = False  # the "-type" form
    sub: list[Rule] | None = None
    must_fail: str | None = None  # why this line always fails (a syntax error)
    origin: str = ""  # "dovecot:3", for explanations


@dataclass
class Service:
    """The four stacks of one service, and what libpam would have logged reading them."""

    name: str
    stacks: dict[str, list[Rule]] = field(default_factory=lambda: {t: [] for t in TYPES})
    path: str | None = None  # the file read (None: neither it nor "other" exists)
    log: list[str] = field(default_factory=list)


def parse_control(text: str) -> tuple[tuple[Action, ...], str | None]:
    """A control field: the actions for each return code, and an error (all "bad")."""
    keyword = KEYWORDS.get(text.lower())
    if keyword is not None:
        return keyword, None
    if not (text.startswith("[") and text.endswith("]")):
        return _actions("bad"), f"bad control flag: {text}"
    out: list[Action | None] = [None] * N_CODES
    default: Action = "bad"
    for item in text[1:-1].split():
        name, eq, value = item.partition("=")
        action: Action
        if not eq:
            return _actions("bad"), f"expecting value=action in {text}"
        if value.lower() in ACTIONS:
            action = value.lower()
        elif value.isascii() and value.isdigit() and int(value) > 0:
            action = int(value)
        else:
            return _actions("bad"), f"unrecognized action '{value}'"
        if name.lower() == "default":
            default = action
        elif name.lower() in VALUE_NAMES:
            out[VALUE_NAMES[name.lower()]] = action
        else:
            return _actions("bad"), f"unrecognized control value '{name}'"
    return tuple(default if a is None else a for a in out), None


def split_fields(line: str) -> list[str]:
    """Whitespace-separated words; ``[...]`` stays one word (``\\]`` inside is ``]``)."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        if line[i] == "[":
            j = i + 1
            buf = ["["]
            while j < n and line[j] != "]":
                if line[j] == "\\" and j + 1 < n and line[j + 1] == "]":
                    buf.append("]")
                    j += 2
                    continue
                buf.append(line[j])
                j += 1
            buf.append("]")
            words.append("".join(buf))
            i = j + 1
            continue
        j = i
        while j < n and not line[j].isspace():
            j += 1
        words.append(line[i:j])
        i = j
    return words


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with comments removed and continuations joined."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0] if "#" in raw else raw
        if not buf:
            start = number
        if line.endswith("\\") and "#" not in raw:
            buf.append(line[:-1] + " ")
            continue
        buf.append(line)
        joined = "".join(buf).strip()
        buf = []
        if joined:
            out.append((start, joined))
    if buf and "".join(buf).strip():
        out.append((start, "".join(buf).strip()))
    return out


def module_name(path: str) -> str:
    """``/lib/x86_64-linux-gnu/security/pam_unix.so`` -> ``pam_unix.so``."""
    return posixpath.basename(path)


class Loader:
    """Reads service files below ``/etc/pam.d`` in the lab root."""

    def __init__(self, resolver: PathResolver) -> None:
        self.resolver = resolver

    def _read(self, path: str) -> str | None:
        try:
            with open(self.resolver.real(path), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise PamConfAbort(f"cannot read {path}: {exc.strerror}") from exc

    def _path(self, name: str) -> str:
        return name if name.startswith("/") else posixpath.join(PAM_D, name)

    def load(self, service: str) -> Service:
        """pam_start(): the service's stacks, falling back to ``other`` like libpam."""
        out = Service(service)
        for name in (service, "other"):
            path = self._path(name)
            text = self._read(path)
            if text is not None:
                out.path = path
                for kind in TYPES:
                    out.stacks[kind] = self._rules(text, path, kind, 0, out.log)
                return out
        return out

    def _rules(self, text: str, path: str, want: str, depth: int, log: list[str]
               ) -> list[Rule]:
        if depth > MAX_DEPTH:
            raise PamConfAbort(f"{path}: include nesting too deep")
        rules: list[Rule] = []
        base = posixpath.basename(path)
        for number, line in logical_lines(text):
            origin = f"{base}:{number}"
            words = split_fields(line)
            head = words[0]
            if head == "@include":
                if len(words) < 2:
                    log.append(f"({origin}) @include without a file name")
                    continue
                rules.extend(self._include(words[1], want, depth, log))
                continue
            silent = head.startswith("-")
            kind = head[1:].lower() if silent else head.lower()
            if kind not in TYPES:
                # libpam: "illegal module type", a must-fail line of the requested type
                if want != "auth":
                    continue
                log.append(f"({origin}) illegal module type: {head}")
                actions, _ = parse_control(words[1]) if len(words) > 1 else (
                    _actions("bad"), None)
                rules.append(Rule(want, actions, must_fail=f"illegal module type: {head}",
                                  origin=origin))
                continue
            if kind != want:
                continue
            if len(words) < 2:
                log.append(f"({origin}) no control flag supplied")
                rules.append(Rule(kind, _actions("bad"), must_fail="no control flag",
                                  origin=origin))
                continue
            control = words[1]
            if control.lower() in ("include", "substack"):
                if len(words) < 3:
                    log.append(f"({origin}) {control} without a file name")
                    rules.append(Rule(kind, _actions("bad"), must_fail="no file name",
                                      origin=origin))
                    continue
                sub = self._include(words[2], want, depth, log)
                if control.lower() == "include":
                    rules.extend(sub)
                else:
                    rules.append(Rule(kind, KEYWORDS["required"], sub=sub, origin=origin))
                continue
            actions, error = parse_control(control)
            if error is not None:
                log.append(f"({origin}) {error}")
            if len(words) < 3:
                log.append(f"({origin}) no module name supplied")
                rules.append(Rule(kind, actions, must_fail="no module name",
                                  origin=origin, silent=silent))
                continue
            rules.append(Rule(kind, actions, module=module_name(words[2]),
                              args=tuple(words[3:]), silent=silent, origin=origin))
        return rules

    def _include(self, name: str, want: str, depth: int, log: list[str]) -> list[Rule]:
        path = self._path(name)
        text = self._read(path)
        if text is None:
            raise PamConfAbort(f"cannot open included file {path}")
        return self._rules(text, path, want, depth + 1, log)
