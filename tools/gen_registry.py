#!/usr/bin/env python3
"""Generate the Dovecot 2.3 settings registry used by labserver.config.

Two inputs are combined:

* a Dovecot 2.3 source tree (``--source DIR``): the ``*-settings.c`` files give
  every setting's type, enum values, hidden flag, declaration order, the
  section (deflist / strlist) structure and the key that names a section;
* the installed ``doveconf``: run on temporary configuration files, it is the
  authority for the set of keys it knows and for the defaults *as it prints
  them*. Every setting is also probed with an invalid value to confirm the type
  the source declares.

The result is written to ``labserver/config/settings-<major.minor.patch>.json``.
Disagreements between the two inputs are printed on stderr as a report.

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import ast
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

VERSION = "2.3.19.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "labserver" / "config" / "settings-2.3.19.json"

# Roots that config/settings-get.pl always puts first, in this order; the rest
# are the parser infos that declare a .module_name, sorted by C identifier.
FIXED_ROOTS = (
    "master_service_setting_parser_info",
    "master_service_ssl_setting_parser_info",
    "master_service_ssl_server_setting_parser_info",
    "smtp_submit_setting_parser_info",
)
FIXED_ROOT_FILES = (
    "src/lib-master/master-service-settings.c",
    "src/lib-master/master-service-ssl-settings.c",
    "src/lib-smtp/smtp-submit-settings.c",
)
# Preprocessor symbols assumed defined when building doveconf (the generated
# all-settings.c is compiled with CONFIG_BINARY; the rest describe the Debian
# build). Only used to pick #if branches; doveconf's output stays authoritative.
DEFAULT_DEFINED = (
    "CONFIG_BINARY",
    "HAVE_SSL",
    "HAVE_LIBWRAP",
    "HAVE_LIBSYSTEMD",
    "HAVE_SSL_CTX_SET1_CURVES_LIST",
)

SET_TYPES = {
    "BOOL": "bool",
    "UINT": "uint",
    "UINT_OCT": "uint_oct",
    "TIME": "time",
    "TIME_MSECS": "time_msecs",
    "SIZE": "size",
    "IN_PORT": "in_port",
    "STR": "str",
    "STR_VARS": "str_vars",
    "ENUM": "enum",
}
LIST_TYPES = {
    "DEFLIST": "deflist",
    "DEFLIST_UNIQUE": "deflist_unique",
    "STRLIST": "strlist",
}
UOFF_T_MAX = 2**64 - 1
UINT_MAX = 2**32 - 1

# A minimal, valid section of each kind so that `doveconf -a` prints the
# defaults of every setting inside it. Values that must be set for the
# configuration to pass doveconf's checks are listed in PROBE_FORCED and are
# replaced by the source default afterwards.
PROBE_SECTIONS_CONF = """\
namespace probe {
  mailbox probe {
  }
}
passdb {
  driver = static
}
userdb {
  driver = static
}
metric probe {
  filter = event=probe
}
event_exporter probe {
  format = json
  format_args = time-rfc3339
  transport = log
}
service probe {
  executable = probe
  unix_listener probe {
  }
  fifo_listener probe-fifo {
  }
  inet_listener probe {
  }
}
"""
PROBE_FORCED = {
    "passdb": {"driver"},
    "userdb": {"driver"},
    "metric": {"filter"},
    "event_exporter": {"format", "format_args", "transport"},
    "service": {"executable"},
}

# --------------------------------------------------------------------------
# C source reading
# --------------------------------------------------------------------------

_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
_STRING_RE = re.compile(r"\"(?:\\.|[^\"\\])*\"")


def strip_comments(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        if s.startswith("/*"):
            return " " + "\n" * s.count("\n")
        if s.startswith("//"):
            return " "
        return s

    return _COMMENT_RE.sub(repl, text)


def _eval_pp_condition(expr: str, defined: set[str]) -> bool:
    expr = re.sub(
        r"defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)",
        lambda m: "1" if (m.group(1) or m.group(2)) in defined else "0",
        expr,
    )
    expr = re.sub(r"\b[A-Za-z_]\w*\b", "0", expr)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    try:
        return bool(_safe_eval(expr))
    except (ValueError, SyntaxError):
        return False


def resolve_conditionals(text: str, defined: set[str]) -> str:
    """Keep only the #if branches that are active for `defined`."""
    out: list[str] = []
    # stack entries: [parent_active, branch_taken, active]
    stack: list[list[bool]] = []
    active = True
    for line in text.split("\n"):
        m = re.match(r"\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", line)
        if not m:
            out.append(line if active else "")
            continue
        kind, rest = m.group(1), m.group(2).strip()
        if kind in ("ifdef", "ifndef", "if"):
            if kind == "ifdef":
                cond = rest.split()[0] in defined if rest else False
            elif kind == "ifndef":
                cond = rest.split()[0] not in defined if rest else True
            else:
                cond = _eval_pp_condition(rest, defined)
            stack.append([active, cond, active and cond])
        elif kind == "elif" and stack:
            top = stack[-1]
            cond = not top[1] and _eval_pp_condition(rest, defined)
            top[1] = top[1] or cond
            top[2] = top[0] and cond
        elif kind == "else" and stack:
            top = stack[-1]
            top[2] = top[0] and not top[1]
            top[1] = True
        elif kind == "endif" and stack:
            stack.pop()
        active = stack[-1][2] if stack else True
        out.append("")
    return "\n".join(out)


