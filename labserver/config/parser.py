"""Reading dovecot.conf: files, includes, sections, filters and value forms.

This follows Dovecot 2.3's config parser line by line, so that a configuration is
accepted or refused for the same reason, with the same words, as real ``doveconf``
would: errors say ``Error in configuration file F line N: ...``, obsolete settings
from old guides are converted with Dovecot's own warnings (see ``obsolete.py``), and
``$setting`` and ``<file`` values are resolved only when values are expanded (as
the running server does, and ``doveconf -x``), not for a plain ``doveconf -n``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import filters as flt
from .lexer import LineReader, LineType, Token
from .registry import Registry, format_value, load_registry
from .resolve import PathResolver
from .store import SEP, SettingsError, Store, section_escape

if TYPE_CHECKING:
    from .obsolete import OldSettings

# Settings that belong to the auth process; Dovecot 2.3 refuses them inside
# local/remote blocks.
AUTH_KEYS = frozenset(
    ["passdb", "userdb", "base_dir", "verbose_proctitle", "first_valid_uid", "last_valid_uid",
     "first_valid_gid", "last_valid_gid", "ssl_client_ca_dir", "ssl_client_ca_file"]
    + ["auth_" + k for k in (
        "mechanisms realms default_realm cache_size cache_ttl cache_negative_ttl "
        "cache_verify_password_with_worker username_chars username_translation "
        "username_format master_user_separator anonymous_username krb5_keytab "
        "gssapi_hostname winbind_helper_path proxy_self failure_delay policy_server_url "
        "policy_server_api_header policy_server_timeout_msecs policy_hash_mech "
        "policy_hash_nonce policy_request_attributes policy_reject_on_fail "
        "policy_check_before_auth policy_check_after_auth policy_report_after_auth "
        "policy_log_only policy_hash_truncate stats verbose debug debug_passwords "
        "verbose_passwords ssl_require_client_cert ssl_username_from_cert use_winbind "
        "worker_max_count").split()]
)

MAX_INCLUDE_DEPTH = 100
MAX_FILE_BYTES = 64 * 1024 * 1024


class ConfigError(Exception):
    """The configuration was refused; ``str()`` is doveconf's message."""

    def __init__(self, message: str, messages: list[Message] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.messages = messages or []


@dataclass(frozen=True, slots=True)
class Message:
    """A warning or error doveconf would print on stderr (without the prefix)."""

    level: str  # "Warning" or "Error"
    text: str

    def __str__(self) -> str:
        return f"{self.level}: {self.text}"


@dataclass(eq=False)
class FilterParser:
    """The values set inside one distinct filter, and where it first appeared."""

    filter: flt.Filter
    store: Store
    file_and_line: str


@dataclass(eq=False)
class Section:
    prev: Section | None
    filter: flt.Filter
    parser: FilterParser
    key: str | None = None
    is_filter: bool = False
    saved_path: str = ""
    open_path: str = ""
    open_line: int = 0


@dataclass(eq=False)
class Input:
    path: str
    lines: Iterator[str]
    linenum: int = 0


@dataclass(eq=False)
class ParseContext:
    """The state of one parse (Dovecot's config_parser_context)."""

    registry: Registry
    resolver: PathResolver
    expand_values: bool
    path: str
    inputs: list[Input] = field(default_factory=list)
    parsers: list[FilterParser] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    seen_settings: dict[str, str] = field(default_factory=dict)
    cur: Section | None = None
    prefix: str = ""
    section_counter: int = 0
    error: str | None = None
    delayed_error: str | None = None
    old: OldSettings | None = None

    @property
    def cur_input(self) -> Input:
        return self.inputs[-1]

    @property
    def section(self) -> Section:
        assert self.cur is not None
        return self.cur

    def warn(self, text: str) -> None:
        self.messages.append(Message("Warning", text))

    def log_error(self, text: str) -> None:
        self.messages.append(Message("Error", text))

    # -- sections and filters ---------------------------------------------------

    def new_filter_parser(self, f: flt.Filter) -> FilterParser:
        inp = self.cur_input
        where = inp.path if inp.linenum == 0 else f"{inp.path}:{inp.linenum}"
        parser = FilterParser(filter=f, store=Store(self.registry), file_and_line=where)
        self.parsers.append(parser)
        return parser

    def push_section(self, key: str) -> Section:
        cur = self.section
        sec = Section(prev=cur, filter=cur.filter, parser=cur.parser, key=key,
                      saved_path=self.prefix, open_path=self.cur_input.path,
                      open_line=self.cur_input.linenum)
        self.cur = sec
        return sec

    def add_filter(self, key: str, value: str) -> bool:
        sec = self.section
        parent = sec.prev.filter if sec.prev is not None else flt.Filter()
        if key not in ("protocol", "local", "local_name", "remote"):
            return False
        err = flt.nesting_error(key, parent)
        new = parent
        if err is None:
            if key == "protocol":
                new = parent.with_(service=value)
            elif key == "local_name":
                new = parent.with_(local_name=value)
            else:
                try:
                    net = flt.parse_net(value)
                except ValueError as exc:
                    err = str(exc)
                else:
                    err = flt.narrower(key, getattr(parent, key), net)
                    new = parent.with_(**{key: net})
        if err is not None:
            self.error = err
        sec.filter = new
        found = next((p for p in self.parsers if p.filter == new), None)
        sec.parser = found if found is not None else self.new_filter_parser(new)
        sec.is_filter = True
        return True

    def warn_ssl_subsections(self) -> None:
        """Warn once when a filter enables ssl that the global ``ssl = no`` disables."""
        def explicit_ssl(parser: FilterParser, fallback: str) -> str:
            store = parser.store
            return str(store.get("ssl")[0]) if store.is_changed("ssl") else fallback  # type: ignore[index]

        global_ssl = explicit_ssl(self.parsers[0], "")
        if global_ssl != "no":
            return
        for parser in self.parsers:
            value = explicit_ssl(parser, global_ssl)
            if value != "no":
                self.warn(f"SSL is disabled because global ssl=no, ignoring ssl={value} "
                          "for subsection")
                return

    def full_setting_path(self, key: str) -> str:
        names: list[str] = []
        sec = self.cur
        while sec is not None:
            if not sec.is_filter and sec.key is not None:
                names.append(f"{sec.key} {{ ")
            sec = sec.prev
        return "".join(reversed(names)) + key

    # -- applying values -----------------------------------------------------

    def apply(self, key: str, line: str, section_name: str | None = None) -> bool:
        """Dovecot's config_apply_line: set ``path=value`` in the current store."""
        store = self.section.parser.store
        try:
            known = store.parse_line(line)
        except SettingsError as exc:
            self.error = str(exc)
            return False
        if not known:
            self.error = f"Unknown setting: {self.full_setting_path(key)}"
            return False
        f = self.section.filter
        if (f.local is not None or f.remote is not None or f.local_name is not None) and (
            line.split("=", 1)[0].split(SEP, 1)[0] in AUTH_KEYS
        ):
            self.error = f"Auth settings not supported inside local/remote blocks: {key}"
            return False
        if section_name is not None:
            if store.prev_info is None:
                if store.prev_was_strlist:
                    return True
                self.error = "Section not allowed here"
                return False
            if store.prev_info.unique_key is not None:
                path, _, escaped = line.partition("=")
                store.set(f"{path}{SEP}{escaped}{SEP}{store.prev_info.unique_key}", section_name)
        return True

    def check_warnings(self, path: str, key: str) -> None:
        first = self.seen_settings.get(path)
        if self.section.prev is None:
            if first is not None:
                self.warn(
                    f"{self.cur_input.path} line {self.cur_input.linenum}: Global setting "
                    f"{key} won't change the setting inside an earlier filter at {first} "
                    "(if this is intentional, avoid this warning by moving the global "
                    f"setting before {first})"
                )
            return
        if first is None:
            self.seen_settings[path] = f"{self.cur_input.path} line {self.cur_input.linenum}"

    def lookup_variable(self, name: str, expand_parent: bool) -> tuple[object, str] | None:
        sec = self.cur
        while sec is not None:
            store = sec.parser.store
            got = store.get(name)
            if got is None:
                return None
            if not expand_parent or sec.prev is None or store.is_changed(name):
                value, sdef = got
                return value, sdef.type
            sec = sec.prev
        return None

    def write_variables(self, key: str, value: str) -> str | None:
        """Expand ``$name`` words (Dovecot's config_write_keyvariable)."""
        out: list[str] = []
        pos = 0
        while True:
            sp = value.find(" ", pos)
            word = value[pos:] if sp < 0 else value[pos:sp]
            expand_parent = key == (word[1:] if word.startswith("$") else word)
            if not word.startswith("$") or (pos > 0 and value[pos - 1] not in " \t"):
                out.append(word)
            elif not self.expand_values and not expand_parent:
                out.append(word)
            elif word.startswith("$ENV:"):
                out.append(os.environ.get(word[5:], ""))
            else:
                found = self.lookup_variable(word[1:], expand_parent)
                if found is None:
                    self.error = f"Unknown variable: {word}"
                    return None
                val, type_ = found
                if type_ not in ("bool", "uint", "uint_oct", "time", "time_msecs", "size",
                                 "in_port", "str", "str_vars", "enum"):
                    self.error = f"Invalid variable: {word}"
                    return None
                out.append(format_value(type_, val))
            if sp < 0:
                break
            out.append(" ")
            pos = sp
            while pos < len(value) and value[pos] in " \t":
                pos += 1
        return "".join(out)

    def fix_relative(self, path: str) -> str:
        if path.startswith("/"):
            return path
        base = self.cur_input.path
        slash = base.rfind("/")
        return path if slash < 0 else base[: slash + 1] + path

    def read_value_file(self, full_key: str, path: str) -> str | None:
        path = self.fix_relative(path)
        real = self.resolver.real(path)
        try:
            with open(real, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.error = f"{full_key}: Can't open file {path}: {_strerror(exc)}"
            return None
        return data[:MAX_FILE_BYTES].decode("utf-8", "surrogateescape")

    def apply_token(self, tok: Token) -> None:
        """Dovecot's config_parser_apply_line."""
        t = tok.type
        if t is LineType.SKIP:
            return
        if t is LineType.ERROR:
            self.error = tok.value
            return
        if t in (LineType.KEYVALUE, LineType.KEYFILE, LineType.KEYVARIABLE):
            path = self.prefix + tok.key
            self.check_warnings(path, tok.key)
            if t is LineType.KEYVALUE:
                value: str | None = tok.value
            elif t is LineType.KEYFILE:
                value = ("<" + tok.value) if not self.expand_values else (
                    self.read_value_file(path, tok.value))
            else:
                value = self.write_variables(tok.key, tok.value)
            if value is not None:
                self.apply(tok.key, f"{path}={value}")
            return
        if t is LineType.SECTION_BEGIN:
            sec = self.push_section(tok.key)
            if self.add_filter(tok.key, tok.value):
                return
            if tok.value == "":
                name = str(self.section_counter)
                self.section_counter += 1
            else:
                name = section_escape(tok.value)
            base = self.prefix + tok.key
            if not self.apply(tok.key, f"{base}={name}", tok.value):
                return
            self.prefix = f"{base}{SEP}{name}{SEP}"
            return
        if t is LineType.SECTION_END:
            sec = self.section
            if sec.prev is None:
                self.error = "Unexpected '}'"
            else:
                self.prefix = sec.saved_path
                self.cur = sec.prev
            return
        if t in (LineType.INCLUDE, LineType.INCLUDE_TRY):
            self.include(self.fix_relative(tok.value), t is LineType.INCLUDE_TRY)

    # -- files --------------------------------------------------------------

    def include(self, pattern: str, ignore_errors: bool) -> None:
        try:
            matches = self.resolver.glob(pattern)
        except (OSError, ValueError):
            matches = []
        if not matches:
            if not ignore_errors:
                self.error = "No matches"
            return
        for path in reversed(matches):
            if any(inp.path == path for inp in self.inputs):
                self.error = f"Recursive include file: {path}"
                return
            if len(self.inputs) >= MAX_INCLUDE_DEPTH:
                self.error = f"Include nesting too deep: {path}"
                return
            try:
                lines = _read_lines(self.resolver.real(path))
            except OSError as exc:
                if ignore_errors:
                    continue
                self.error = f"Couldn't open include file {path}: {_strerror(exc)}"
                return
            self.inputs.append(Input(path=path, lines=lines))


def _strerror(exc: OSError) -> str:
    if isinstance(exc, IsADirectoryError):
        return "Is a directory"
    return exc.strerror or str(exc)


def _read_lines(real_path: str) -> Iterator[str]:
    """Lines of a file as Dovecot's istream gives them (CR stripped, bytes kept)."""
    fh = open(real_path, "rb")  # noqa: SIM115 - closed by the generator

    def gen() -> Iterator[str]:
        with fh:
            total = 0
            for raw in fh:
                total += len(raw)
                if total > MAX_FILE_BYTES:
                    raise ConfigError(f"Error in configuration file {real_path}: "
                                      "File too large")
                line = raw.rstrip(b"\n")
                if line.endswith(b"\r"):
                    line = line[:-1]
                yield line.decode("utf-8", "surrogateescape")

    return gen()


def _text_lines(text: str) -> Iterator[str]:
    for line in text.split("\n"):
        yield line[:-1] if line.endswith("\r") else line


def parse(
    path: str,
    *,
    text: str | None = None,
    resolver: PathResolver | None = None,
    expand_values: bool = False,
    registry: Registry | None = None,
) -> ParseContext:
    """Parse a configuration file (or ``text`` presented as that file).

    Raises ConfigError for what Dovecot refuses while reading; the returned context
    holds the stores per filter and the warnings.
    """
    from .obsolete import OldSettings

    resolver = resolver or PathResolver()
    ctx = ParseContext(registry=registry or load_registry(), resolver=resolver,
                       expand_values=expand_values, path=path)
    if text is None:
        try:
            lines = _read_lines(resolver.real(path))
        except OSError as exc:
            raise ConfigError(f"open({path}) failed: {_strerror(exc)}") from None
    else:
        lines = _text_lines(text)
    ctx.inputs.append(Input(path=path, lines=lines))
    root_parser = ctx.new_filter_parser(flt.Filter())
    ctx.cur = Section(prev=None, filter=flt.Filter(), parser=root_parser)
    ctx.old = OldSettings(ctx)
    reader = LineReader()
    while ctx.inputs:
        inp = ctx.inputs[-1]
        try:
            raw = next(inp.lines)
        except StopIteration:
            ctx.inputs.pop()
            continue
        except OSError as exc:
            raise ConfigError(f"Error in configuration file {inp.path}: "
                              f"read() failed: {_strerror(exc)}", ctx.messages) from None
        inp.linenum += 1
        tok = reader.feed(raw)
        if tok.ambiguous_hash:
            ctx.warn(f"Configuration file {inp.path} line {inp.linenum}: Ambiguous '#' "
                     "character in line, treating it as comment. Add a space before it "
                     "to remove this warning.")
        if tok.type is LineType.CONTINUE:
            continue
        if not ctx.old.handle(tok):
            ctx.apply_token(tok)
        if ctx.error is not None:
            raise ConfigError(
                f"Error in configuration file {inp.path} line {inp.linenum}: {ctx.error}",
                ctx.messages,
            )
    if ctx.section.prev is not None:
        # Dovecot reports this only after the whole file was read: doveconf still
        # prints what it parsed, then fails.
        ctx.delayed_error = (
            f"Error in configuration file {path}: Missing '}}' (section started at "
            f"{ctx.section.open_path}:{ctx.section.open_line})"
        )
    else:
        ctx.warn_ssl_subsections()
    return ctx
