"""Where mail lands: a ``mail_location`` explorer for notebook 04, and a file tree.

``explore(mail_location, user)`` answers the questions a learner has about one value of
the setting, using the lab's own storage code rather than a second implementation: the
value is parsed by ``labserver.storage.location`` (variables expanded for that user,
autodetection when the value is empty), then a real storage is made for it in a
throw-away sandbox, a folder is created and one message is delivered to INBOX and one to
the folder. What it reports is what happened there: the path of INBOX, of the folder and
of each message file, the line Dovecot logs for the location with ``mail_debug = yes``
(``maildir++: root=..., index=, ...``), and the sandbox as a file tree.

``file_tree(root, under)`` draws a lab directory the way ``tree`` does; notebooks use it
to show a lab after deliveries and after a client's APPEND or CREATE.

``MailLocationExplorer`` is the widget (type a value, a user, a folder; see where
everything goes); all of its logic is in ``explore``.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..config.resolve import PathResolver
from ..config.varexpand import expand, mail_user_values
from ..storage import (
    LocationError,
    MailLocation,
    StorageError,
    deliver,
    parse_location,
    storage_for_location,
)

SAMPLE = b"From: Postmaster <postmaster@example.org>\nSubject: Where am I?\n\nHello.\n"
VARIABLES = ("%u", "%n", "%d", "%h", "%Lu", "%{user}", "%{username}", "%{domain}")
# What may exist in the user's home before the first login (for autodetection).
BEFORE = {
    "nothing": (),
    "~/Maildir with cur/": ("~/Maildir/cur/", "~/Maildir/new/", "~/Maildir/tmp/"),
    "~/mail/.imap/ and /var/mail/USER": ("~/mail/.imap/", "/var/mail/%u"),
}


@dataclass(frozen=True)
class Landing:
    """Where one mail_location puts a user's mail; ``error`` when Dovecot would refuse it."""

    text: str
    user: str
    home: str
    expanded: str = ""
    location: MailLocation | None = None
    error: str | None = None
    inbox: str = ""
    folder_name: str = ""
    folder: str = ""
    messages: dict[str, str] = field(default_factory=dict)
    tree: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def debug_line(self) -> str:
        """What Dovecot logs for the location with mail_debug = yes (mailbox-list.c)."""
        loc = self.location
        if loc is None:
            return ""
        return (f"{loc.layout}: root={loc.root_dir}, index={loc.index_dir or ''}, "
                f"indexpvt={loc.index_pvt_dir or ''}, control={loc.control_dir or ''}, "
                f"inbox={loc.inbox_path or ''}, alt={loc.alt_dir or ''}")


def variables(user: str, home: str) -> dict[str, str]:
    """What each common variable expands to for ``user`` with home ``home``."""
    values = mail_user_values(user, home=home)
    return {v: expand(v, values).text for v in VARIABLES}


def _virtual(real: str, root: Path) -> str:
    rel = os.path.relpath(real, root).replace(os.sep, "/")
    return "/" if rel == "." else "/" + rel


def _prepare(root: Path, user: str, home: str, before: str) -> None:
    for item in BEFORE[before]:
        path = item.replace("~", home, 1).replace("%u", user)
        real = root / path.lstrip("/")
        if path.endswith("/"):
            real.mkdir(parents=True, exist_ok=True)
        else:
            real.parent.mkdir(parents=True, exist_ok=True)
            real.touch()


def _new_files(root: Path, before: set[Path]) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p not in before)


