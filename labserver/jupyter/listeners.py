"""The listener map: every IMAP and POP3 listener of a configuration, open or not, and why.

``listener_rows(config, lab=None)`` walks the ``service imap-login`` and ``service
pop3-login`` blocks as Dovecot does and gives one ``ListenerRow`` per ``inet_listener``:
its service, the addresses and configured port, the TLS mode (implicit TLS, STARTTLS or
plaintext only) and, for a listener that stays closed, the reason (``port = 0``, the
protocol missing from ``protocols``, ``ssl = no`` for an implicit-TLS listener). Given
a running lab, each open listener also gets the real port the lab bound (the lab maps
configured ports to free ones, so nothing needs root). ``rows_from_text`` does the same
for a configuration text without starting anything.

``map_table`` prints the rows like the lab's listener table, ``map_drawing`` draws them
(one box per service, one port per listener), and ``ListenerMap`` is the widget: a
configuration editor whose map follows the text as it is typed.
"""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass

from ..config import Config, ConfigError, load
from ..service.lab import CONFIG_PATH, Lab
from ..service.listeners import SUPPORTED_PROTOCOLS, PortPolicy, listener_specs
from .svg import FAIL, INK, PASS, SKIP, Drawing

STARTTLS_COLOUR = "#1f77b4"


@dataclass(frozen=True)
class ListenerRow:
    """One ``inet_listener`` as the configuration leaves it."""

    protocol: str
    service: str
    listener: str
    addresses: tuple[str, ...]  # where the lab binds it (empty when closed)
    configured_port: int
    tls: str  # "implicit TLS", "STARTTLS" or "plaintext only"
    open: bool
    reason: str = ""  # why a closed listener stays closed
    real_ports: tuple[int, ...] = ()

    @property
    def state(self) -> str:
        return "open" if self.open else f"closed ({self.reason})"


def _tls_mode(config: Config, protocol: str, implicit: bool) -> str:
    if implicit:
        return "implicit TLS"
    return "plaintext only" if config.get("ssl", protocol=protocol) == "no" else "STARTTLS"


def listener_rows(config: Config, lab: Lab | None = None) -> list[ListenerRow]:
    """Every IMAP and POP3 listener, in the order Dovecot lists them."""
    protocols = config.get("protocols").split()
    opened: dict[tuple[str, str], list[str]] = {}
    for spec in listener_specs(config, PortPolicy("ephemeral")):
        opened.setdefault((spec.service, spec.name), []).append(spec.address)
    real: dict[tuple[str, str], list[int]] = {}
    for spec, port in lab.listeners() if lab is not None else []:
        real.setdefault((spec.service, spec.name), []).append(port)
    rows = []
    for service in config.sections("service"):
        protocol = service.get("protocol")
        if protocol not in SUPPORTED_PROTOCOLS or service.get("type") != "login":
            continue
        for listener in service.children("inet_listener"):
            name, port = listener.get("name"), listener.get("port")
            implicit = bool(listener.get("ssl"))
            key = (service.get("name"), name)
            if port == 0:
                reason = "port = 0"
            elif protocol not in protocols:
                reason = f"{protocol} is not in protocols"
            elif implicit and config.get("ssl") == "no":
                reason = "ssl = no: no implicit TLS"
            else:
                reason = ""
            rows.append(ListenerRow(
                protocol=protocol, service=key[0], listener=name,
                addresses=tuple(opened.get(key, [])), configured_port=port,
                tls=_tls_mode(config, protocol, implicit), open=not reason, reason=reason,
                real_ports=tuple(dict.fromkeys(real.get(key, [])))))
    return rows


def rows_from_text(text: str) -> list[ListenerRow]:
    """The rows for a dovecot.conf text (read as ``/etc/dovecot/dovecot.conf`` in an empty
    lab directory); ``ConfigError`` with doveconf's words when it is refused."""
    with tempfile.TemporaryDirectory(prefix="lab-listeners-") as root:
        return listener_rows(load(CONFIG_PATH, root=root, text=text, expand_values=False))


