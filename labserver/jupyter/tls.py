"""TLS in the notebooks: real handshakes against the lab, drawn, and a cipher matrix.

Notebooks 05 and 06 show what a client meets, not what a setting promises:

- ``handshake(lab, listener, version=, ciphers=)`` makes one TLS handshake offering what
  it is told (from 127.0.0.2 by default, like a remote client) and returns what happened:
  the version and suite agreed, the server's key-exchange group, or the client's error
  together with the line Dovecot logged for it. Every connection has a time limit.
- ``handshake_picture(lab, ...)`` draws that handshake with ``diagrams.handshake_diagram``:
  the suites the server accepts come from a scan of the same port, the closing note is
  what really happened.
- ``matrix(report)`` turns a scan (``labserver.tls.scan``) into a protocol-and-cipher
  table, ``compare(before, after)`` marks what hardening removed or added, and
  ``matrix_html`` renders either; ``CipherMatrix(lab)`` wraps them in a widget with a
  Scan button and a "keep as before" button (its ``scan()`` and ``keep()`` work without a
  browser, which is how a notebook cell drives it when it runs headless).
"""

from __future__ import annotations

import html
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..service.lab import Lab, LabError
from ..tls.scan import ScanError, Scanner, ScanReport, scan
from .diagrams import handshake_diagram
from .svg import Drawing

