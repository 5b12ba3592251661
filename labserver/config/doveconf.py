"""``doveconf`` for the lab: the same output as Dovecot 2.3's doveconf.

``-n`` prints the settings that differ from the defaults, ``-a`` everything,
``-N`` what was explicitly set, and ``doveconf NAME`` one setting (or section).
Values of keys that look secret (``*_password``, ``*_key``, ``ssl_dh``...) are hidden
unless ``-P`` is given, exactly as doveconf hides them. The ``#`` header lines give
the lab's version and the configuration path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import checks
from . import filters as flt
from .config import Config
from .export import LIST_MARK, UNIQUE_MARK, Exporter, Scope, sort_key
from .lexer import escape

INDENT = "  "
_SECRETS = ("key", "secret", "pass", "http://", "https://", "ftp://")


def _needs_quote(value: str) -> bool:
    return value != "" and ("#" in value or value[0] in " \t" or value[-1] in " \t")


def _find_next_secret(text: str, start: int) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for secret in _SECRETS:
        pos = text.find(secret, start)
        if pos >= 0 and (best is None or pos < best[0]):
            best = (pos, secret)
    return best


def hide_secrets(key: str, value: str) -> str | None:
    """The value with secrets hidden, or None when nothing needs hiding."""
    if value and (
        any(len(key) > len(s) and key.endswith(s) for s in ("_password", "_key", "_nonce"))
        or key.startswith("ssl_dh")
    ):
        return "# hidden, use -P to show it"
    quote = _needs_quote(value)
    out: list[str] = []

    def emit(text: str) -> None:
        out.append(escape(text) if quote else text)

    hidden = False
    optr = ptr = 0
    while (found := _find_next_secret(value, ptr)) is not None:
        ptr, secret = found
        if "://" in secret:
            ptr += len(secret)
            start_user = ptr
            start_host = None
            while ptr < len(value) and not value[ptr].isspace() and value[ptr] != "/":
                if value[ptr] == "@":
                    start_host = ptr
                    break
                ptr += 1
            emit(value[optr:start_user])
            if start_host is not None and start_host != start_user:
                out.append("#hidden_use-P_to_show#")
            else:
                emit(value[start_user:ptr])
            optr = ptr
            hidden = True
            continue
        hidden = True
        if ptr == 0 or not value[ptr - 1].isalnum():
            while ptr < len(value) and value[ptr] != "=" and not value[ptr].isspace():
                ptr += 1
            while ptr < len(value) and value[ptr].isspace():
                ptr += 1
            emit(value[optr:ptr])
            if ptr < len(value) and value[ptr] == "=":
                out.append("=")
                out.append("#hidden_use-P_to_show#")
                while ptr < len(value) and not value[ptr].isspace() and value[ptr] not in ";:":
                    ptr += 1
            optr = ptr
        else:
            ptr += 1
    if not hidden:
        return None
    emit(value[optr:])
    return "".join(out)


@dataclass
class _Printer:
    """Turns sorted export strings into nested blocks (config_dump_human_output)."""

    hide_passwords: bool = True
    lines: list[str] = field(default_factory=list)
    list_prefix_sent: bool = False

    def output(self, strings: list[str], indent: int, pending: str = "",
               name_filter: str | None = None) -> None:
        strings = sorted(strings, key=sort_key)
        prefixes: list[str] = []
        i = 0
        while i < len(strings) and strings[i].startswith(LIST_MARK):
            key, _, val = strings[i][1:].partition("=")
            if val == "":
                prefixes.append(key + "/")
            else:
                prefixes.extend(f"{key}/{arg}/" for arg in val.split(" "))
            i += 1
        list_prefix = pending
        stack: list[tuple[int | None, int | None]] = []  # (prefix_idx, str_pos)
        prefix_idx: int | None = None
        for s in strings[i:]:
            key, _, value = s.partition("=")
            unique = False
            slash = key.rfind("/")
            if slash >= 0 and key[slash + 1:slash + 2] == UNIQUE_MARK:
                key = key[:slash + 1] + key[slash + 2:]
                unique = True
            if name_filter and not (key.startswith(name_filter) and key[len(name_filter):][:1]
                                    in ("/", "")):
                continue
            while True:
                j = 0
                while prefix_idx is not None:
                    if not key.startswith(prefixes[prefix_idx]):
                        popped_pos = stack.pop()[1]
                        indent -= 1
                        if popped_pos is not None:
                            list_prefix = list_prefix[:popped_pos]
                        else:
                            self.lines.append(INDENT * indent + "}")
                        prefix_idx = stack[-1][0] if stack else None
                    else:
                        j = prefix_idx + 1
                        break
                opened = False
                for k in range(j, len(prefixes)):
                    if key.startswith(prefixes[k]):
                        rel = key[len(prefixes[prefix_idx]) if prefix_idx is not None else 0:]
                        str_pos = len(list_prefix) if unique else None
                        prefix_idx = k
                        stack.append((k, str_pos))
                        head = rel.split("/", 1)[0]
                        if unique and value:
                            head += f" {value}" if " " not in value else f' "{escape(value)}"'
                        list_prefix += INDENT * indent + head + " {\n"
                        indent += 1
                        opened = True
                        break
                if opened and not unique:
                    continue
                break
            if opened and unique:
                continue
            if list_prefix:
                self.lines.extend(list_prefix.rstrip("\n").split("\n"))
            list_prefix = ""
            stack = [(idx, None) for idx, _ in stack]
            self.list_prefix_sent = True
            skip = len(prefixes[prefix_idx]) if prefix_idx is not None else 0
            rel_key = s[skip:].partition("=")[0]
            if unique:
                rel_key = rel_key[1:]
            self.lines.append(INDENT * indent + f"{rel_key} = {self._value(rel_key, value)}")
        while prefix_idx is not None:
            _, pos = stack.pop()
            if pos is not None:
                break
            prefix_idx = stack[-1][0] if stack else None
            indent -= 1
            self.lines.append(INDENT * indent + "}")

    def _value(self, key: str, value: str) -> str:
        if self.hide_passwords:
            hidden = hide_secrets(key, value)
            if hidden is not None:
                return hidden
        if not _needs_quote(value):
            return value
        return f'"{escape(value)}"'


def _filter_begin(f: flt.Filter) -> tuple[str, int]:
    text = ""
    indent = 0
    if f.local is not None:
        text += f"local {flt.net_text(f.local)} {{\n"
        indent += 1
    if f.local_name is not None:
        text += INDENT * indent + f"local_name {f.local_name} {{\n"
        indent += 1
    if f.remote is not None:
        text += INDENT * indent + f"remote {flt.net_text(f.remote)} {{\n"
        indent += 1
    if f.service is not None:
        text += INDENT * indent + f"protocol {f.service} {{\n"
        indent += 1
    return text, indent


@dataclass
class DumpResult:
    """What doveconf printed: stdout lines, stderr messages and the exit code."""

    stdout: str
    errors: list[str]
    exit_code: int


def dump(config: Config, mode: str = "n", names: tuple[str, ...] = (),
         hide_passwords: bool = True, header: bool = True) -> DumpResult:
    """Print a parsed configuration as ``doveconf -n``/``-a``/``-N``/``NAME`` does."""
    scope = {"n": Scope.CHANGED, "a": Scope.ALL_WITHOUT_HIDDEN, "N": Scope.SET}[mode]
    errors = [str(m) for m in config.messages]
    reading_warnings, printing_warnings = checks.warnings(config)
    if config.delayed_error is None:
        errors.extend(f"Warning: {w}" for w in reading_warnings)
    out: list[str] = []
    if names:
        if scope is Scope.ALL_WITHOUT_HIDDEN:
            scope = Scope.ALL_WITH_HIDDEN
        for name in names:
            out.extend(_dump_one(config, scope, name, hide_passwords))
        return DumpResult("".join(line + "\n" for line in out), errors, 0)
    if header:
        out.append(f"# {config.registry.version} (labserver): {config.path}")
        out.append(f"# Hostname: {config.hostname}")
        if scope is Scope.ALL_WITHOUT_HIDDEN:
            out.append("# NOTE: Send doveconf -n output instead when asking for help.")
    printer = _Printer(hide_passwords=hide_passwords)
    printer.output(Exporter(scope).run(config.global_store), 0)
    out.extend(printer.lines)
    check_errors = checks.global_errors(config)
    for fp in sorted(config.filter_parsers[1:], key=lambda p: _filter_rev_key(p.filter)):
        head, indent = _filter_begin(fp.filter)
        sub = _Printer(hide_passwords=hide_passwords)
        sub.output(Exporter(Scope.SET).run(fp.store), indent, pending=head)
        if sub.list_prefix_sent:
            sub.lines.extend(INDENT * i + "}" for i in reversed(range(indent)))
        out.extend(sub.lines)
    code = 0
    errors.extend(f"Warning: {w}" for w in printing_warnings)
    errors.extend(f"Error: {e}" for e in check_errors)
    fatal = config.fatal_error()
    if fatal is not None:
        errors.append(f"Fatal: {fatal}")
        code = 89
    return DumpResult("".join(line + "\n" for line in out), errors, code)


def _filter_rev_key(f: flt.Filter) -> tuple[int, ...]:
    return tuple(-x for x in flt.specificity(f))


def _dump_one(config: Config, scope: Scope, name: str, hide_passwords: bool) -> list[str]:
    strings = Exporter(scope).run(config.global_store)
    section = False
    for s in strings:
        if not s.startswith(name):
            continue
        rest = s[len(name):]
        if rest.startswith("="):
            return [f"{name} = {rest[1:]}"]
        if rest.startswith("/"):
            section = True
    if not section:
        return []
    printer = _Printer(hide_passwords=hide_passwords)
    printer.output(strings, 0, name_filter=name)
    return printer.lines
