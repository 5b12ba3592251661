"""The registry of Dovecot 2.3.19 settings: names, types, defaults and sections.

The data lives in ``settings-2.3.19.json`` beside this module. It was derived from
what a real ``doveconf -a`` prints and from Dovecot's own setting tables (see
``tools/gen_registry.py``), so that the lab knows every setting Debian's stock
``/etc/dovecot`` tree uses, with the defaults doveconf shows. Dovecot itself is not
needed at run time.

Dovecot groups settings into "infos" (structs): the global one, and one per kind of
section (``service``, ``inet_listener``, ``namespace``, ``mailbox``, ``passdb`` ...).
A section keyword in one info opens a list of structs of another info.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import values

DATA_FILE = Path(__file__).with_name("settings-2.3.19.json")

SCALAR_TYPES = (
    "bool", "uint", "uint_oct", "time", "time_msecs", "size", "in_port", "str",
    "str_vars", "enum",
)


@dataclass(frozen=True, slots=True)
class SettingDef:
    """One setting: its type, its default as doveconf prints it, enum values."""

    key: str
    type: str
    default: str | None
    values: tuple[str, ...] = ()
    hidden: bool = False
    default_value: Any = None  # the typed default (for enums, the first value)

    def parse(self, text: str) -> Any:
        """Turn configuration text into a typed value, or raise ValueError."""
        return parse_value(self.type, text, self.values)


@dataclass(frozen=True, slots=True)
class ListDef:
    """A section keyword: a list of structs (``deflist``) or of key=value pairs."""

    key: str
    kind: str  # "deflist", "deflist_unique" or "strlist"
    info: str | None


@dataclass
class Info:
    """One struct of settings, as Dovecot's setting_parser_info."""

    name: str
    settings: dict[str, SettingDef]
    lists: dict[str, ListDef]
    unique_key: str | None
    aliases: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def defaults(self) -> dict[str, Any]:
        """Typed default of every setting, to copy into a new struct."""
        return {key: d.default_value for key, d in self.settings.items()}

    def lookup(self, key: str) -> SettingDef | ListDef | None:
        """Find a setting or section keyword, following aliases."""
        key = self.aliases.get(key, key)
        return self.settings.get(key) or self.lists.get(key)


@dataclass(frozen=True, slots=True)
class DefaultEntry:
    """A section that exists before any configuration is read (default services)."""

    name: str
    settings: dict[str, str]
    lists: dict[str, tuple[DefaultEntry, ...]]


@dataclass(slots=True)
class Registry:
    version: str
    infos: dict[str, Info]
    root: str
    default_lists: dict[str, tuple[DefaultEntry, ...]]

    @property
    def root_info(self) -> Info:
        return self.infos[self.root]

    def setting(self, key: str) -> SettingDef | None:
        """A global setting by name."""
        return self.root_info.settings.get(key)


def parse_value(type_: str, text: str, allowed: tuple[str, ...] = ()) -> Any:
    """Parse text as a value of a registry type, with Dovecot's error texts."""
    match type_:
        case "bool":
            return values.parse_bool(text)
        case "uint":
            return values.parse_uint(text)
        case "uint_oct":
            return values.parse_uint_oct(text)
        case "time":
            return values.parse_time(text)
        case "time_msecs":
            return values.parse_time(text, milliseconds=True)
        case "size":
            return values.parse_size(text)
        case "in_port":
            return values.parse_port(text)
        case "enum":
            return values.parse_enum(text, list(allowed))
        case _:
            return text


def format_value(type_: str, value: Any) -> str:
    """The canonical text doveconf prints for a typed value."""
    match type_:
        case "bool":
            return "yes" if value else "no"
        case "uint_oct":
            return f"0{value:o}"
        case "time":
            return values.format_time(value)
        case "time_msecs":
            return values.format_time_msecs(value)
        case "size":
            return values.format_size(value)
        case "uint" | "in_port":
            return str(value)
        case _:
            return "" if value is None else str(value)


def _default_entry(raw: dict[str, Any]) -> DefaultEntry:
    return DefaultEntry(
        name=raw["name"],
        settings=dict(raw.get("settings", {})),
        lists={k: tuple(_default_entry(c) for c in v) for k, v in raw.get("lists", {}).items()},
    )


def _info(name: str, raw: dict[str, Any]) -> Info:
    settings = {}
    for key, spec in raw.get("settings", {}).items():
        allowed = tuple(spec.get("values", ()))
        default = spec.get("default", "")
        if spec["type"] == "enum":
            typed = allowed[0] if allowed else default
        else:
            typed = None if default is None else parse_value(spec["type"], default, allowed)
        settings[key] = SettingDef(
            key=key,
            type=spec["type"],
            default=default,
            values=allowed,
            hidden=bool(spec.get("hidden", False)),
            default_value=typed,
        )
    lists = {
        key: ListDef(key=key, kind=spec["kind"], info=spec.get("info"))
        for key, spec in raw.get("lists", {}).items()
    }
    return Info(
        name=name,
        settings=settings,
        lists=lists,
        unique_key=raw.get("unique_key"),
        aliases=dict(raw.get("aliases", {})),
    )


@functools.cache
def load_registry(path: Path = DATA_FILE) -> Registry:
    """Load (once) the registry shipped with the package."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Registry(
        version=raw["version"],
        infos={name: _info(name, spec) for name, spec in raw["infos"].items()},
        root=raw.get("root", "root"),
        default_lists={
            key: tuple(_default_entry(e) for e in entries)
            for key, entries in raw.get("default_lists", {}).items()
        },
    )
