"""A parsed configuration and the questions the rest of the lab asks of it.

``load()`` reads a dovecot.conf (with its includes) and returns a ``Config``; the
server asks it for a setting as seen by one connection (``config.get("ssl",
protocol="imap", remote="10.0.0.5")``), and ``doveconf`` prints it. The effective
value for a connection merges the filter blocks that match it, the most specific
first, as Dovecot does.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

from . import checks
from . import filters as flt
from .parser import ConfigError, FilterParser, Message, ParseContext, parse
from .registry import Registry
from .resolve import PathResolver
from .store import Store, Struct


@dataclass(eq=False)
class Config:
    """The outcome of parsing: stores per filter, warnings, and where it came from."""

    path: str
    registry: Registry
    resolver: PathResolver
    filter_parsers: list[FilterParser]
    messages: list[Message]
    hostname: str = ""
    delayed_error: str | None = None
    # derived views computed on demand (the configuration never changes once read)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_context(cls, ctx: ParseContext) -> Config:
        return cls(path=ctx.path, registry=ctx.registry, resolver=ctx.resolver,
                   filter_parsers=ctx.parsers, messages=ctx.messages,
                   hostname=socket.gethostname(), delayed_error=ctx.delayed_error)

    def fatal_error(self) -> str | None:
        """What makes Dovecot refuse this configuration after reading it, if anything."""
        if self.delayed_error is not None:
            return self.delayed_error
        error = checks.first_error(self)
        if error is not None:
            return f"Error in configuration file {self.path}: {error}"
        return None

    @property
    def global_store(self) -> Store:
        return self.filter_parsers[0].store

    @property
    def warnings(self) -> list[str]:
        return [m.text for m in self.messages if m.level == "Warning"]

    def matching(self, protocol: str | None = None, local: str | None = None,
                 remote: str | None = None, local_name: str | None = None
                 ) -> list[FilterParser]:
        """The filter blocks that apply to a connection, most specific first (kept in
        ``cache``: every connection of a server asks this for each setting it reads)."""
        key = ("matching", protocol, local, remote, local_name)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._matching(protocol, local, remote, local_name)
        return found

    def _matching(self, protocol: str | None, local: str | None, remote: str | None,
                  local_name: str | None) -> list[FilterParser]:
        want = flt.Filter(
            service=protocol, local_name=local_name,
            local=None if local is None else ipaddress.ip_network(local),
            remote=None if remote is None else ipaddress.ip_network(remote),
        )
        found = [p for p in self.filter_parsers if flt.match(p.filter, want)]
        return sorted(found, key=lambda p: flt.specificity(p.filter))

    def get(self, key: str, protocol: str | None = None, local: str | None = None,
            remote: str | None = None, local_name: str | None = None) -> Any:
        """A setting's typed value for a connection (global when no filter is given)."""
        path_ok = False
        for parser in self.matching(protocol, local, remote, local_name):
            got = parser.store.get(key)
            if got is None:
                continue
            path_ok = True
            if parser.filter.is_global or parser.store.is_changed(key):
                return got[0]
        if not path_ok:
            raise KeyError(key)
        return self.global_store.get(key)[0]  # type: ignore[index]

    def sections(self, key: str, protocol: str | None = None) -> list[Struct]:
        """The structs of a global section keyword (``passdb``, ``namespace``...)."""
        for parser in self.matching(protocol):
            if key in parser.store.root.lists and (
                parser.filter.is_global or key in parser.store.root.changed_lists
            ):
                return parser.store.root.children(key)
        return []


def load(path: str, *, root: str | None = None, expand_values: bool = True,
         text: str | None = None, registry: Registry | None = None,
         strict: bool = True) -> Config:
    """Read a configuration file, mapping absolute paths into ``root``.

    ``expand_values`` reads ``<file`` values and expands ``$setting`` references,
    as the running server does; doveconf without ``-x`` leaves them as written.
    Raises ConfigError with doveconf's message when the file is refused; with
    ``strict=False`` errors found after reading (a missing ``}``, a failed settings
    check) are left in ``fatal_error()``, as doveconf prints the config before them.
    """
    ctx = parse(path, text=text, resolver=PathResolver(root), expand_values=expand_values,
                registry=registry)
    config = Config.from_context(ctx)
    if strict:
        error = config.fatal_error()
        if error is not None:
            raise ConfigError(error, config.messages)
    return config


def parse_text(text: str, *, path: str = "/etc/dovecot/dovecot.conf", root: str | None = None,
               expand_values: bool = True) -> Config:
    """Parse configuration text as if it were the file ``path``."""
    return load(path, root=root, expand_values=expand_values, text=text)


__all__ = ["Config", "ConfigError", "Message", "load", "parse_text"]
