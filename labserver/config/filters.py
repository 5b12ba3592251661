"""Filters: ``protocol``, ``local``, ``remote`` and ``local_name`` blocks.

A filter block does not open a new kind of section: it gives a separate set of
values that apply only to matching connections. Dovecot keeps one settings store
per distinct filter and merges them at lookup time, the most specific first.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Filter:
    """Which connections a block applies to; all None is the global scope."""

    service: str | None = None
    local_name: str | None = None
    local: Network | None = None
    remote: Network | None = None

    @property
    def is_global(self) -> bool:
        return self == Filter()

    def with_(self, **changes: object) -> Filter:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_net(value: str) -> Network:
    """``1.2.3.4``, ``10.0.0.0/8`` or ``::1``; names other than localhost are refused.

    Dovecot resolves host names with DNS here; the lab never looks names up (it may
    have no network), so only ``localhost`` is accepted besides addresses.
    """
    host, slash, bits = value.partition("/")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"gethostbyname({host}) failed: Name or service not known") from None
    max_bits = addr.max_prefixlen
    if slash:
        if not (bits.isascii() and bits.isdigit()) or int(bits) > max_bits:
            raise ValueError(f"Invalid network mask: {bits}")
        prefix = int(bits)
    else:
        prefix = max_bits
    return ipaddress.ip_network(f"{addr}/{prefix}", strict=False)


def net_text(net: Network) -> str:
    """How doveconf prints a filter network: the address, and /bits unless a host."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return f"{net.network_address}/{net.prefixlen}"


def _inside(inner: Network, outer: Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def match_service(mask: Filter, f: Filter) -> bool:
    if mask.service is None:
        return True
    if f.service is None:
        return False
    if mask.service.startswith("!"):
        return f.service != mask.service[1:]
    return f.service == mask.service


def _match_local_name(mask_names: str, name: str) -> bool:
    return any(fnmatchcase(name.lower(), pat.lower()) for pat in mask_names.split(" ") if pat)


def match_rest(mask: Filter, f: Filter) -> bool:
    if mask.local_name is not None:
        if f.local_name is None or not _match_local_name(mask.local_name, f.local_name):
            return False
    if mask.remote is not None:
        if f.remote is None or not _inside(f.remote, mask.remote):
            return False
    if mask.local is not None:
        if f.local is None or not _inside(f.local, mask.local):
            return False
    return True


def match(mask: Filter, f: Filter) -> bool:
    """Does the block ``mask`` apply to a connection described by ``f``?"""
    return match_service(mask, f) and match_rest(mask, f)


def specificity(f: Filter) -> tuple[int, int, int, int]:
    """Sort key: the most specific filter first (local_name, local, remote, service)."""
    return (
        0 if f.local_name is not None else 1,
        -(f.local.prefixlen if f.local is not None else 0),
        -(f.remote.prefixlen if f.remote is not None else 0),
        0 if f.service is not None else 1,
    )


def nesting_error(key: str, parent: Filter) -> str | None:
    """Dovecot's rules for which filter may be nested in which."""
    if key == "protocol" and parent.service is not None:
        return "Nested protocol { protocol { .. } } block not allowed"
    if key == "local":
        if parent.remote is not None:
            return "remote { local { .. } } not allowed (use local { remote { .. } } instead)"
        if parent.service is not None:
            return "protocol { local { .. } } not allowed (use local { protocol { .. } } instead)"
        if parent.local_name is not None:
            return ("local_name { local { .. } } not allowed "
                    "(use local { local_name { .. } } instead)")
    if key == "local_name":
        if parent.remote is not None:
            return ("remote { local_name { .. } } not allowed "
                    "(use local_name { remote { .. } } instead)")
        if parent.service is not None:
            return ("protocol { local_name { .. } } not allowed "
                    "(use local_name { protocol { .. } } instead)")
    if key == "remote" and parent.service is not None:
        return "protocol { remote { .. } } not allowed (use remote { protocol { .. } } instead)"
    return None


def narrower(key: str, parent: Network | None, child: Network) -> str | None:
    """A nested local/remote block must lie inside its parent's network."""
    if parent is not None and (
        parent.prefixlen > child.prefixlen or not _inside(child, parent)
    ):
        return f"{key} net1 {{ {key} net2 {{ .. }} }} requires net2 to be inside net1"
    return None