def split_top(s: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside of brackets and string literals."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == '"':
            m = _STRING_RE.match(s, i)
            end = m.end() if m else len(s)
            cur.append(s[i:end])
            i = end
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    tail = "".join(cur)
    if tail.strip():
        parts.append(tail)
    return [p.strip() for p in parts]


def match_brace(s: str, start: int) -> int:
    """Index just past the brace matching the '{' at `start`."""
    depth = 0
    i = start
    while i < len(s):
        c = s[i]
        if c == '"':
            m = _STRING_RE.match(s, i)
            i = m.end() if m else len(s)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced braces")


def c_string_concat(expr: str) -> str | None:
    """Value of an expression made only of adjacent string literals."""
    rest = _STRING_RE.sub("", expr).strip()
    if rest:
        return None
    return "".join(ast.literal_eval(lit) for lit in _STRING_RE.findall(expr))


@dataclass
class Macro:
    params: list[str] | None
    body: str


_TOKEN_RE = re.compile(
    r"\"(?:\\.|[^\"\\])*\"|##|#\s*[A-Za-z_]\w*|[A-Za-z_]\w*|[0-9][0-9A-Za-z]*|<<|>>|\s+|.",
    re.S,
)


def expand_function_macro(macro: Macro, args: list[str]) -> str:
    amap = dict(zip(macro.params or [], args, strict=False))
    toks = _TOKEN_RE.findall(macro.body)
    out: list[str] = []
    paste = False
    for tok in toks:
        if tok == "##":
            while out and out[-1].isspace():
                out.pop()
            paste = True
            continue
        if tok.isspace():
            if not paste:
                out.append(tok)
            continue
        if tok.startswith("#") and tok[1:].strip() in amap:
            val = '"' + amap[tok[1:].strip()] + '"'
        elif tok in amap:
            val = amap[tok]
        else:
            val = tok
        if paste and out:
            out[-1] = out[-1] + val
        else:
            out.append(val)
        paste = False
    return "".join(out).strip()


def expand_item(item: str, funcs: dict[str, Macro]) -> str:
    for _ in range(8):
        m = re.match(r"^([A-Za-z_]\w*)\s*\((.*)\)\s*$", item, re.S)
        if not m or m.group(1) not in funcs or funcs[m.group(1)].params is None:
            return item
        item = expand_function_macro(funcs[m.group(1)], split_top(m.group(2)))
    return item


# --- safe arithmetic evaluation ------------------------------------------------

_BIN_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
}


