"""Services and listeners: the ports and addresses a configuration really opens.

Both tasks start the learner's configuration, read which listeners the server bound
(each with the port the configuration asked for; the lab maps it to a free one), and
talk to each: a greeting in the right protocol, with TLS first where the listener is
an implicit-TLS one. ``listen-address`` also knocks on 127.0.0.1 to see that the server
is not reachable there. Addresses outside loopback are never opened by a check: a
configuration that asks for them is judged from what it asks for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from labserver.service.lab import Lab
from labserver.service.listeners import ListenerSpec, PortPolicy, listener_specs

from .probe import (
    Submission,
    close,
    evidence,
    fresh_user,
    imap_client,
    judge,
    lab_for,
    pop3_client,
    read_config,
)
from .verdict import Verdict

SEE_PORTS = "07-listeners: Moving a listener"
SEE_LISTEN = "07-listeners: Listening addresses"
IMPLICIT_TLS = {"imaps", "pop3s"}
PROTOCOL_OF = {"imap": "imap", "imaps": "imap", "pop3": "pop3", "pop3s": "pop3"}


def _greeting(lab: Lab, spec: ListenerSpec) -> tuple[bool, str]:
    """Connect to one listener (TLS first where it has ssl = yes) and read the greeting."""
    try:
        client = (imap_client if spec.protocol == "imap" else pop3_client)(lab, spec.name)
    except (OSError, EOFError) as exc:
        return False, f"no greeting ({exc})"
    except Exception as exc:  # noqa: BLE001 - an IMAP/POP3 error is the observation
        return False, f"no usable greeting ({exc})"
    welcome = client.welcome if isinstance(client.welcome, bytes) else b""
    close(client)
    return True, welcome.decode("ascii", "replace").strip()


def _not_loopback(specs: list[ListenerSpec]) -> list[str]:
    out = []
    for spec in specs:
        try:
            loopback = ipaddress.ip_address(spec.address).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            out.append(f"{spec.name} on {spec.address}")
    return out


def _asked_for(task: str, submission: Submission, see: str) -> tuple[list[ListenerSpec], bool]:
    """The listeners a configuration asks for, read without starting anything, and
    whether it names their addresses (without, Dovecot listens on every address and
    the lab on 127.0.0.1)."""
    with lab_for(task, submission, start=False, default_auth=True, see=see) as lab:
        config = read_config(task, lab.root, see=see)
    named = config.global_store.is_changed("listen") or any(
        listener.get("address") for service in config.sections("service")
        for listener in service.children("inet_listener"))
    return listener_specs(config, PortPolicy("ephemeral")), named


def listeners_ports(submission: Submission, *, ports: Mapping[str, int],
                    engine: str = "lab") -> Verdict:
    """Listeners open on exactly the given ports (0: closed), each answering its protocol."""
    task = "listeners-ports"
    wanted = {name: int(port) for name, port in ports.items()}
    asked, _ = _asked_for(task, submission, SEE_PORTS)
    outside = _not_loopback(asked)
    if outside:
        return _outside_verdict(task, outside, SEE_PORTS)
    with lab_for(task, submission, engine=engine, users=[fresh_user()], default_auth=True,
                 see=SEE_PORTS) as lab:
        bound = lab.listeners()
        by_name: dict[str, list[ListenerSpec]] = {}
        for spec, _ in bound:
            by_name.setdefault(spec.name, []).append(spec)
        parts = []
        for name, port in sorted(wanted.items()):
            specs = by_name.get(name, [])
            got = sorted({s.configured_port for s in specs})
            if port == 0:
                parts.append((not specs, f"{name} is closed",
                              f"{name} listens on {', '.join(map(str, got))}"))
                continue
            parts.append((got == [port], f"{name} listens on port {port}",
                          f"{name} listens on {', '.join(map(str, got))}" if got
                          else f"there is no open {name} listener"))
            tls = "implicit TLS" if name in IMPLICIT_TLS else "a plaintext greeting"
            if not specs:
                parts.append((False, f"{name} answers with {tls}", "nothing to connect to"))
                continue
            expected = f"{name} answers with {tls} as {PROTOCOL_OF.get(name, specs[0].protocol)}"
            mode_ok = specs[0].ssl == (name in IMPLICIT_TLS)
            protocol_ok = specs[0].protocol == PROTOCOL_OF.get(name, specs[0].protocol)
            answered, what = _greeting(lab, specs[0])
            happened = what if not answered else (
                f"it has ssl = {'yes' if specs[0].ssl else 'no'}" if not mode_ok
                else f"it belongs to {specs[0].service}")
            parts.append((answered and mode_ok and protocol_ok, expected, happened))
        extra = sorted(f"{s.name} on {s.configured_port}" for s, _ in bound
                       if s.name not in wanted)
        parts.append((not extra, "no other listener is open",
                      "also listening: " + ", ".join(extra)))
        return judge(task, parts, see=SEE_PORTS,
                     evidence=[*lab.table().splitlines(), *evidence(lab, "Error")],
                     hint="Each inet_listener block of service imap-login or pop3-login "
                          "has its own port; port = 0 closes that listener only. A "
                          "listener you do not mention keeps its default port.")


def _outside_verdict(task: str, outside: list[str], see: str) -> Verdict:
    return judge(task, [(False, "every listener on a loopback address",
                         "the configuration asks for " + ", ".join(outside)
                         + " (the check does not open sockets outside loopback)")],
                 see=see, hint="`listen = *` or `::` means every address of the machine; "
                               "name the address itself.")


def _wildcard_ports(ports: set[int]) -> set[int]:
    """The ports among ``ports`` with a listening socket on every address (0.0.0.0 or ::).

    Probing 127.0.0.1 would be unfair: while the server holds 127.0.0.5:PORT, any other
    program may hold 127.0.0.1:PORT. A wildcard socket on PORT, though, can only be the
    server's own (it would clash with the server's 127.0.0.5:PORT otherwise).
    """
    found: set[int] = set()
    for table, wildcard in (("/proc/net/tcp", "00000000"), ("/proc/net/tcp6", "0" * 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            host, _, port = local.partition(":")
            if state == "0A" and host == wildcard and int(port, 16) in ports:
                found.add(int(port, 16))
    return found


def listen_address(submission: Submission, *, address: str, engine: str = "lab") -> Verdict:
    """IMAP and POP3 listen on the given loopback address only (listen or address)."""
    task = "listen-address"
    asked, named = _asked_for(task, submission, SEE_LISTEN)
    outside = _not_loopback(asked)
    if outside:
        return _outside_verdict(task, outside, SEE_LISTEN)
    with lab_for(task, submission, engine=engine, users=[fresh_user()], default_auth=True,
                 see=SEE_LISTEN) as lab:
        bound = lab.listeners()
        parts = [(named, "the configuration names the address (listen or address)",
                  "it does not, so Dovecot would listen on every address (*, ::); the "
                  "lab's loopback default does not count")]
        for protocol in ("imap", "pop3"):
            specs = [(s, p) for s, p in bound if s.protocol == protocol]
            where = sorted({s.address for s, _ in specs})
            parts.append((bool(specs) and where == [address],
                          f"{protocol} listens on {address} and nowhere else",
                          f"{protocol} listens on {', '.join(where)}" if where
                          else f"no {protocol} listener is open"))
        answers = []
        for spec, _ in bound:
            if spec.address != address:
                continue
            answered, what = _greeting(lab, spec)
            answers.append((answered, f"{spec.name} at {address}: {what}"))
        parts.append((bool(answers) and all(ok for ok, _ in answers),
                      f"clients connecting to {address} get a greeting",
                      "; ".join(w for ok, w in answers if not ok) or "nothing listens there"))
        reachable = sorted({port for spec, port in bound if address != "127.0.0.1"
                            and spec.address == "127.0.0.1"}
                           | _wildcard_ports({port for _, port in bound}))
        parts.append((bool(bound) and not reachable,
                      "nothing of the server answers on 127.0.0.1",
                      "127.0.0.1 accepts connections on " + ", ".join(map(str, reachable))
                      if reachable else "nothing was checked: no listener is open"))
        return judge(task, parts, see=SEE_LISTEN,
                     evidence=[*lab.table().splitlines(), *evidence(lab, "Error")],
                     hint="The global `listen` names the addresses for every listener "
                          "without an `address` of its own; `listen = *, ::` (the default) "
                          "means all of them.")


CHECKS = {"listeners-ports": listeners_ports, "listen-address": listen_address}
