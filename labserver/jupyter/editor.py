"""A dovecot.conf editor for notebooks that checks the text as the learner types.

``validate(text)`` is the whole logic and needs no browser: it reads the text as
``/etc/dovecot/dovecot.conf`` exactly as ``labserver doveconf -n`` reads that file and
returns doveconf's messages word for word (``doveconf: Fatal: Error in configuration
file /etc/dovecot/dovecot.conf line 3: Unknown setting: ...``), its warnings (obsolete
settings with their replacement) and the non-default settings ``doveconf -n`` prints.

``ConfigEditor(text, lab=lab)`` wires it to ipywidgets: a text area, the messages
under it (the line of the first error named), the effective settings beside, and,
given a lab, a button that writes the text into the lab and starts or reloads it, as
a ``%%dovecot`` cell does. Included files (``!include conf.d/*.conf``) are read from
the lab's directory when a lab or ``root`` is given, otherwise from an empty one.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import dataclass

from ..cli import EX_CONFIG
from ..config import ConfigError, load
from ..config.doveconf import dump
from ..service.lab import CONFIG_PATH, Lab
from . import commands

# "file X line 3: ..." for most errors; "(section started at X:2)" for a missing '}'
_LINE = re.compile(r"\bline (\d+)\b|:(\d+)\)")


@dataclass(frozen=True)
class Validation:
    """What ``doveconf -n`` says about a text: stderr lines, settings and exit code."""

    messages: tuple[str, ...]
    settings: str
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def errors(self) -> list[str]:
        return [m for m in self.messages if not m.startswith("doveconf: Warning: ")]

    @property
    def warnings(self) -> list[str]:
        return [m for m in self.messages if m.startswith("doveconf: Warning: ")]

    @property
    def line(self) -> int | None:
        """The line number the first error names, if it names one."""
        for message in self.errors:
            found = _LINE.search(message)
            if found:
                return int(found.group(1) or found.group(2))
        return None


def validate(text: str, *, root: str | os.PathLike[str] | None = None,
             path: str = CONFIG_PATH) -> Validation:
    """Check ``text`` as the file ``path`` the way ``labserver doveconf -n`` does."""
    if root is None:
        with tempfile.TemporaryDirectory(prefix="lab-editor-") as empty:
            return validate(text, root=empty, path=path)
    try:
        config = load(path, root=str(root), text=text, expand_values=False, strict=False)
    except ConfigError as exc:
        lines = [*(f"doveconf: {m}" for m in exc.messages), f"doveconf: Fatal: {exc.message}"]
        return Validation(tuple(lines), "", EX_CONFIG)
    result = dump(config, mode="n", header=False)
    return Validation(tuple(f"doveconf: {line}" for line in result.errors), result.stdout,
                      result.exit_code)


def render(result: Validation) -> str:
    """The messages as HTML: a verdict, then errors in red and warnings in amber."""
    if result.ok and not result.warnings:
        head = '<b style="color:#2e7d32">doveconf accepts this configuration.</b>'
    elif result.ok:
        head = '<b style="color:#2e7d32">doveconf accepts this configuration, with warnings.</b>'
    else:
        where = f" (line {result.line})" if result.line else ""
        head = f'<b style="color:#c62828">doveconf refuses this configuration{where}.</b>'
    rows = [f'<div style="color:{"#b26a00" if m in result.warnings else "#c62828"};'
            f'font-family:monospace;white-space:pre-wrap">{html.escape(m)}</div>'
            for m in result.messages]
    return head + "".join(rows)


def render_settings(result: Validation) -> str:
    """The non-default settings as ``doveconf -n`` prints them."""
    body = result.settings or "(nothing: the configuration was not read)"
    return ("<b>doveconf -n</b><pre style=\"margin:0\">" + html.escape(body) + "</pre>")


class ConfigEditor:
    """A text area that runs ``validate`` on every change, and shows what doveconf says."""

    def __init__(self, text: str = "", *, lab: Lab | None = None,
                 root: str | os.PathLike[str] | None = None, rows: int = 16) -> None:
        import ipywidgets as widgets

        self.lab = lab
        self.root = root if root is not None or lab is None else lab.root
        self.textarea = widgets.Textarea(value=text, rows=rows, continuous_update=True,
                                         layout=widgets.Layout(width="100%"))
        self.textarea.add_class("labserver-config-editor")
        self.messages = widgets.HTML()
        self.settings = widgets.HTML()
        self.output = widgets.Output()
        parts = [self.textarea, self.messages]
        if lab is not None:
            self.apply_button = widgets.Button(description="Write and (re)start the lab",
                                               layout=widgets.Layout(width="auto"))
            self.apply_button.on_click(lambda _: self.apply())
            parts += [self.apply_button, self.output]
        self.widget = widgets.HBox([widgets.VBox(parts, layout=widgets.Layout(width="60%")),
                                    widgets.VBox([self.settings],
                                                 layout=widgets.Layout(width="40%"))])
        self.result = self.check()
        self.textarea.observe(lambda _: self.check(), names="value")

    @property
    def text(self) -> str:
        return self.textarea.value

    @text.setter
    def text(self, value: str) -> None:
        self.textarea.value = value

    def check(self) -> Validation:
        """Validate the current text and show the outcome."""
        self.result = validate(self.text, root=self.root)
        self.messages.value = render(self.result)
        self.settings.value = render_settings(self.result)
        return self.result

    def apply(self) -> commands.Output:
        """Write the text into the lab and start or reload it (the ``%%dovecot`` way)."""
        if self.lab is None:
            raise ValueError("this editor has no lab to apply the configuration to")
        out = commands.write_config(self.lab, self.text)
        self.output.outputs = ()
        self.output.append_stdout(out.shown() + "\n")
        return out

    def _repr_mimebundle_(self, **kwargs: object) -> dict | None:
        return self.widget._repr_mimebundle_(**kwargs)