def _safe_eval(expr: str) -> int:
    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return int(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN_OPS:
            return _BIN_OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -ev(node.operand)
            if isinstance(node.op, ast.UAdd):
                return ev(node.operand)
            if isinstance(node.op, ast.Not):
                return int(not ev(node.operand))
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return int(all(vals))
            return int(any(vals))
        raise ValueError("unsupported expression")

    return ev(ast.parse(expr.strip(), mode="eval"))


class Unevaluated(Exception):
    pass


_BUILTIN_VALUES: dict[str, object] = {
    "TRUE": 1,
    "FALSE": 0,
    "NULL": None,
    "UOFF_T_MAX": UOFF_T_MAX,
    "UINT_MAX": UINT_MAX,
    "SIZE_MAX": UOFF_T_MAX,
}
_CAST_RE = re.compile(
    r"\(\s*(?:const\s+)?(?:unsigned\s+int|unsigned|uoff_t|int|size_t|in_port_t|"
    r"time_t|long|unsigned\s+long|long\s+long|unsigned\s+long\s+long)\s*\)"
)


def c_eval(expr: str, macros: dict[str, Macro], depth: int = 0) -> object:
    """Evaluate a C initializer: string concatenation, integer arithmetic,
    TRUE/FALSE/NULL. Raises Unevaluated for anything else."""
    if depth > 16:
        raise Unevaluated(expr)
    expr = expr.strip()
    if expr in _BUILTIN_VALUES:
        return _BUILTIN_VALUES[expr]
    toks = [t for t in _TOKEN_RE.findall(_CAST_RE.sub(" ", expr)) if not t.isspace()]
    # expand identifiers; parts are ("str", s), ("num", n) or ("op", token)
    parts: list[tuple[str, object]] = []
    for tok in toks:
        if re.fullmatch(r"[A-Za-z_]\w*", tok):
            if tok in _BUILTIN_VALUES:
                val = _BUILTIN_VALUES[tok]
            elif tok in macros and macros[tok].params is None:
                val = c_eval(macros[tok].body, macros, depth + 1)
            else:
                raise Unevaluated(tok)
            if val is None:
                parts.append(("null", None))
            else:
                parts.append(("str" if isinstance(val, str) else "num", val))
        elif tok.startswith('"'):
            parts.append(("str", ast.literal_eval(tok)))
        else:
            parts.append(("op", tok))
    if parts and all(k == "str" for k, _ in parts):
        return "".join(str(v) for _, v in parts)
    if len(parts) == 1 and parts[0][0] == "null":
        return None
    text = []
    for k, v in parts:
        if k == "num":
            text.append(str(int(v)))  # type: ignore[call-overload]
        elif k == "op" and _is_c_token(str(v)):
            text.append(_c_number(str(v)))
        else:
            raise Unevaluated(expr)
    try:
        return _safe_eval(" ".join(text).replace("/", "//"))
    except (ValueError, SyntaxError, ZeroDivisionError) as exc:
        raise Unevaluated(expr) from exc


def _is_c_token(s: str) -> bool:
    return bool(re.fullmatch(r"[0-9][0-9A-Za-z]*|[-+*/%()<>|&!]|<<|>>|\|\||&&", s))


def _c_number(tok: str) -> str:
    m = re.fullmatch(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)[uUlL]*", tok)
    if not m:
        return tok
    num = m.group(1)
    if len(num) > 1 and num[0] == "0" and num[1] not in "xX":
        return "0o" + num[1:]
    return num


# --- settings source model ---------------------------------------------------


@dataclass
class Define:
    key: str
    kind: str  # a SET_TYPES value, a LIST_TYPES value, or "alias"
    field: str | None
    hidden: bool = False
    list_info: str | None = None


@dataclass
class ParserInfo:
    cname: str
    path: str
    module_name: str | None = None
    defines_name: str | None = None
    defaults_name: str | None = None
    type_offset_field: str | None = None
    defines: list[Define] = field(default_factory=list)
    defaults: dict[str, object] = field(default_factory=dict)
    unevaluated: dict[str, str] = field(default_factory=dict)

    def unique_key(self) -> str | None:
        for d in self.defines:
            if d.field is not None and d.field == self.type_offset_field:
                return d.key
        return None


_DECL_RE = re.compile(
    r"^[ \t]*(?:static\s+)?(?:const\s+)?struct\s+(\w+)\s+(\w+)\s*(\[\s*\])?\s*=\s*\{", re.M
)
_DIRECTIVE_RE = re.compile(r"^[ \t]*#[ \t]*(define|undef)[ \t]+(\w+)(\([^)]*\))?(.*)$", re.M)


def _parse_define_item(item: str, funcs: dict[str, Macro]) -> Define | None | str:
    """A Define, None for the list end, or an error string."""
    item = expand_item(item, funcs)
    if item in ("SETTING_DEFINE_LIST_END", "") or re.fullmatch(
        r"\{\s*0\s*,\s*0\s*,\s*NULL\s*,\s*0\s*,\s*NULL\s*\}", item
    ):
        return None
    m = re.fullmatch(r"SETTING_DEFINE_STRUCT_(\w+)\s*\((.*)\)", item, re.S)
    if m:
        tname, args = m.group(1), split_top(m.group(2))
        hidden = False
        if tname == "TYPE":
            # SETTING_DEFINE_STRUCT_TYPE(SET_X, flags, c_type, key, name, struct)
            tname = args[0].removeprefix("SET_")
            hidden = "SET_FLAG_HIDDEN" in args[1]
            args = args[3:]
        if tname.endswith("_HIDDEN"):
            tname = tname[: -len("_HIDDEN")]
            hidden = True
        key = c_string_concat(args[0])
        if tname not in SET_TYPES or key is None:
            return f"unsupported define: {item}"
        return Define(key=key, kind=SET_TYPES[tname], field=args[1].strip(), hidden=hidden)
    if item.startswith("{") and item.endswith("}"):
        desig: dict[str, str] = {}
        for part in split_top(item[1:-1]):
            dm = re.fullmatch(r"\.(\w+)\s*=\s*(.*)", part, re.S)
            if dm:
                desig[dm.group(1)] = dm.group(2).strip()
        stype = desig.get("type", "").removeprefix("SET_")
        key = c_string_concat(desig.get("key", ""))
        if key is None:
            return f"unsupported define: {item}"
        fld = None
        om = re.search(r"offsetof\s*\(\s*struct\s+\w+\s*,\s*(\w+)\s*\)", desig.get("offset", ""))
        if om:
            fld = om.group(1)
        hidden = "SET_FLAG_HIDDEN" in desig.get("flags", "")
        if stype == "ALIAS":
            return Define(key=key, kind="alias", field=None)
        if stype in LIST_TYPES:
            li = desig.get("list_info", "").lstrip("&").strip() or None
            return Define(key=key, kind=LIST_TYPES[stype], field=fld, list_info=li)
        if stype in SET_TYPES:
            return Define(key=key, kind=SET_TYPES[stype], field=fld, hidden=hidden)
    return f"unsupported define: {item}"


class SourceTree:
    def __init__(self, root: Path, defined: set[str]) -> None:
        self.root = root
        self.defined = defined
        self.problems: list[str] = []
        self.header_macros: dict[str, Macro] = {}
        self.infos: dict[str, ParserInfo] = {}
        self._load_header_macros()

    # configure.ac: SETTING_FILES are all src/**/*settings.[ch], except the
    # lib-master, lib-smtp and lib-settings .c files (their roots are linked
    # in and listed explicitly by settings-get.pl).
    def setting_files(self) -> list[Path]:
        files = []
        for p in sorted((self.root / "src").rglob("*settings.c")):
            rel = p.relative_to(self.root).as_posix()
            if "all-settings" in rel:
                continue
            if re.match(r"src/lib-(master|smtp|settings)", rel):
                continue
            files.append(p)
        return files

    def _load_header_macros(self) -> None:
        for p in sorted((self.root / "src").rglob("*.h")):
            try:
                text = p.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            text = resolve_conditionals(strip_comments(text).replace("\\\n", " "), self.defined)
            for m in _DIRECTIVE_RE.finditer(text):
                if m.group(1) == "define" and m.group(3) is None:
                    self.header_macros.setdefault(m.group(2), Macro(None, m.group(4).strip()))

    def parse_file(self, path: Path) -> list[ParserInfo]:
        rel = path.relative_to(self.root).as_posix()
        raw = path.read_text(encoding="utf-8", errors="replace")
        text = resolve_conditionals(strip_comments(raw).replace("\\\n", " "), self.defined)
        events: list[tuple[int, str, str, Macro | None]] = []
        for m in _DIRECTIVE_RE.finditer(text):
            params = None
            if m.group(3) is not None:
                params = [p.strip() for p in m.group(3)[1:-1].split(",") if p.strip()]
            events.append((m.start(), m.group(1), m.group(2), Macro(params, m.group(4).strip())))
        macros = dict(self.header_macros)
        define_arrays: dict[str, list[Define]] = {}
        structs: dict[str, dict[str, str]] = {}
        struct_macros: dict[str, dict[str, Macro]] = {}
        infos: list[ParserInfo] = []
        ev_idx = 0
        for m in _DECL_RE.finditer(text):
            while ev_idx < len(events) and events[ev_idx][0] < m.start():
                _, kind, name, macro = events[ev_idx]
                if kind == "define" and macro is not None:
                    macros[name] = macro
                else:
                    macros.pop(name, None)
                ev_idx += 1
            stype, name, is_array = m.group(1), m.group(2), m.group(3)
            brace = m.end() - 1
            body = text[brace + 1 : match_brace(text, brace) - 1]
            if stype == "setting_define" and is_array:
                defs: list[Define] = []
                for item in split_top(body):
                    d = _parse_define_item(item, macros)
                    if d is None:
                        break
                    if isinstance(d, str):
                        self.problems.append(f"{rel}: {name}: {d}")
                        continue
                    defs.append(d)
                define_arrays[name] = defs
            elif stype == "setting_parser_info" and not is_array:
                info = ParserInfo(cname=name, path=rel)
                for part in split_top(body):
                    dm = re.fullmatch(r"\.(\w+)\s*=\s*(.*)", part, re.S)
                    if not dm:
                        continue
                    k, v = dm.group(1), dm.group(2).strip()
                    if k == "module_name":
                        info.module_name = c_string_concat(v)
                    elif k == "defines":
                        info.defines_name = v
                    elif k == "defaults":
                        info.defaults_name = v.lstrip("&").strip()
                    elif k == "type_offset":
                        om = re.search(r"offsetof\s*\(\s*struct\s+\w+\s*,\s*(\w+)\s*\)", v)
                        info.type_offset_field = om.group(1) if om else None
                infos.append(info)
            elif not is_array:
                fields: dict[str, str] = {}
                for part in split_top(body):
                    dm = re.fullmatch(r"\.(\w+)\s*=\s*(.*)", part, re.S)
                    if dm:
                        fields[dm.group(1)] = dm.group(2).strip()
                structs[name] = fields
                struct_macros[name] = dict(macros)
        for info in infos:
            info.defines = define_arrays.get(info.defines_name or "", [])
            if info.defines_name and info.defines_name not in define_arrays:
                self.problems.append(f"{rel}: {info.cname}: defines array not found")
            raw_defaults = structs.get(info.defaults_name or "", {})
            dmacros = struct_macros.get(info.defaults_name or "", macros)
            for d in info.defines:
                if d.field is None or d.kind in LIST_TYPES.values():
                    continue
                if d.field not in raw_defaults:
                    # C zero-initialises missing members
                    info.defaults[d.key] = None if d.kind in ("str", "str_vars", "enum") else 0
                    continue
                try:
                    info.defaults[d.key] = c_eval(raw_defaults[d.field], dmacros)
                except Unevaluated:
                    info.unevaluated[d.key] = raw_defaults[d.field]
        return infos

    def load(self) -> None:
        paths = [self.root / f for f in FIXED_ROOT_FILES] + self.setting_files()
        for p in paths:
            for info in self.parse_file(p):
                if info.cname in self.infos:
                    self.problems.append(
                        f"{info.path}: {info.cname} also declared in {self.infos[info.cname].path}"
                    )
                    continue
                self.infos[info.cname] = info

    def root_order(self) -> list[str]:
        rest = sorted(
            name
            for name, info in self.infos.items()
            if info.module_name and name not in FIXED_ROOTS
        )
        return [n for n in FIXED_ROOTS if n in self.infos] + rest


# --------------------------------------------------------------------------
# doveconf output formatting / reading
# --------------------------------------------------------------------------


def format_size(v: int) -> str:
    if v == 0:
        return "0"
    suffix = "B"
    for s in "kMGT":
        if v % 1024:
            break
        v //= 1024
        suffix = s
    return f"{v} {suffix}"


def format_time(v: int) -> str:
    if v == 0:
        return "0"
    suffix = "secs"
    if v % 60 == 0:
        v //= 60
        suffix = "mins"
        if v % 60 == 0:
            v //= 60
            suffix = "hours"
            if v % 24 == 0:
                v //= 24
                suffix = "days"
                if v % 7 == 0:
                    v //= 7
                    suffix = "weeks"
    return f"{v} {suffix}"


def format_default(kind: str, value: object) -> str | None:
    """The string doveconf -a prints for a default value (None: not printed)."""
    if kind in ("str", "str_vars"):
        return None if value is None else str(value)
    if kind == "enum":
        return None if value is None else str(value).split(":")[0]
    if not isinstance(value, int):
        raise TypeError(f"{kind} default {value!r}")
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "size":
        return format_size(value % 2**64)
    if kind == "uint_oct":
        return "0" + format(value % 2**32, "o")
    if kind == "time":
        return format_time(value % 2**32)
    if kind == "time_msecs":
        v = value % 2**32
        return format_time(v // 1000) if v % 1000 == 0 else f"{v} ms"
    if kind == "in_port":
        return str(value % 2**16)
    return str(value % 2**32)


def unquote_value(value: str) -> str:
    """Undo doveconf's output quoting (values with '#' or outer whitespace)."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


@dataclass
class DumpNode:
    settings: dict[str, str] = field(default_factory=dict)
    sections: list[tuple[str, str, DumpNode]] = field(default_factory=list)


def parse_human(text: str) -> DumpNode:
    """Parse `doveconf -a`/`-n` human output into a tree."""
    root = DumpNode()
    stack = [root]
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s == "}":
            stack.pop()
            continue
        if s.endswith("{") and " = " not in s:
            head = s[:-1].strip()
            kw, _, name = head.partition(" ")
            node = DumpNode()
            stack[-1].sections.append((kw, unquote_value(name.strip()), node))
            stack.append(node)
            continue
        key, sep, value = s.partition(" = ")
        if not sep:
            key, value = s.rstrip(" =").rstrip(), ""
        stack[-1].settings[key] = unquote_value(value)
    return root


class Doveconf:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self._n = 0

    def _write(self, text: str) -> Path:
        self._n += 1
        p = self.workdir / f"probe-{os.getpid()}-{self._n}.conf"
        p.write_text(text, encoding="utf-8")
        return p

    def run(self, args: list[str], conf_text: str) -> subprocess.CompletedProcess[str]:
        p = self._write(conf_text)
        try:
            return subprocess.run(
                [self.binary, *args, "-c", str(p)],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "LC_ALL": "C"},
            )
        finally:
            p.unlink(missing_ok=True)

    def dump(self, conf_text: str, hidden: bool = True) -> DumpNode:
        args = ["-a", "-P"] + (["-s"] if hidden else [])
        res = self.run(args, conf_text)
        if res.returncode != 0:
            raise RuntimeError(f"doveconf {' '.join(args)} failed: {res.stderr.strip()}")
        return parse_human(res.stdout)

    def parse_error(self, conf_text: str) -> str | None:
        """The parse error doveconf reports for a line, or None if accepted."""
        res = self.run(["-n"], conf_text)
        for line in res.stderr.splitlines():
            m = re.search(r"Error in configuration file .* line \d+: (.*)$", line)
            if m:
                return m.group(1)
        return None


def wrap(path: list[str], body: str) -> str:
    """Nest `body` inside sections for the keywords in `path`."""
    for kw in reversed(path):
        name = "" if kw in ("passdb", "userdb") else " probe"
        body = f"{kw}{name} {{\n{body}}}\n"
    return body


def classify(err: str | None) -> str:
    if err is None:
        return "accepted"
    table = (
        ("Invalid boolean value", "bool"),
        ("Invalid size", "size"),
        ("Invalid time interval", "time"),
        ("Invalid number", "number"),
        ("Invalid port number", "in_port"),
        ("Invalid value", "enum"),
        ("Unknown setting", "unknown"),
    )
    for prefix, kind in table:
        if err.startswith(prefix):
            return kind
    return "other: " + err


def probe_type(dc: Doveconf, path: list[str], key: str) -> str:
    first = classify(dc.parse_error(wrap(path, f"{key} = x\n")))
    if first == "number":
        second = dc.parse_error(wrap(path, f"{key} = 08\n"))
        return "uint" if second is None else "uint_oct"
    if first == "time":
        second = dc.parse_error(wrap(path, f"{key} = 1500ms\n"))
        return "time_msecs" if second is None else "time"
    return first


# --------------------------------------------------------------------------
# registry assembly
# --------------------------------------------------------------------------


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def add(self, section: str, msg: str) -> None:
        self.lines.append(f"[{section}] {msg}")


def build(source: Path, doveconf: str, defined: set[str], jobs: int) -> tuple[dict, Report]:
    rep = Report()
    tree = SourceTree(source, defined)
    tree.load()
    for prob in tree.problems:
        rep.add("source", prob)

    roots = tree.root_order()
    rep.add("source", "root parser infos in doveconf order: " + ", ".join(roots))

    # ---- merge roots (first declaration wins, as in doveconf's export) ----
    settings: dict[str, dict] = {}
    origin: dict[str, str] = {}
    order: list[str] = []
    lists: dict[str, dict] = {}
    aliases: dict[str, str] = {}
    src_defaults: dict[str, dict[str, object]] = {"root": {}}
    unevaluated: dict[str, dict[str, str]] = {"root": {}}
    section_infos: dict[str, str] = {}  # section keyword -> C info

    def add_defines(
        info: ParserInfo,
        target: dict[str, dict],
        tlists: dict[str, dict],
        taliases: dict[str, str],
        torder: list[str],
        tname: str,
        torigin: dict[str, str],
    ) -> None:
        prev: str | None = None
        for d in info.defines:
            if d.kind == "alias":
                if prev is not None:
                    taliases.setdefault(d.key, prev)
                continue
            prev = d.key
            if d.kind in LIST_TYPES.values():
                entry = {"kind": d.kind, "info": d.key if d.kind != "strlist" else None}
                if d.key in tlists:
                    if tlists[d.key] != entry:
                        rep.add("conflict", f"{tname}: list {d.key} differs in {info.cname}")
                else:
                    tlists[d.key] = entry
                    torder.append(d.key)
                if d.list_info:
                    old = section_infos.setdefault(d.key, d.list_info)
                    if old != d.list_info:
                        rep.add("conflict", f"section {d.key}: {old} vs {d.list_info}")
                continue
            ent: dict[str, object] = {"type": d.kind}
            if d.hidden:
                ent["hidden"] = True
            if d.key in target:
                old = target[d.key]
                odef = src_defaults[tname].get(d.key)
                ndef = info.defaults.get(d.key)
                if old["type"] != d.kind or odef != ndef or bool(old.get("hidden")) != d.hidden:
                    rep.add(
                        "duplicate",
                        f"{tname}: {d.key}: {torigin[d.key]} ({old['type']}, {odef!r}) "
                        f"kept over {info.cname} ({d.kind}, {ndef!r})",
                    )
                else:
                    rep.add("duplicate-same", f"{tname}: {d.key}: {torigin[d.key]} = {info.cname}")
                continue
            target[d.key] = ent
            torigin[d.key] = info.cname
            torder.append(d.key)
            if d.key in info.defaults:
                src_defaults[tname][d.key] = info.defaults[d.key]
            if d.key in info.unevaluated:
                unevaluated[tname][d.key] = info.unevaluated[d.key]

    for cname in roots:
        add_defines(tree.infos[cname], settings, lists, aliases, order, "root", origin)

    infos: dict[str, dict] = {
        "root": {
            "settings": settings,
            "lists": lists,
            "unique_key": None,
            "order": order,
            "aliases": aliases,
        }
    }
    # ---- section infos, reachable from the roots ----
    pending = [k for k, v in lists.items() if v["kind"] != "strlist"]
    seen: set[str] = set()
    while pending:
        kw = pending.pop(0)
        if kw in seen:
            continue
        seen.add(kw)
        cname = section_infos[kw]
        info = tree.infos.get(cname)
        if info is None:
            rep.add("source", f"section {kw}: parser info {cname} not found")
            continue
        src_defaults[kw] = {}
        unevaluated[kw] = {}
        s: dict[str, dict] = {}
        li: dict[str, dict] = {}
        al: dict[str, str] = {}
        od: list[str] = []
        add_defines(info, s, li, al, od, kw, {})
        infos[kw] = {
            "settings": s,
            "lists": li,
            "unique_key": info.unique_key(),
            "order": od,
            "aliases": al,
        }
        pending.extend(k for k, v in li.items() if v["kind"] != "strlist")

    # section keyword -> path of keywords to reach it (for probing)
    paths: dict[str, list[str]] = {"root": []}
    queue = ["root"]
    while queue:
        cur = queue.pop(0)
        for k, v in infos[cur]["lists"].items():
            if v["kind"] != "strlist" and k not in paths:
                paths[k] = [*paths[cur], k]
                queue.append(k)

    # ---- enum values ----
    for name, inf in infos.items():
        for key, ent in inf["settings"].items():
            if ent["type"] == "enum":
                dv = src_defaults[name].get(key)
                if isinstance(dv, str):
                    ent["values"] = dv.split(":")
                else:
                    rep.add("source", f"{name}: enum {key} has no evaluable default")

    with tempfile.TemporaryDirectory() as tmp:
        dc = Doveconf(doveconf, Path(tmp))
        full = dc.dump("")
        visible = dc.dump("", hidden=False)
        probe = dc.dump(PROBE_SECTIONS_CONF)
        default_lists = apply_doveconf(infos, src_defaults, unevaluated, full, visible, probe, rep)
        probe_all(dc, infos, paths, rep, jobs)

    for name, inf in infos.items():
        for key in list(inf["settings"]):
            if "default" not in inf["settings"][key]:
                inf["settings"][key]["default"] = None
        for kw, v in inf["lists"].items():
            if v["info"] is not None and v["info"] not in infos:
                rep.add("source", f"{name}: list {kw} points at missing info")

    registry = {
        "version": VERSION,
        "infos": infos,
        "root": "root",
        "default_lists": default_lists,
    }
    return registry, rep


def _node_section(node: DumpNode, kw: str, name: str | None = None) -> DumpNode | None:
    for k, n, sub in node.sections:
        if k == kw and (name is None or n == name):
            return sub
    return None


def apply_doveconf(
    infos: dict[str, dict],
    src_defaults: dict[str, dict[str, object]],
    unevaluated: dict[str, dict[str, str]],
    full: DumpNode,
    visible: DumpNode,
    probe: DumpNode,
    rep: Report,
) -> dict:
    # ---- root ----
    root = infos["root"]["settings"]
    for key, value in full.settings.items():
        if key not in root:
            rep.add("doveconf-only", f"root: {key} = {value!r} (not in source; typed by probe)")
            root[key] = {"type": "str"}
            infos["root"]["order"].append(key)
        root[key]["default"] = value
    for key in visible.settings.keys() - full.settings.keys():
        rep.add("hidden", f"root: {key} printed by -a but not by -a -s")
    for key, ent in root.items():
        doveconf_hidden = key in full.settings and key not in visible.settings
        if doveconf_hidden != bool(ent.get("hidden")) and key in full.settings:
            rep.add(
                "hidden",
                f"root: {key}: source hidden={bool(ent.get('hidden'))}, "
                f"doveconf hidden={doveconf_hidden}",
            )
    # ---- sections from the probe config ----
    locate = {
        "namespace": [("namespace", "probe")],
        "mailbox": [("namespace", "probe"), ("mailbox", "probe")],
        "passdb": [("passdb", "")],
        "userdb": [("userdb", "")],
        "metric": [("metric", "probe")],
        "event_exporter": [("event_exporter", "probe")],
        "service": [("service", "probe")],
        "unix_listener": [("service", "probe"), ("unix_listener", "probe")],
        "fifo_listener": [("service", "probe"), ("fifo_listener", "probe-fifo")],
        "inet_listener": [("service", "probe"), ("inet_listener", "probe")],
    }
    for name, inf in infos.items():
        if name == "root":
            continue
        node: DumpNode | None = None
        if name not in locate:
            rep.add("doveconf", f"{name}: no probe section; defaults from source only")
        else:
            node = probe
            for kw, secname in locate[name]:
                node = _node_section(node, kw, secname) if node is not None else None
            if node is None:
                rep.add("doveconf", f"{name}: probe section not found in doveconf output")
        forced = PROBE_FORCED.get(name, set())
        uk = inf["unique_key"]
        for key, ent in inf["settings"].items():
            printed = None if node is None else node.settings.get(key)
            use_source = node is None or key in forced or key == uk or printed is None
            if not use_source:
                ent["default"] = printed
                continue
            if key in unevaluated[name]:
                rep.add(
                    "doveconf",
                    f"{name}: {key}: source default unevaluated "
                    f"({unevaluated[name][key]}) and not printed",
                )
                ent["default"] = None
                continue
            ent["default"] = format_default(ent["type"], src_defaults[name].get(key))
            if node is not None and printed is None and key != uk and ent["default"] is not None:
                rep.add("doveconf", f"{name}: {key} not printed by doveconf")
        if node is not None:
            for key in node.settings:
                if key not in inf["settings"]:
                    rep.add("doveconf-only", f"{name}: {key} printed but not in source")
    # ---- compare source defaults with printed defaults ----
    for name, inf in infos.items():
        for key, ent in inf["settings"].items():
            if key in unevaluated[name]:
                rep.add(
                    "default-unevaluated",
                    f"{name}: {key}: source {unevaluated[name][key]}"
                    f" -> doveconf {ent.get('default')!r}",
                )
                continue
            if key not in src_defaults[name]:
                continue
            try:
                sdef = format_default(ent["type"], src_defaults[name][key])
            except TypeError as exc:
                rep.add("default-differs", f"{name}: {key}: {exc}")
                continue
            if sdef != ent.get("default"):
                rep.add(
                    "default-differs",
                    f"{name}: {key}: source {sdef!r} doveconf {ent.get('default')!r}",
                )
            if (
                ent["type"] == "enum"
                and ent.get("values")
                and ent["values"][0] != ent.get("default")
            ):
                rep.add(
                    "enum",
                    f"{name}: {key}: default {ent.get('default')!r} is not the "
                    f"first value {ent['values'][0]!r}",
                )
    for name, inf in infos.items():
        for key, ent in inf["settings"].items():
            if ent.get("default") is None:
                rep.add("null-default", f"{name}: {key}: NULL default, never printed by -a")
            elif ent["default"] != ent["default"].strip() or "#" in ent["default"]:
                rep.add("quoted", f"{name}: {key}: doveconf prints this default quoted")
        for alias, target in inf["aliases"].items():
            rep.add("alias", f"{name}: {alias} -> {target}")
    # ---- default services ----
    services = []
    for kw, sname, node in full.sections:
        if kw != "service":
            continue
        services.append(_default_section(infos, "service", sname, node, rep))
    for kw, _, _ in full.sections:
        if kw != "service" and kw not in infos["root"]["lists"]:
            rep.add("doveconf-only", f"root section {kw} printed by doveconf -a")
    return {"service": services}


def _default_section(infos: dict, kw: str, name: str, node: DumpNode, rep: Report) -> dict:
    inf = infos[kw]
    out_settings: dict[str, str | None] = {}
    for key in sorted(inf["settings"]):
        if key == inf["unique_key"]:
            out_settings[key] = name
        elif key in node.settings:
            out_settings[key] = node.settings[key]
        else:
            out_settings[key] = inf["settings"][key]["default"]
            if out_settings[key] is not None:
                rep.add("default-lists", f"{kw} {name}: {key} not printed")
    for key in node.settings:
        if key not in inf["settings"]:
            rep.add("default-lists", f"{kw} {name}: unknown key {key}")
    sub: dict[str, list] = {}
    for lkw in inf["lists"]:
        if inf["lists"][lkw]["kind"] != "strlist":
            sub[lkw] = []
    for skw, sname, snode in node.sections:
        if skw not in sub:
            rep.add("default-lists", f"{kw} {name}: unexpected section {skw}")
            continue
        sub[skw].append(_default_section(infos, skw, sname, snode, rep))
    res: dict[str, object] = {"name": name, "settings": out_settings}
    if sub:
        res["lists"] = sub
    return res


def probe_all(
    dc: Doveconf, infos: dict[str, dict], paths: dict[str, list[str]], rep: Report, jobs: int
) -> None:
    tasks: list[tuple[str, str]] = []
    for name, inf in infos.items():
        if name not in paths:
            continue
        for key in inf["settings"]:
            tasks.append((name, key))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda t: probe_type(dc, paths[t[0]], t[1]), tasks))
    for (name, key), got in zip(tasks, results, strict=True):
        ent = infos[name]["settings"][key]
        declared = ent["type"]
        expect = "accepted" if declared in ("str", "str_vars") else declared
        if got == expect:
            continue
        rep.add("probe", f"{name}: {key}: source {declared}, doveconf probe {got}")
        if declared == "str" and got in SET_TYPES.values():
            ent["type"] = got  # key unknown to the source: trust doveconf
    # enum values must all be accepted
    enum_tasks = [
        (name, key, v)
        for name, inf in infos.items()
        if name in paths
        for key, ent in inf["settings"].items()
        if ent["type"] == "enum"
        for v in ent.get("values", [])
    ]

    def accept(t: tuple[str, str, str]) -> str | None:
        name, key, v = t
        return dc.parse_error(wrap(paths[name], f"{key} = {v}\n"))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        enum_results = list(pool.map(accept, enum_tasks))
    for (name, key, v), err in zip(enum_tasks, enum_results, strict=True):
        if err is not None:
            rep.add("probe", f"{name}: {key}: enum value {v!r} rejected: {err}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, type=Path, help="Dovecot 2.3 source tree")
    ap.add_argument("--doveconf", default="doveconf", help="doveconf binary")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--define", action="append", default=[], help="extra #if symbol")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--report", type=Path, help="also write the report to this file")
    args = ap.parse_args(argv)

    if not (args.source / "src" / "lib-settings").is_dir():
        ap.error(f"{args.source} does not look like a Dovecot source tree")
    registry, rep = build(
        args.source, args.doveconf, set(DEFAULT_DEFINED) | set(args.define), args.jobs
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as fh:
        json.dump(registry, fh, sort_keys=True, indent=1)
        fh.write("\n")
    text = "\n".join(rep.lines) + "\n"
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    sys.stderr.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
