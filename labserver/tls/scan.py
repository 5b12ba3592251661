"""A small TLS scanner for one port, in the spirit of nmap's ``ssl-enum-ciphers``.

For each protocol version (SSLv3 when the local OpenSSL still has it, TLS 1.0 to 1.3) it
finds the cipher suites the server accepts, the way nmap does: offer every suite the local
OpenSSL knows, note the one the server picks, take it out of the offer and repeat until the
handshake fails. The order of those picks is the server's order when the server's
preference wins (``ssl_prefer_server_ciphers = yes``); offering the accepted suites
reversed shows which side's order wins. For each accepted suite it records the server's
ephemeral key (the ECDHE group or the DH size), and it flags what is weak: SSLv3, TLS 1.0
and 1.1, suites without forward secrecy, DH below 2048 bits (Logjam), RC4, 3DES, NULL,
EXPORT and anonymous suites.

The probes use Python's ``ssl`` client contexts with ``@SECLEVEL=0`` in the cipher string:
Debian's OpenSSL 3 runs at security level 2 and would otherwise refuse TLS 1.0/1.1 and
small keys on the client side, so the scan would report what the *client* refuses. TLS 1.3
suites are chosen with OpenSSL's ``SSL_CTX_set_ciphersuites`` (Python has no call for it;
see ``_openssl``); when that call is unavailable, TLS 1.3 is probed once with OpenSSL's
default suites and the report says so. What the local OpenSSL was built without (SSLv3,
EXPORT, single DES...) cannot be probed at all; ``limits`` lists it.

``--starttls imap`` and ``--starttls pop3`` speak the plaintext protocol first (IMAP
``STARTTLS``, POP3 ``STLS``), as ``openssl s_client -starttls`` does.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass, field

from . import _openssl

VERSIONS: list[tuple[str, ssl.TLSVersion]] = [
    ("SSLv3", ssl.TLSVersion.SSLv3),
    ("TLSv1.0", ssl.TLSVersion.TLSv1),
    ("TLSv1.1", ssl.TLSVersion.TLSv1_1),
    ("TLSv1.2", ssl.TLSVersion.TLSv1_2),
    ("TLSv1.3", ssl.TLSVersion.TLSv1_3),
]
TLS13_SUITES = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]
ALL_CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"


class ScanError(Exception):
    """The port cannot be scanned (refused, not speaking the protocol...)."""


@dataclass
class Accepted:
    name: str
    kx: str  # e.g. "X25519 253", "DH 2048", "RSA" (no ephemeral key)
    flags: list[str] = field(default_factory=list)


@dataclass
class VersionResult:
    version: str
    accepted: bool
    error: str = ""
    ciphers: list[Accepted] = field(default_factory=list)
    preference: str = ""  # "server", "client", "indeterminate" (one suite)
    broken: list[str] = field(default_factory=list)


@dataclass
class ScanReport:
    target: str
    starttls: str | None
    versions: list[VersionResult]
    limits: list[str]
    warnings: list[str]

    def accepted_versions(self) -> list[str]:
        return [v.version for v in self.versions if v.accepted]

    def ciphers(self, version: str) -> list[str]:
        for v in self.versions:
            if v.version == version:
                return [c.name for c in v.ciphers]
        return []

    def text(self) -> str:
        head = self.target + (f" (STARTTLS {self.starttls})" if self.starttls else "")
        lines = [head]
        for v in self.versions:
            if not v.accepted:
                lines.append(f"  {v.version}: refused ({v.error})")
                continue
            lines.append(f"  {v.version}:")
            lines.append("    ciphers:")
            for c in v.ciphers:
                extra = f" - {', '.join(c.flags)}" if c.flags else ""
                lines.append(f"      {c.name} ({c.kx}){extra}")
            lines.append(f"    cipher preference: {v.preference}")
            lines.extend(f"    {b}" for b in v.broken)
        if self.warnings:
            lines.append("  warnings:")
            lines.extend(f"    {w}" for w in self.warnings)
        if self.limits:
            lines.append("  not probed:")
            lines.extend(f"    {w}" for w in self.limits)
        return "\n".join(lines) + "\n"


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ScanError("connection closed before STARTTLS")
        data += chunk
        if len(data) > 8192:
            raise ScanError("line too long")
    return data


def _starttls(sock: socket.socket, protocol: str) -> None:
    greeting = _read_line(sock)
    if protocol == "imap":
        if not greeting.startswith(b"* OK"):
            raise ScanError(f"not an IMAP greeting: {greeting[:60]!r}")
        sock.sendall(b"S1 STARTTLS\r\n")
        while True:
            line = _read_line(sock)
            if line.startswith(b"S1 "):
                if not line.startswith(b"S1 OK"):
                    raise ScanError(f"STARTTLS refused: {line.strip().decode(errors='replace')}")
                return
    elif protocol == "pop3":
        if not greeting.startswith(b"+OK"):
            raise ScanError(f"not a POP3 greeting: {greeting[:60]!r}")
        sock.sendall(b"STLS\r\n")
        line = _read_line(sock)
        if not line.startswith(b"+OK"):
            raise ScanError(f"STLS refused: {line.strip().decode(errors='replace')}")
    else:
        raise ScanError(f"unknown STARTTLS protocol {protocol!r} (imap or pop3)")


@dataclass
class Probe:
    ok: bool
    version: str = ""
    cipher: str = ""
    kx: tuple[str, int] | None = None
    error: str = ""


class Scanner:
    def __init__(self, host: str, port: int, starttls: str | None = None,
                 timeout: float = 5.0, source: str | None = None) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self.timeout = timeout
        self.source = source
        self.handshakes = 0

    def _context(self, version: ssl.TLSVersion, ciphers: str,
                 suites: str | None) -> ssl.SSLContext | None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with warnings.catch_warnings():  # probing TLS 1.0/1.1 is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = version
                ctx.maximum_version = version
        except ValueError:
            return None
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            return None
        if suites is not None and _openssl.set_ciphersuites(ctx, suites) is not True:
            return None
        return ctx

    def probe(self, version: ssl.TLSVersion, ciphers: str = ALL_CIPHERS,
              suites: str | None = None) -> Probe:
        """One handshake offering only ``version`` and ``ciphers`` (``suites`` for 1.3)."""
        ctx = self._context(version, ciphers, suites)
        if ctx is None:
            return Probe(False, error="the local OpenSSL cannot offer this")
        try:
            raw = socket.create_connection(
                (self.host, self.port), self.timeout,
                source_address=(self.source, 0) if self.source else None)
        except OSError as exc:
            raise ScanError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self.handshakes += 1
        try:
            if self.starttls:
                _starttls(raw, self.starttls)
            tls = ctx.wrap_socket(raw, server_hostname=None)
        except ssl.SSLError as exc:
            raw.close()
            return Probe(False, error=getattr(exc, "reason", None) or str(exc))
        except (OSError, ScanError) as exc:
            raw.close()
            if isinstance(exc, ScanError):
                raise
            return Probe(False, error=f"connection closed: {exc}")
        try:
            info = tls.cipher()
            return Probe(True, version=tls.version() or "", cipher=info[0] if info else "",
                         kx=_openssl.peer_temp_key(tls))
        finally:
            tls.close()


def _known_ciphers(version: str) -> list[dict]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(ALL_CIPHERS)
    out = []
    for c in ctx.get_ciphers():
        if c["protocol"] == "TLSv1.3":
            continue
        if version != "TLSv1.2" and c["protocol"] == "TLSv1.2":
            continue
        out.append(c)
    return out


def _flags(name: str, version: str, kx: tuple[str, int] | None,
           info: dict | None) -> list[str]:
    flags = []
    if version != "TLSv1.3":
        kea = (info or {}).get("kea", "")
        if kea in ("kx-rsa", "kx-psk", "kx-rsa-psk", "kx-srp") or not (
                name.startswith(("ECDHE", "DHE", "EDH")) or kea in ("kx-ecdhe", "kx-dhe")):
            flags.append("no forward secrecy")
    if kx is not None and kx[0] == "DH" and kx[1] < 2048:
        flags.append(f"weak DH {kx[1]} bits (Logjam)")
    upper = name.upper()
    for word, why in (("RC4", "RC4"), ("DES-CBC3", "3DES (Sweet32)"), ("NULL", "no encryption"),
                      ("EXP", "export grade"), ("ADH", "anonymous"), ("AECDH", "anonymous"),
                      ("MD5", "MD5")):
        if word in upper.split("-") or upper.startswith(word + "-"):
            flags.append(why)
    return flags


def _kx_text(kx: tuple[str, int] | None, name: str) -> str:
    if kx is None:
        return "RSA key exchange" if not name.startswith(("ECDHE", "DHE", "TLS_")) else "?"
    return f"{kx[0]} {kx[1]}"


def scan(host: str, port: int, starttls: str | None = None, timeout: float = 5.0,
         source: str | None = None) -> ScanReport:
    """Scan one port; see the module's text."""
    scanner = Scanner(host, port, starttls, timeout, source)
    limits: list[str] = []
    warnings: list[str] = []
    results: list[VersionResult] = []
    tls13_suites = _openssl.available()
    if not tls13_suites:
        limits.append("TLS 1.3 suites one by one (no SSL_CTX_set_ciphersuites from Python): "
                      "TLS 1.3 probed with OpenSSL's default suites only")
    for label, version in VERSIONS:
        if label == "SSLv3" and not ssl.HAS_SSLv3:
            limits.append("SSLv3: the local OpenSSL is built without it (SSLv3 cannot be "
                          "offered, so it is not reported even if the server allowed it)")
            continue
        if label == "TLSv1.3":
            result = _scan_tls13(scanner, tls13_suites)
        else:
            result = _scan_classic(scanner, label, version)
        results.append(result)
        if result.accepted and label in ("SSLv3", "TLSv1.0", "TLSv1.1"):
            warnings.append(f"{label} accepted: obsolete protocol "
                            + ("(POODLE)" if label == "SSLv3" else "(RFC 8996)"))
        warnings.extend(f"{label} {b}" for b in result.broken)
        for c in result.ciphers:
            for flag in c.flags:
                warnings.append(f"{label} {c.name}: {flag}")
    return ScanReport(f"{host}:{port}", starttls, results, limits, warnings)