def explore(mail_location: str, user: str = "alice", *, home: str | None = None,
            folder: str = "Archive/2024", before: str = "nothing") -> Landing:
    """Parse ``mail_location`` for ``user``, then create ``folder`` and deliver two messages.

    ``folder`` is written with ``/`` between levels and is shown with the separator of
    the layout; ``before`` names what exists in the home at the first login (``BEFORE``).
    """
    if not user or "/" in user or user.startswith("~"):
        raise ValueError(f"Invalid user name: {user!r}")
    home = home or f"/home/{user}"
    root = Path(tempfile.mkdtemp(prefix="mail-location-"))
    try:
        (root / home.lstrip("/")).mkdir(parents=True, exist_ok=True)
        _prepare(root, user, home, before)
        resolver = PathResolver(root)
        values = mail_user_values(user, home=home)
        expanded = expand(mail_location, values).text
        try:
            location = parse_location(mail_location, user=user, home=home, values=values,
                                      resolver=resolver)
            storage = storage_for_location(location, resolver, user=user)
        except LocationError as exc:
            reason = str(exc)
            if not mail_location:
                reason = f"mail_location not set and autodetection failed: {reason}"
            return Landing(mail_location, user, home, expanded, error=reason,
                           tree=file_tree(root))
        name = folder.strip("/").replace("/", storage.separator)
        try:
            storage.ensure_inbox()
            storage.create(name)
            seen = {p for p in root.rglob("*") if p.is_file()}
            deliver(storage, SAMPLE)
            into_inbox = _new_files(root, seen)
            seen |= set(into_inbox)
            deliver(storage, SAMPLE, name)
            into_folder = _new_files(root, seen)
        except StorageError as exc:
            return Landing(mail_location, user, home, expanded, location,
                           error=f"{name}: {exc}", tree=file_tree(root))
        inbox_real, folder_real = _paths(storage, name)
        messages = {"INBOX": _message_path(into_inbox, inbox_real, root),
                    name: _message_path(into_folder, folder_real, root)}
        return Landing(mail_location, user, home, expanded, location, None,
                       _virtual(inbox_real, root), name, _virtual(folder_real, root),
                       messages, file_tree(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _paths(storage: object, name: str) -> tuple[str, str]:
    """The real paths of INBOX and a folder (a Maildir directory or an mbox file)."""
    if hasattr(storage, "paths"):
        return storage.paths("INBOX")[0], storage.paths(name)[0]
    return storage.path("INBOX"), storage.path(name)  # type: ignore[attr-defined]


def _message_path(new: list[Path], mailbox: str, root: Path) -> str:
    """The message file a delivery made: in Maildir a new file; in mbox the folder file."""
    for path in new:
        if path.parent.name in ("new", "cur"):
            return _virtual(str(path), root)
    return _virtual(mailbox, root)


# --- file trees ---------------------------------------------------------------------

def file_tree(root: str | os.PathLike[str], under: str = "/", *,
              skip: tuple[str, ...] = ("/etc", "/run")) -> str:
    """``root`` (a lab directory standing for /) from ``under`` down, drawn like ``tree``.

    Directories end in ``/``; files show their size in bytes; the paths in ``skip``
    (configuration and run files) are left out.
    """
    base = Path(root) / under.lstrip("/")
    if not base.exists():
        return f"{under} (does not exist)"
    lines = [under.rstrip("/") + "/" if base.is_dir() else under]
    if base.is_dir():
        _draw(Path(root), base, "", lines, skip)
    return "\n".join(lines)


def _draw(root: Path, folder: Path, indent: str, lines: list[str],
          skip: tuple[str, ...]) -> None:
    entries = sorted((p for p in folder.iterdir()
                      if "/" + p.relative_to(root).as_posix() not in skip),
                     key=lambda p: p.name)
    for i, path in enumerate(entries):
        last = i == len(entries) - 1
        branch = "└── " if last else "├── "
        if path.is_dir() and not path.is_symlink():
            lines.append(f"{indent}{branch}{path.name}/")
            _draw(root, path, indent + ("    " if last else "│   "), lines, skip)
        else:
            lines.append(f"{indent}{branch}{path.name}  ({path.stat().st_size} bytes)")


# --- the widget ---------------------------------------------------------------------

def landing_html(landing: Landing) -> str:
    """A table of where things land, Dovecot's debug line and the tree, as HTML."""
    esc = html.escape
    if landing.error:
        head = (f"<p><b>Dovecot would log:</b> <code>Error: {esc(landing.error)}</code></p>")
        return head + f"<pre>{esc(landing.tree)}</pre>"
    loc = landing.location
    assert loc is not None
    rows = [("expanded value", landing.expanded or "(empty: autodetected)"),
            ("format (driver)", loc.driver + (" (autodetected)" if loc.autodetected else "")),
            ("layout, separator", f"{loc.layout}, '{loc.hierarchy_sep}'"),
            ("root", loc.root_dir), ("INBOX", landing.inbox),
            (f"folder {landing.folder_name}", landing.folder)]
    rows += [(f"a message in {box}", path) for box, path in landing.messages.items()]
    rows += [(key, value) for key, value in (("INDEX=", loc.index_dir),
                                             ("CONTROL=", loc.control_dir)) if value]
    table = "".join(f"<tr><th style='text-align:left'>{esc(k)}</th>"
                    f"<td><code>{esc(v)}</code></td></tr>" for k, v in rows)
    return (f"<table>{table}</table><p>With <code>mail_debug = yes</code> Dovecot logs: "
            f"<code>{esc(landing.debug_line)}</code></p><pre>{esc(landing.tree)}</pre>")


class MailLocationExplorer:
    """A widget: type a mail_location, a user and a folder; see where the mail goes."""

    def __init__(self, mail_location: str = "maildir:~/Maildir", user: str = "alice",
                 folder: str = "Archive/2024") -> None:
        import ipywidgets as widgets

        wide = widgets.Layout(width="44em")
        self.location = widgets.Text(value=mail_location, description="mail_location",
                                     layout=wide, continuous_update=False)
        self.user = widgets.Text(value=user, description="user", continuous_update=False)
        self.folder = widgets.Text(value=folder, description="folder",
                                   continuous_update=False)
        self.before = widgets.Dropdown(options=list(BEFORE), value="nothing",
                                       description="home has", layout=wide)
        self.out = widgets.HTML()
        self.last: Landing | None = None
        for box in (self.location, self.user, self.folder, self.before):
            box.observe(lambda _change: self.show(), names="value")
        self.widget = widgets.VBox([self.location, widgets.HBox([self.user, self.folder]),
                                    self.before, self.out])
        self.show()

    def show(self) -> Landing:
        """Explore the current values and show the result."""
        user = self.user.value.strip() or "alice"
        try:
            self.last = explore(self.location.value.strip(), user,
                                folder=self.folder.value.strip() or "Archive",
                                before=self.before.value)
        except (ValueError, OSError) as exc:
            self.out.value = f"<p><b>{html.escape(str(exc))}</b></p>"
            return Landing(self.location.value, user, "", error=str(exc))
        self.out.value = landing_html(self.last)
        return self.last

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["BEFORE", "Landing", "MailLocationExplorer", "explore", "file_tree",
           "landing_html", "variables"]