def map_table(rows: list[ListenerRow]) -> str:
    """The rows as a table, in the spirit of ``lab.table()`` and ``ss -tln``."""
    table = [("Service", "Listener", "Address", "Config port", "Real port", "TLS", "State")]
    for row in rows:
        table.append((row.service, row.listener, ", ".join(row.addresses) or "-",
                      str(row.configured_port),
                      ", ".join(map(str, row.real_ports)) or "-", row.tls, row.state))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in table)


def _colour(row: ListenerRow) -> str:
    if not row.open:
        return SKIP
    return {"implicit TLS": PASS, "STARTTLS": STARTTLS_COLOUR}.get(row.tls, FAIL)


def map_drawing(rows: list[ListenerRow], title: str = "Listeners") -> Drawing:
    """One box per login service, one port per listener: green implicit TLS, blue
    STARTTLS, red plaintext only, grey closed (with the reason)."""
    services = list(dict.fromkeys(r.service for r in rows))
    width, box_w, row_h = 640, 150, 30
    y = 40
    drawing = Drawing(width, 100, title=title)
    drawing.text(10, 20, title, font_weight="bold", font_size=14)
    for service in services:
        mine = [r for r in rows if r.service == service]
        height = max(len(mine) * row_h + 10, 40)
        drawing.rect(10, y, box_w, height, fill="#f5f5f5", stroke=INK, rx=6)
        drawing.text(20, y + height / 2 + 4, f"service {service}", font_weight="bold")
        for i, row in enumerate(mine):
            cy = y + 10 + i * row_h + row_h / 2
            colour = _colour(row)
            drawing.rect(box_w + 4, cy - 8, 16, 16, fill=colour)
            drawing.line(box_w + 20, cy, box_w + 60, cy, colour=colour, arrow=row.open)
            label = f"{row.listener}  port {row.configured_port}"
            if row.open:
                where = ", ".join(row.addresses)
                real = ", ".join(map(str, row.real_ports))
                label += f"  {row.tls}  on {where}" + (f" (real port {real})" if real else "")
            else:
                label += f"  closed: {row.reason}"
            drawing.text(box_w + 66, cy + 4, label, fill=INK if row.open else SKIP)
        y += height + 14
    drawing.legend(10, y + 12, [("implicit TLS", PASS), ("STARTTLS", STARTTLS_COLOUR),
                                ("plaintext only", FAIL), ("closed", SKIP)])
    drawing.resize(y + 24)
    return drawing


EXAMPLE = """\
protocols = imap pop3
ssl = yes
ssl_cert = </etc/dovecot/private/dovecot.pem
ssl_key = </etc/dovecot/private/dovecot.key
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 993
  }
}
"""


class ListenerMap:
    """A widget: edit a configuration (or look at a lab) and see which listeners open."""

    def __init__(self, text: str = EXAMPLE, *, lab: Lab | None = None) -> None:
        import ipywidgets as widgets

        self.lab = lab
        self.textarea = widgets.Textarea(value=text, rows=14, continuous_update=True,
                                         layout=widgets.Layout(width="100%"))
        self.picture = widgets.HTML()
        self.table = widgets.HTML()
        self.rows: list[ListenerRow] = []
        self.error = ""
        parts = [self.picture, self.table] if lab is not None else [
            self.textarea, self.picture, self.table]
        self.widget = widgets.VBox(parts)
        self.textarea.observe(lambda _: self.show(), names="value")
        self.show()

    def show(self) -> list[ListenerRow]:
        """Recompute the map from the lab (if given) or from the text."""
        try:
            if self.lab is not None:
                config = self.lab.config
                if config is None:
                    raise ConfigError("the lab is not running: start it first")
                self.rows = listener_rows(config, self.lab)
            else:
                self.rows = rows_from_text(self.textarea.value)
            self.error = ""
        except ConfigError as exc:
            self.rows, self.error = [], exc.message
        if self.error:
            self.picture.value = (f'<b style="color:{FAIL}">No map: '
                                  f"{html.escape(self.error)}</b>")
            self.table.value = ""
        else:
            self.picture.value = map_drawing(self.rows).svg
            self.table.value = f"<pre>{html.escape(map_table(self.rows))}</pre>"
        return self.rows

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["EXAMPLE", "ListenerMap", "ListenerRow", "listener_rows", "map_drawing",
           "map_table", "rows_from_text"]