def _scan_classic(scanner: Scanner, label: str, version: ssl.TLSVersion) -> VersionResult:
    known = _known_ciphers(label)
    by_name = {c["name"]: c for c in known}
    offer = [c["name"] for c in known]
    first = scanner.probe(version, ":".join(offer) + ":@SECLEVEL=0")
    if not first.ok:
        return VersionResult(label, False, error=first.error)
    picks: list[Accepted] = []
    broken: list[str] = []
    probe = first
    while True:
        if probe.ok and probe.cipher in offer:
            picks.append(Accepted(probe.cipher, _kx_text(probe.kx, probe.cipher),
                                  _flags(probe.cipher, label, probe.kx,
                                         by_name.get(probe.cipher))))
            offer.remove(probe.cipher)
        else:
            # A server may pick a suite and then fail (Dovecot without ssl_dh picks a DHE
            # suite and aborts): offer each key exchange on its own, drop those that fail.
            groups: dict[str, list[str]] = {}
            for name in offer:
                groups.setdefault(by_name[name].get("kea", "?"), []).append(name)
            if len(groups) < 2:
                break
            keep: list[str] = []
            failing: dict[str, list[str]] = {}
            for kea, names in groups.items():
                trial = scanner.probe(version, ":".join(names) + ":@SECLEVEL=0")
                if trial.ok:
                    keep.extend(names)
                elif trial.error != "NO_CIPHERS_AVAILABLE":  # the client cannot offer them
                    failing[kea] = names
            if not keep or len(keep) == len(offer):
                break
            for kea, names in failing.items():
                # the culprit: working suites plus this group still fail
                trial = scanner.probe(version, ":".join(keep + names) + ":@SECLEVEL=0")
                if not trial.ok:
                    broken.append(f"{kea.removeprefix('kx-').upper()} suites: the server "
                                  f"picks one and the handshake fails ({trial.error})")
            offer = [n for n in offer if n in keep]
        if not offer:
            break
        probe = scanner.probe(version, ":".join(offer) + ":@SECLEVEL=0")
    result = VersionResult(label, True, ciphers=picks, broken=broken)
    result.preference = _preference(scanner, version, [p.name for p in picks], None)
    if result.preference == "server":
        pass  # picks are in the server's order already
    return result


