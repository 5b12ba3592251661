"""Flattening a settings store into ``path=value`` strings, as doveconf does.

Dovecot's doveconf first exports every setting as a string such as
``service/imap-login/inet_listener/imap/port=143``, marking section lists and
section names, then sorts and prints them as nested blocks. The rules for which
values are exported decide what ``doveconf -n`` shows, so they are kept exactly,
including one quirk a learner will meet: inside a named section (``namespace inbox
{}``) a setting that allows %variables is always shown, which is why
``doveconf -n`` prints ``location =`` and ``prefix =`` for every namespace.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .registry import Info, format_value
from .store import SEP, Store, Struct, section_escape

LIST_MARK = "\x01"
# Dovecot marks section names with the byte 0xff, which sorts before everything.
UNIQUE_MARK = "\udcff"


class Scope(enum.Enum):
    ALL_WITH_HIDDEN = "all_with_hidden"  # a single named setting
    ALL_WITHOUT_HIDDEN = "all"  # doveconf -a
    SET = "set"  # doveconf -N, and filter blocks
    CHANGED = "changed"  # doveconf -n


@dataclass(slots=True)
class Exporter:
    scope: Scope
    hide_list_defaults: bool = True

    def run(self, store: Store) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        self._export(store.root, False, "", out, seen)
        return out

    def _export(self, struct: Struct, parent_unique: bool, prefix: str, out: list[str],
                seen: set[str]) -> None:
        info = struct.info
        for key, sdef in info.settings.items():
            changed = key in struct.changed
            if self.scope is Scope.ALL_WITH_HIDDEN:
                dump_default = True
            elif self.scope is Scope.ALL_WITHOUT_HIDDEN and not sdef.hidden:
                dump_default = True
            elif self.scope is Scope.CHANGED:
                dump_default = False
            else:
                dump_default = changed
            value = struct.values[key]
            same_as_value = False
            if parent_unique and self.hide_list_defaults:
                if not changed and key != info.unique_key:
                    same_as_value = True
                else:
                    dump_default = True
            text, dump = _export_value(sdef.type, value, sdef.default_value, sdef.default,
                                       dump_default, same_as_value)
            if text or dump:
                full = prefix + key
                if full in seen:
                    continue
                seen.add(full)
                if key == info.unique_key and parent_unique:
                    out.append(f"{prefix}{UNIQUE_MARK}{key}={text}")
                else:
                    out.append(f"{full}={text}")
        for key, ldef in info.lists.items():
            if key not in struct.lists:
                continue
            children = struct.lists[key]
            full = prefix + key
            if ldef.kind == "strlist":
                if full in seen:
                    continue
                seen.add(full)
                out.append(f"{LIST_MARK}{full}=")
                for name, val in children.items():
                    out.append(f"{full}{SEP}{name}={val}")
                continue
            names = [_section_name(c, i) for i, c in enumerate(children.values())]
            if names and full not in seen:
                seen.add(full)
                out.append(f"{LIST_MARK}{full}={' '.join(names)}")
            unique = ldef.kind == "deflist_unique"
            for i, child in enumerate(children.values()):
                name = _section_name(child, i) if unique else str(i)
                self._export(child, unique, f"{full}{SEP}{name}{SEP}", out, seen)


def _section_name(child: Struct, index: int) -> str:
    info: Info = child.info
    if info.unique_key is None:
        return str(index)
    name = child.values.get(info.unique_key)
    if not name:
        return str(index)
    return section_escape(name)


def _export_value(type_: str, value: object, default: object, default_text: str,
                  dump_default: bool, same_as_value: bool) -> tuple[str, bool]:
    """(text, dump) as Dovecot's config_export_type decides them.

    ``same_as_value`` means the value is taken as its own default (an unchanged
    setting inside a named section). For %variable settings that comparison still
    fails, because Dovecot compares the stored value, which carries an internal
    "unexpanded" marker, with the bare text.
    """
    if type_ in ("str", "str_vars"):
        if value is None:
            return "", False
        if same_as_value:
            differs = type_ == "str_vars"
        else:
            differs = value != default_text
        return (str(value), True) if dump_default or differs else ("", False)
    differs = not same_as_value and value != default
    if dump_default or differs:
        return format_value(type_, value), False
    return "", False


def sort_key(line: str) -> tuple[int, ...]:
    """Order of doveconf's config_string_cmp: bytes compared as signed chars, '=' first."""
    head = line.split("=", 1)[0].encode("utf-8", "surrogateescape")
    return tuple(b - 256 if b >= 128 else b for b in head) + (-1000,)
