"""Counting a message's bytes the way POP3 does, for notebook 08.

``measure(message)`` saves the message into a throw-away Maildir with the lab's own
storage code (which stores it with LF line ends, as Dovecot's save does) and reports
what an administrator would want to see side by side: the bytes as given, the stored
file's size, its lines, the size with CRLF line ends (what POP3's LIST and STAT count),
the file name with its ``,S=`` and ``,W=`` values, and the bytes a ``RETR`` puts on the
wire, made by the same function the lab's POP3 server uses (line ends turned into CRLF,
lines starting with ``.`` doubled, a final ``.`` line).

``sizes_table(messages)`` gives the rows for several messages (the scatter plot of file
size against POP3 size is drawn from them). ``SizeExplorer`` is the widget: paste a
message, read its numbers; all of its logic is in ``measure``.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..pop3._fetch import fetch_body
from ..storage import deliver
from ..storage.sizes import to_crlf, virtual_size

_SIZE = re.compile(r",([SW])=(\d+)")


@dataclass(frozen=True)
class MessageSizes:
    """One message's sizes: as given, as stored, as POP3 reports it and sends it."""

    given: bytes
    stored: bytes
    maildir_name: str
    retr_body: bytes  # what RETR sends between its +OK line and the final "."

    @property
    def retr(self) -> bytes:
        """The whole RETR reply: ``+OK <size> octets``, the body, the final ``.``."""
        return f"+OK {self.pop3_size} octets\r\n".encode() + self.retr_body + b".\r\n"

    @property
    def given_size(self) -> int:
        return len(self.given)

    @property
    def file_size(self) -> int:
        """The stored file's size (LF line ends): ``S=``."""
        return len(self.stored)

    @property
    def lines(self) -> int:
        """Line ends in the stored file (a last line without one is not counted)."""
        return self.stored.count(b"\n")

    @property
    def pop3_size(self) -> int:
        """The size with CRLF line ends: ``W=``, and what LIST, STAT and RETR's +OK say."""
        return virtual_size(self.stored)

    @property
    def s_value(self) -> int:
        return int(dict(_SIZE.findall(self.maildir_name))["S"])

    @property
    def w_value(self) -> int:
        return int(dict(_SIZE.findall(self.maildir_name))["W"])

    @property
    def stuffed_lines(self) -> int:
        """Lines RETR sends with a second ``.`` (Dovecot leaves the very first line alone)."""
        added_end = 0 if self.stored.endswith(b"\n") else 2
        return len(self.retr_body) - self.pop3_size - added_end


def measure(message: str | bytes) -> MessageSizes:
    """Save ``message`` as a Maildir delivery would and report its sizes."""
    given = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    folder = Path(tempfile.mkdtemp(prefix="pop3-size-"))
    try:
        deliver(str(folder / "Maildir") + "/", given)
        path = next((folder / "Maildir" / "new").iterdir())
        stored = path.read_bytes()
        name = path.name
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return MessageSizes(given, stored, name, fetch_body(to_crlf(stored), None))


def sizes_table(messages: Iterable[str | bytes]) -> list[MessageSizes]:
    """``measure`` for each message, in order."""
    return [measure(m) for m in messages]


def shown(data: bytes) -> str:
    """Bytes with their line ends made visible (``\\r`` as ␍, ``\\n`` as ␊ and a break)."""
    text = data.decode("utf-8", "replace")
    return text.replace("\r", "␍").replace("\n", "␊\n")


def sizes_html(sizes: MessageSizes) -> str:
    """The numbers and the two byte views as HTML."""
    rows = [("bytes as pasted", sizes.given_size),
            ("file size after Dovecot's save (LF)", sizes.file_size),
            ("line ends in the file", sizes.lines),
            ("POP3 size (CRLF) = file size + line ends", sizes.pop3_size),
            ("lines RETR dot-stuffs", sizes.stuffed_lines)]
    table = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{v}</td></tr>"
                    for k, v in rows)
    return (f"<table>{table}</table><p>Maildir file name: "
            f"<code>{html.escape(sizes.maildir_name)}</code></p>"
            f"<p>What <code>RETR</code> sends:</p><pre>{html.escape(shown(sizes.retr))}</pre>")


EXAMPLE = "From: alice@example.org\nSubject: sizes\n\nA short body.\n.A line with a dot.\n"


class SizeExplorer:
    """A widget: paste a message (optionally with CRLF line ends), read its sizes."""

    def __init__(self, message: str = EXAMPLE) -> None:
        import ipywidgets as widgets

        self.text = widgets.Textarea(value=message,
                                     layout=widgets.Layout(width="48em", height="10em"))
        self.crlf = widgets.Checkbox(value=False, description="pasted text has CRLF ends")
        self.out = widgets.HTML()
        self.last: MessageSizes | None = None
        self.text.observe(lambda _change: self.show(), names="value")
        self.crlf.observe(lambda _change: self.show(), names="value")
        self.widget = widgets.VBox([self.text, self.crlf, self.out])
        self.show()

    def show(self) -> MessageSizes:
        """Measure the text as it stands (CRLF line ends when the box is ticked)."""
        data = self.text.value.encode("utf-8")
        if self.crlf.value:
            data = to_crlf(data)
        self.last = measure(data)
        self.out.value = sizes_html(self.last)
        return self.last

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["EXAMPLE", "MessageSizes", "SizeExplorer", "measure", "shown", "sizes_html",
           "sizes_table"]