def _scan_tls13(scanner: Scanner, one_by_one: bool) -> VersionResult:
    version = ssl.TLSVersion.TLSv1_3
    if not one_by_one:
        probe = scanner.probe(version)
        if not probe.ok:
            return VersionResult("TLSv1.3", False, error=probe.error)
        return VersionResult("TLSv1.3", True, ciphers=[
            Accepted(probe.cipher, _kx_text(probe.kx, probe.cipher))],
            preference="indeterminate")
    offer = list(TLS13_SUITES)
    picks: list[Accepted] = []
    error = ""
    while offer:
        probe = scanner.probe(version, suites=":".join(offer))
        if not probe.ok or probe.cipher not in offer:
            error = probe.error
            break
        picks.append(Accepted(probe.cipher, _kx_text(probe.kx, probe.cipher)))
        offer.remove(probe.cipher)
    if not picks:
        return VersionResult("TLSv1.3", False, error=error)
    result = VersionResult("TLSv1.3", True, ciphers=picks)
    result.preference = _preference(scanner, version, [p.name for p in picks], "tls13")
    return result


def _preference(scanner: Scanner, version: ssl.TLSVersion, accepted: list[str],
                kind: str | None) -> str:
    if len(accepted) < 2:
        return "indeterminate"
    orders = (accepted, list(reversed(accepted)))
    chosen = []
    for order in orders:
        if kind == "tls13":
            probe = scanner.probe(version, suites=":".join(order))
        else:
            probe = scanner.probe(version, ":".join(order) + ":@SECLEVEL=0")
        if not probe.ok:
            return "indeterminate"
        chosen.append(probe.cipher)
    if chosen[0] == chosen[1]:
        return "server"
    if chosen[0] == orders[0][0] and chosen[1] == orders[1][0]:
        return "client"
    return "indeterminate"