REMOTE = "127.0.0.2"
TIMEOUT = 5.0
VERSIONS = {"TLSv1.0": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
            "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
COLUMNS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
STARTTLS = {"imap": "imap", "pop3": "pop3"}
OBSOLETE = ("SSLv3", "TLSv1.0", "TLSv1.1")  # POODLE; RFC 8996


@dataclass(frozen=True)
class Handshake:
    """One handshake: what the client offered and how it ended."""

    listener: str
    version: str
    offered: tuple[str, ...]
    ok: bool
    cipher: str = ""
    agreed_version: str = ""
    key_exchange: str = ""
    client_error: str = ""
    server_log: str = ""

    def summary(self) -> str:
        """One or two lines a learner can compare with openssl s_client's output."""
        if self.ok:
            kx = f", key exchange {self.key_exchange}" if self.key_exchange else ""
            return f"{self.listener}: {self.agreed_version} with {self.cipher}{kx}"
        text = f"{self.listener}: handshake failed; the client saw {self.client_error}"
        if self.server_log:
            text += "\nDovecot logged:\n" + "\n".join(
                f"  {line}" for line in self.server_log.splitlines())
        return text


def _target(lab: Lab, listener: str) -> tuple[str, int, str | None, str]:
    """(host, port, STARTTLS protocol or None, login service) for a listener name; ``imap``
    and ``pop3`` mean STARTTLS/STLS on the plaintext listener."""
    for spec, port in lab.listeners():
        if spec.name == listener:
            host = "127.0.0.1" if spec.address in ("0.0.0.0", "*", "") else spec.address
            if host in ("::", "[::]"):
                host = "::1"
            return (host, port, None if spec.ssl else STARTTLS.get(spec.protocol),
                    spec.service)
    open_ = ", ".join(s.name for s, _ in lab.listeners()) or "none"
    raise LabError(f"no listener named {listener!r} is open (open: {open_})")


TLS_WORDS = ("SSL", "ssl_", "Diffie-Hellman")
FINAL_WORDS = ("SSL_accept", "Failed to initialize SSL")


def tls_log_lines(lab: Lab, service: str, after: int, wait: float = 1.0) -> list[str]:
    """A login service's TLS log lines after index ``after``, waiting briefly for the final
    one: a login process logs a failed handshake just after the client saw it fail (and an
    error such as missing DH parameters just before)."""
    deadline = time.monotonic() + wait
    while True:
        lines = [line for line in lab.logs()[after:]
                 if f"{service}: " in line and any(w in line for w in TLS_WORDS)]
        if any(w in line for line in lines for w in FINAL_WORDS) or (
                time.monotonic() >= deadline):
            return lines
        time.sleep(0.05)


def handshake(lab: Lab, listener: str = "imaps", *, version: str = "TLSv1.2",
              ciphers: Sequence[str] | str | None = None,
              suites: Sequence[str] | str | None = None,
              source: str | None = REMOTE, timeout: float = TIMEOUT) -> Handshake:
    """One handshake offering only ``version`` and ``ciphers`` (TLS 1.2 and below, an
    OpenSSL cipher string or a list) or ``suites`` (TLS 1.3)."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {', '.join(VERSIONS)}")
    host, port, starttls, service = _target(lab, listener)
    cipher_text = ":".join(ciphers) if isinstance(ciphers, list | tuple) else ciphers
    suite_text = ":".join(suites) if isinstance(suites, list | tuple) else suites
    offered = tuple((suite_text or "TLS 1.3 defaults").split(":")) if version == "TLSv1.3" \
        else tuple((cipher_text or "ALL").split(":"))
    before = len(lab.logs())
    scanner = Scanner(host, port, starttls, timeout, source)
    try:
        got = scanner.probe(VERSIONS[version], (cipher_text or "ALL") + ":@SECLEVEL=0",
                            suite_text)
    except ScanError as exc:
        return Handshake(listener, version, offered, False, client_error=str(exc))
    if got.ok:
        kx = f"{got.kx[0]} {got.kx[1]} bits" if got.kx else ""
        return Handshake(listener, version, offered, True, got.cipher, got.version, kx)
    return Handshake(listener, version, offered, False, client_error=got.error,
                     server_log="\n".join(tls_log_lines(lab, service, before)))


def scan_listener(lab: Lab, listener: str = "imaps", timeout: float = TIMEOUT) -> ScanReport:
    """The lab's TLS scanner on one listener (STARTTLS for ``imap``/``pop3``)."""
    host, port, starttls, _ = _target(lab, listener)
    return scan(host, port, starttls=starttls, timeout=timeout, source=REMOTE)


def handshake_picture(lab: Lab, listener: str = "imaps", *, version: str = "TLSv1.2",
                      ciphers: Sequence[str], report: ScanReport | None = None
                      ) -> tuple[Handshake, Drawing]:
    """Make the handshake and draw it; the server's side comes from a scan of the port."""
    report = report or scan_listener(lab, listener)
    result = handshake(lab, listener, version=version, ciphers=list(ciphers))
    accepts = report.ciphers(version)
    preference = next((v.preference for v in report.versions if v.version == version), "")
    drawing = handshake_diagram(list(ciphers), accepts, result.summary(), version=version,
                                server_preference=preference == "server")
    return result, drawing


# -- the protocol-and-cipher matrix ----------------------------------------------------------

@dataclass
class Row:
    """One cipher suite: the versions that accepted it and what is weak about it."""

    suite: str
    versions: set[str] = field(default_factory=set)
    flags: list[str] = field(default_factory=list)
    key_exchange: str = ""
    change: str = ""  # "", "removed" or "added" (``compare``)


@dataclass
class Matrix:
    """Rows of suites by columns of protocol versions, for one scanned port."""

    target: str
    columns: tuple[str, ...]
    refused: dict[str, str]
    rows: list[Row]
    preference: dict[str, str]
    warnings: list[str]

    def accepted(self, suite: str, version: str) -> bool:
        return any(r.suite == suite and version in r.versions for r in self.rows)


def matrix(report: ScanReport) -> Matrix:
    """A scan as a matrix; suites keep the order the scan found them (the server's order
    when the server's preference wins)."""
    rows: dict[str, Row] = {}
    refused = {}
    preference = {}
    probed = [v.version for v in report.versions]
    for result in report.versions:
        if not result.accepted:
            refused[result.version] = result.error or "refused"
            continue
        preference[result.version] = result.preference
        for accepted in result.ciphers:
            row = rows.setdefault(accepted.name, Row(accepted.name, key_exchange=accepted.kx))
            row.versions.add(result.version)
            row.flags.extend(f for f in accepted.flags if f not in row.flags)
    columns = tuple(c for c in COLUMNS if c in probed)
    return Matrix(report.target, columns, refused, list(rows.values()), preference,
                  list(report.warnings))


def compare(before: Matrix, after: Matrix) -> Matrix:
    """``after`` with the suites only ``before`` had added back as "removed" rows and the
    new ones marked "added"."""
    old = {r.suite: r for r in before.rows}
    new = {r.suite: r for r in after.rows}
    rows = []
    for row in after.rows:
        gained = row.versions - (old[row.suite].versions if row.suite in old else set())
        rows.append(Row(row.suite, set(row.versions), list(row.flags), row.key_exchange,
                        "added" if gained else ""))
    for row in before.rows:
        if row.suite not in new:
            rows.append(Row(row.suite, set(row.versions), list(row.flags), row.key_exchange,
                            "removed"))
    columns = tuple(c for c in COLUMNS if c in before.columns or c in after.columns)
    return Matrix(after.target, columns, after.refused, rows, after.preference,
                  after.warnings)


def matrix_html(m: Matrix) -> str:
    """The matrix as an HTML table: one row per suite, a tick per accepted version, weak
    suites and accepted obsolete versions in red, removed suites struck through."""
    esc = html.escape
    head = "".join(
        f'<th title="{esc(m.refused.get(c, ""))}"'
        + (' style="color:#c62828"' if c in OBSOLETE and c not in m.refused else "")
        + f">{esc(c)}"
        + ("<br><small>refused</small>" if c in m.refused else
           f"<br><small>{esc(m.preference.get(c, ''))} order</small>"
           if m.preference.get(c) else "") + "</th>" for c in m.columns)
    lines = [f'<div class="mal-tls-matrix"><b>{esc(m.target)}</b>',
             '<table style="border-collapse:collapse;font-size:12px">',
             f"<tr><th style='text-align:left'>suite</th>{head}<th>key exchange</th>"
             "<th style='text-align:left'>weak because</th></tr>"]
    for row in m.rows:
        weak = bool(row.flags)
        style = "color:#c62828;" if weak else ""
        if row.change == "removed":
            style = "color:#9e9e9e;text-decoration:line-through;"
        elif row.change == "added":
            style += "background:#e8f5e9;"
        cells = "".join(
            f"<td style='text-align:center'>{'&#10003;' if c in row.versions else ''}</td>"
            for c in m.columns)
        lines.append(f"<tr style='{style}'><td><code>{esc(row.suite)}</code>"
                     f"{' (removed)' if row.change == 'removed' else ''}</td>{cells}"
                     f"<td>{esc(row.key_exchange)}</td><td>{esc(', '.join(row.flags))}</td></tr>")
    lines.append("</table>")
    if not m.rows:
        lines.append("<div>No suite completed a handshake.</div>")
    lines.append("</div>")
    return "\n".join(lines)


class CipherMatrix:
    """A widget: pick a listener, Scan, keep a scan as "before", scan again to compare."""

    def __init__(self, lab: Lab, listeners: Sequence[str] = ("imaps", "pop3s", "imap", "pop3")
                 ) -> None:
        import ipywidgets as widgets

        self.lab = lab
        self.before: Matrix | None = None
        self.current: Matrix | None = None
        self.choice = widgets.Dropdown(options=list(listeners), value=listeners[0],
                                       description="listener")
        self.scan_button = widgets.Button(description="Scan", icon="search")
        self.keep_button = widgets.Button(description="Keep as 'before'")
        self.html = widgets.HTML()
        self.scan_button.on_click(lambda _: self.scan())
        self.keep_button.on_click(lambda _: self.keep())
        self.widget = widgets.VBox([widgets.HBox([self.choice, self.scan_button,
                                                  self.keep_button]), self.html])

    def scan(self, listener: str | None = None) -> Matrix | None:
        """Scan the chosen listener of the running lab and show it (compared with the kept
        scan when there is one); a lab that is not running says so."""
        if listener is not None:
            self.choice.value = listener
        try:
            found = matrix(scan_listener(self.lab, self.choice.value))
        except (LabError, ScanError, OSError) as exc:
            self.html.value = f"<div class='mal-tls-matrix'>Cannot scan: {html.escape(str(exc))}"
            self.html.value += "</div>"
            return None
        self.current = found
        shown = compare(self.before, found) if self.before is not None else found
        self.html.value = matrix_html(shown)
        return shown

    def keep(self) -> None:
        """Remember the current scan as "before" for the next comparison."""
        self.before = self.current

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["CipherMatrix", "Handshake", "Matrix", "Row", "compare", "handshake",
           "handshake_picture", "matrix", "matrix_html", "scan_listener"]
