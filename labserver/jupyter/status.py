"""The lab at a glance, for the start page: running or not, listeners, the last log lines.

``status_html(lab)`` is the logic (HTML text, testable without a browser);
``LabStatus(lab)`` shows it in a widget with a Refresh button. Without a lab it
follows the kernel's lab (the one ``%%dovecot`` makes) and says when there is none yet.
"""

from __future__ import annotations

import html

from ..service.lab import Lab
from . import kernel

RUNNING, STOPPED = "#2e7d32", "#9e9e9e"


def status_html(lab: Lab | None, log_lines: int = 5) -> str:
    """Running or stopped, engine, a table of listeners and the last ``log_lines`` log lines."""
    if lab is None:
        return ('<div class="labserver-status"><b style="color:#9e9e9e">&#9679; No lab yet'
                "</b>: run a <code>%%dovecot</code> cell to start one.</div>")
    colour, word = (RUNNING, "running") if lab.running else (STOPPED, "stopped")
    parts = [f'<div class="labserver-status"><b style="color:{colour}">&#9679; Lab {word}</b>'
             f" (engine {html.escape(lab.engine)})"]
    if lab.listeners():
        parts.append('<pre style="margin:4px 0">' + html.escape(lab.table()) + "</pre>")
    elif lab.running:
        parts.append("<div>No listeners are open.</div>")
    lines = lab.logs()[-log_lines:] if log_lines > 0 else []
    if lines:
        parts.append('<pre style="margin:4px 0">' + html.escape("\n".join(lines)) + "</pre>")
    return "".join(parts) + "</div>"


class LabStatus:
    """A small panel showing ``status_html``; ``refresh()`` (or its button) updates it."""

    def __init__(self, lab: Lab | None = None, log_lines: int = 5) -> None:
        import ipywidgets as widgets

        self._lab = lab
        self.log_lines = log_lines
        self.html = widgets.HTML()
        self.button = widgets.Button(description="Refresh", icon="refresh",
                                     layout=widgets.Layout(width="auto"))
        self.button.on_click(lambda _: self.refresh())
        self.widget = widgets.VBox([self.html, self.button])
        self.refresh()

    @property
    def lab(self) -> Lab | None:
        return self._lab if self._lab is not None else kernel.existing()

    def refresh(self) -> str:
        """Read the lab's state again and show it; returns the HTML shown."""
        self.html.value = status_html(self.lab, self.log_lines)
        return self.html.value

    def _repr_mimebundle_(self, **kwargs: object) -> dict | None:
        return self.widget._repr_mimebundle_(**kwargs)
