"""The settings store: typed values with change tracking, addressed by paths.

This mirrors Dovecot's settings parser. Every value is set through a path such as
``ssl``, ``service/imap-login/inet_listener/imap/port`` or ``plugin/0/quota``;
sections are lists of structs keyed by their (escaped) name. Each struct
remembers which of its settings were explicitly set, because ``doveconf -n`` prints
exactly those that differ from the defaults, and the lab reads the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .registry import DefaultEntry, Info, ListDef, Registry, SettingDef

SEP = "/"


_NEEDS_ESCAPE = re.compile(r"[=/\\ ,]")


def section_escape(name: str) -> str:
    """Escape a section name for use inside a path (Dovecot's settings_section_escape)."""
    if _NEEDS_ESCAPE.search(name) is None:
        return name
    table = {"=": "\\e", "/": "\\s", "\\": "\\\\", " ": "\\_", ",": "\\+"}
    return "".join(table.get(ch, ch) for ch in name)


@dataclass(eq=False)
class Struct:
    """One struct of settings (the global one, one service, one namespace...)."""

    info: Info
    values: dict[str, Any]
    changed: set[str] = field(default_factory=set)
    # section keyword -> ordered children; for strlists an ordered dict of strings
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed_lists: set[str] = field(default_factory=set)

    def get(self, key: str) -> Any:
        """The typed value of a setting of this struct."""
        return self.values[key]

    def children(self, key: str) -> list[Struct]:
        """The structs of a section keyword, in order."""
        return list(self.lists.get(key, {}).values())

    def clone(self, links: dict[str, Link], full_key: str) -> Struct:
        """A deep copy, registering the copies of section structs in ``links``."""
        copy = Struct(info=self.info, values=dict(self.values), changed=set(self.changed),
                      changed_lists=set(self.changed_lists))
        for key, children in self.lists.items():
            new: dict[str, Any] = {}
            ldef = self.info.lists[key]
            for name, child in children.items():
                if ldef.kind == "strlist":
                    new[name] = child
                    continue
                child_key = f"{full_key}{key}{SEP}{name}"
                new[name] = child.clone(links, child_key + SEP)
                links[child_key] = Link(info=child.info, struct=new[name], parent=copy)
            copy.lists[key] = new
        return copy


@dataclass(eq=False)
class Link:
    """Where a path prefix points: a struct, or a strlist's dict."""

    info: Info | None
    struct: Struct | None
    strlist: dict[str, str] | None = None
    parent: Struct | None = None


class SettingsError(Exception):
    """A value was rejected; the message is Dovecot's text."""


_TEMPLATES: dict[int, tuple[Registry, Struct]] = {}


class Store:
    """All settings of one filter (the global scope or one ``protocol x {}``)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.links: dict[str, Link] = {}
        template = _TEMPLATES.get(id(registry))
        if template is None or template[0] is not registry:
            template = (registry, self._new_struct(registry.root_info, None, ""))
            _TEMPLATES[id(registry)] = template
            self.links = {}
        # copying a ready-made template is much cheaper than building the default
        # services and their listeners again for every filter
        self.root = template[1].clone(self.links, "")
        # the info of the last list touched, for naming sections (config_add_type)
        self.prev_info: Info | None = None
        self.prev_was_strlist = False

    def _new_struct(self, info: Info, defaults: DefaultEntry | None, full_key: str) -> Struct:
        vals = dict(info.defaults)
        struct = Struct(info=info, values=vals)
        if defaults is not None:
            for key, text in defaults.settings.items():
                sdef = info.settings.get(key)
                if sdef is not None:
                    vals[key] = sdef.parse(text)
            if info.unique_key is not None:
                vals[info.unique_key] = defaults.name
        default_lists = (
            self.registry.default_lists if defaults is None and info is self.registry.root_info
            else (defaults.lists if defaults is not None else {})
        )
        for key, entries in default_lists.items():
            ldef = info.lists.get(key)
            if ldef is None or ldef.info is None:
                continue
            children = struct.lists.setdefault(key, {})
            for entry in entries:
                name = section_escape(entry.name)
                child_key = f"{full_key}{key}{SEP}{name}"
                child = self._new_struct(self.registry.infos[ldef.info], entry, child_key + SEP)
                children[name] = child
                self.links[child_key] = Link(info=child.info, struct=child, parent=struct)
        return struct

    # -- lookups -------------------------------------------------------------

    def find(self, key: str) -> tuple[Link, SettingDef | ListDef | None] | None:
        """Resolve a full path to the struct that holds it and the definition."""
        if SEP not in key:
            found = self.registry.root_info.lookup(key)
            if found is None:
                return None
            return Link(info=self.registry.root_info, struct=self.root), found
        parent_key, _, last = key.rpartition(SEP)
        link = self.links.get(parent_key)
        if link is None:
            return None
        if link.strlist is not None:
            return link, None
        assert link.info is not None
        found = link.info.lookup(last)
        if found is None:
            return None
        return link, found

    def is_valid_key(self, key: str) -> bool:
        return self.find(key) is not None

    def get(self, key: str) -> tuple[Any, SettingDef] | None:
        """The typed value and definition at a path, if it names a setting."""
        found = self.find(key)
        if found is None:
            return None
        link, sdef = found
        if not isinstance(sdef, SettingDef) or link.struct is None:
            return None
        return link.struct.values[sdef.key], sdef

    def is_changed(self, key: str) -> bool:
        found = self.find(key)
        if found is None:
            return False
        link, sdef = found
        return isinstance(sdef, SettingDef) and link.struct is not None and (
            sdef.key in link.struct.changed
        )

    # -- setting -------------------------------------------------------------

    def parse_line(self, line: str) -> bool:
        """Apply ``path=value``; False when the path is unknown. Raises SettingsError."""
        if "=" not in line:
            raise SettingsError("Missing '='")
        key, _, value = line.partition("=")
        if key == "":
            raise SettingsError("Missing key name ('=' at the beginning of line)")
        return self.set(key, value)

    def set(self, key: str, value: str) -> bool:
        """Set one path to a text value; False when the path is unknown."""
        self.prev_info = None
        self.prev_was_strlist = False
        found = self.find(key)
        if found is None:
            return False
        link, sdef = found
        if sdef is None:
            assert link.strlist is not None
            link.strlist[key.rpartition(SEP)[2]] = value
            return True
        struct = link.struct
        assert struct is not None
        self.prev_info = struct.info
        if isinstance(sdef, ListDef):
            self._set_list(struct, sdef, key, value)
            struct.changed_lists.add(sdef.key)
            return True
        try:
            struct.values[sdef.key] = sdef.parse(value)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        struct.changed.add(sdef.key)
        return True

    def _set_list(self, struct: Struct, ldef: ListDef, key: str, value: str) -> None:
        children = struct.lists.setdefault(ldef.key, {})
        if ldef.kind == "strlist":
            self.prev_info = None
            self.prev_was_strlist = True
            # a strlist can be addressed without a section name: plugin/foo
            self.links.setdefault(key, Link(info=None, struct=None, strlist=children))
            for name in _split_names(value):
                link = self.links.get(f"{key}{SEP}{name}")
                if link is not None and link.strlist is not children:
                    raise SettingsError(f"{key}{SEP}{name} already exists")
                self.links[f"{key}{SEP}{name}"] = Link(None, None, strlist=children)
            return
        assert ldef.info is not None
        info = self.registry.infos[ldef.info]
        self.prev_info = info
        for name in _split_names(value):
            full = f"{key}{SEP}{name}"
            link = self.links.get(full)
            if link is not None:
                if link.parent is struct and link.info is info and ldef.kind == "deflist_unique":
                    continue
                raise SettingsError(f"{full} already exists")
            child = self._new_struct(info, None, full + SEP)
            children[name] = child
            self.links[full] = Link(info=info, struct=child, parent=struct)


def _split_names(value: str) -> list[str]:
    names = value.replace(",", " ").replace("\t", " ").split(" ")
    return [n for n in names if n]
