"""Pictures for the course, as inline SVG: sessions, TLS handshakes, flows, charts.

A notebook author gets:

- ``sequence_diagram(transcript)``: a lab session (``lab.transcripts()[-1]``, or a list
  of ``"C: ..."``/``"S: ..."`` lines) drawn as client/server arrows. Lines are shown as
  the transcript has them (a password sent with ``LOGIN`` is visible, as in Dovecot's
  rawlog), shortened past ``max_chars``; consecutive lines from one side make one arrow.
- ``handshake_diagram(client_offers, server_accepts, outcome)``: the TLS handshake
  ladder, ending in a session when the two share a cipher and in a
  ``handshake_failure`` alert when they do not.
- ``flow_diagram(steps)``: boxes top to bottom with pass/fail arrows, e.g. a PAM stack
  (``Step("pam_unix.so nullok", "fail", tag="required")``).
- ``bar_chart(...)`` and ``scatter_plot(...)`` (from ``charts``): small charts with axes,
  labels and a legend.

Each returns a ``Drawing``: the last expression of a cell shows it; ``str()`` is the SVG.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..service.rawlog import Transcript
from .charts import bar_chart, scatter_plot
from .svg import CHAR_WIDTH, FAIL, INK, MONO, PASS, SKIP, Drawing, shorten

CLIENT_COLOUR, SERVER_COLOUR, NOTE_FILL = "#1f5fa8", "#2e7d32", "#fff8e1"
LINE_HEIGHT = 15


@dataclass(frozen=True)
class Message:
    """One arrow of a ladder: who sends (``"C"`` or ``"S"``) and its text lines."""

    side: str
    lines: tuple[str, ...]
    colour: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Note:
    """A box across both lifelines (an outcome, a pause, what was left out)."""

    text: str
    colour: str = INK


def _messages(lines: Iterable[str], per_message: int, max_chars: int) -> list[Message]:
    """Group ``C:``/``S:`` lines into one arrow per run of lines from one side."""
    groups: list[tuple[str, list[str]]] = []
    for raw in lines:
        side, _, text = raw.partition(": ")
        side = side.strip().upper()
        if side not in ("C", "S"):  # a line without a prefix continues the last message
            side, text = (groups[-1][0] if groups else "S"), raw
        if groups and groups[-1][0] == side:
            groups[-1][1].append(text)
        else:
            groups.append((side, [text]))
    out = []
    for side, texts in groups:
        if len(texts) > per_message:  # keep the last line: IMAP's tagged completion
            more = len(texts) - per_message
            texts = [*texts[:per_message - 1], f"… {more} more line{'s' * (more != 1)}",
                     texts[-1]]
        shown = [shorten(t, max_chars) for t in texts]
        out.append(Message(side, tuple(shown)))
    return out


def ladder(rows: Sequence[Message | Note], *, left: str = "Client", right: str = "Server",
           title: str = "", width: int = 760) -> Drawing:
    """Two lifelines and the arrows and notes between them, top to bottom."""
    box = max(140, max(len(left), len(right)) * 7.5 + 16)  # wide enough for "Client ip:port"
    margin, top = max(90, box / 2 + 10), 64 if title else 44
    xl, xr = margin, width - margin
    fits = int((xr - xl - 20) / (11 * CHAR_WIDTH))  # 11 px monospace between the lifelines
    height = top + 20 + sum(
        (len(r.lines) if isinstance(r, Message) else 1) * LINE_HEIGHT + 16 for r in rows)
    d = Drawing(width, height + 20, title or f"{left} and {right}")
    if title:
        d.text(width / 2, 22, title, text_anchor="middle", font_size=15, font_weight="bold")
    for x, name in ((xl, left), (xr, right)):
        d.rect(x - box / 2, top - 28, box, 24, rx=4, fill="#eef3f8", stroke=INK)
        d.text(x, top - 11, name, text_anchor="middle", font_weight="bold")
        d.line(x, top - 4, x, height + 4, colour=SKIP, stroke_dasharray="4 3")
    y = top + 8.0
    for row in rows:
        if isinstance(row, Note):
            d.rect(xl - 60, y, xr - xl + 120, LINE_HEIGHT + 6, rx=3, fill=NOTE_FILL,
                   stroke=row.colour)
            d.text(width / 2, y + LINE_HEIGHT, row.text, text_anchor="middle", fill=row.colour)
            y += LINE_HEIGHT + 16
            continue
        colour = row.colour or (CLIENT_COLOUR if row.side == "C" else SERVER_COLOUR)
        text_x = xl + 10
        for line in row.lines:
            y += LINE_HEIGHT
            d.text(text_x, y - 3, shorten(line, fits), font_family=MONO, font_size=11, fill=colour,
                   xml_space="preserve")
        y += 4
        start, end = (xl, xr) if row.side == "C" else (xr, xl)
        extra: dict[str, object] = {"stroke_dasharray": "6 4"} if row.dashed else {}
        d.line(start, y, end, y, colour=colour, arrow=True, **extra)
        y += 12
    d.resize(y + 16)
    return d


def _lines(transcript: Transcript | Iterable[str]) -> list[str]:
    if isinstance(transcript, Transcript):
        return transcript.lines()
    items = [transcript] if isinstance(transcript, str) else transcript
    return [line for item in items for line in item.splitlines()]


def sequence_diagram(transcript: Transcript | Iterable[str], *, max_messages: int = 30,
                     max_chars: int = 72, lines_per_message: int = 4,
                     title: str | None = None) -> Drawing:
    """A session as a sequence diagram: client on the left, server on the right.

    ``transcript`` is a lab ``Transcript`` or ``"C: ..."``/``"S: ..."`` lines. At most
    ``max_messages`` arrows are drawn (a note says how many more there were); each
    shows up to ``lines_per_message`` lines of ``max_chars`` characters, the last line
    always among them (a response's tagged completion).
    """
    messages: list[Message | Note] = list(_messages(_lines(transcript), lines_per_message,
                                                    max_chars))
    left, right = "Client", "Server"
    if isinstance(transcript, Transcript):
        left, right = f"Client {transcript.remote}", f"Server {transcript.local}"
        if title is None:
            who = f", user {transcript.user}" if transcript.user else ""
            tls = ", TLS" if transcript.tls else ""
            title = f"{transcript.protocol.upper()} session{who}{tls}"
    if len(messages) > max_messages:
        left_out = len(messages) - max_messages
        messages = [*messages[:max_messages],
                    Note(f"… {left_out} more message{'s' * (left_out != 1)} not drawn")]
    if not messages:
        messages = [Note("(nothing was said)")]
    return ladder(messages, left=left, right=right, title=title or "")


def _list(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def handshake_diagram(client_offers: Sequence[str], server_accepts: Sequence[str],
                      outcome: str | None = None, *, version: str = "TLSv1.2",
                      server_preference: bool = False) -> Drawing:
    """The TLS handshake for a client's offered ciphers and a server's accepted ones.

    With a shared cipher the server picks one (the client's first that the server
    accepts, or with ``server_preference`` the server's first that the client offers, as
    ``ssl_prefer_server_ciphers = yes`` makes Dovecot do) and the ladder ends in
    encrypted traffic; without one the server answers the ClientHello with a fatal
    ``handshake_failure`` alert, which is what ``openssl s_client`` reports. ``outcome``
    replaces the closing note.
    """
    offers, accepts = list(client_offers), list(server_accepts)
    shared = ([c for c in accepts if c in offers] if server_preference
              else [c for c in offers if c in accepts])
    rows: list[Message | Note] = [Message("C", ("ClientHello", f"versions up to {version}",
                                                f"ciphers: {_list(offers)}"))]
    if not shared:
        rows.append(Message("S", ("Alert (fatal): handshake_failure (40)",
                                  f"server accepts: {_list(accepts)}"), colour=FAIL))
        rows.append(Note(outcome or "No shared cipher: the connection closes before any "
                         "IMAP or POP3 is spoken", FAIL))
        return ladder(rows, title=f"TLS handshake without a shared cipher ({version})")
    chosen = shared[0]
    if version.startswith("TLSv1.3"):
        rows += [Message("S", ("ServerHello", f"cipher: {chosen}")),
                 Message("S", ("{EncryptedExtensions}", "{Certificate}",
                               "{CertificateVerify}", "{Finished}")),
                 Message("C", ("{Finished}",))]
    else:
        rows += [Message("S", ("ServerHello", f"version {version}, cipher: {chosen}")),
                 Message("S", ("Certificate", "ServerKeyExchange", "ServerHelloDone")),
                 Message("C", ("ClientKeyExchange", "ChangeCipherSpec", "Finished")),
                 Message("S", ("ChangeCipherSpec", "Finished"))]
    rows += [Message("C", ("application data (encrypted)",), dashed=True),
             Message("S", ("application data (encrypted)",), dashed=True),
             Note(outcome or f"Shared cipher: {chosen}", PASS)]
    return ladder(rows, title=f"TLS handshake with a shared cipher ({version})")


@dataclass(frozen=True)
class Step:
    """One box of a flow: a label, its result (pass/fail/skip or any word), notes.

    ``tag`` is a small word before the label (a PAM control such as ``required``);
    ``exit`` ends the flow at this step with an arrow to a box saying where it went.
    """

    label: str
    result: str | None = None
    note: str = ""
    tag: str = ""
    exit: str | None = None


def _step(item: Step | Sequence[str] | Mapping[str, str] | str) -> Step:
    if isinstance(item, Step):
        return item
    if isinstance(item, str):
        return Step(item)
    if isinstance(item, Mapping):
        return Step(**item)
    return Step(*item)


def _result_colour(result: str | None) -> str:
    word = (result or "").lower()
    if word in ("pass", "ok", "success", "yes", "accepted"):
        return PASS
    if word in ("fail", "failed", "error", "no", "refused", "denied"):
        return FAIL
    return SKIP if word in ("skip", "skipped", "not run") else INK


def flow_diagram(steps: Sequence[Step | Sequence[str] | Mapping[str, str] | str], *,
                 title: str = "", outcome: str | None = None, width: int = 680) -> Drawing:
    """Steps as boxes from top to bottom, arrows coloured by each step's result.

    Steps may be ``Step`` objects, tuples ``(label, result, note, tag, exit)`` or dicts.
    After a step with ``exit`` the remaining steps are drawn grey (not run). ``outcome``
    adds a final box (green if it starts with a pass word, red with a fail word).
    """
    items = [_step(s) for s in steps]
    box_w, box_h, gap = 300, 44, 34  # the exit boxes take the rest of the width
    x = 40
    top = 48 if title else 16
    height = top + len(items) * (box_h + gap) + (box_h + 10 if outcome else 0) + 10
    d = Drawing(width, height, title or "flow")
    if title:
        d.text(width / 2, 26, title, text_anchor="middle", font_size=15, font_weight="bold")
    y = float(top)
    ended = False
    for i, step in enumerate(items):
        colour = SKIP if ended else _result_colour(step.result)
        d.rect(x, y, box_w, box_h, rx=6, fill="#f7f7f7" if ended else "white", stroke=colour,
               stroke_width=1.6)
        label_x = x + 10
        if step.tag:
            d.text(label_x, y + 18, step.tag, font_weight="bold", fill=SKIP if ended else INK)
            label_x += 8 * len(step.tag) + 6
        d.text(label_x, y + 18, shorten(step.label, 40 - len(step.tag)), font_family=MONO,
               font_size=11, fill=SKIP if ended else INK)
        detail = "not run" if ended else " · ".join(p for p in (step.result, step.note) if p)
        if detail:
            d.text(x + 10, y + 35, shorten(detail, 46), fill=colour, font_size=11)
        if step.exit and not ended:
            ex = x + box_w + 40
            d.line(x + box_w, y + box_h / 2, ex, y + box_h / 2, colour=colour, arrow=True)
            d.rect(ex, y + 6, width - ex - 10, box_h - 12, rx=12, fill=NOTE_FILL,
                   stroke=colour)
            d.text(ex + 8, y + box_h / 2 + 4, shorten(step.exit, (width - ex - 26) // 7),
                   fill=colour)
            ended = True
        last = i == len(items) - 1
        if not last or outcome:
            arrow_colour = SKIP if ended else colour
            d.line(x + box_w / 2, y + box_h, x + box_w / 2, y + box_h + gap, colour=arrow_colour,
                   arrow=True)
            if step.result and not ended:
                d.text(x + box_w / 2 + 8, y + box_h + gap / 2 + 4, step.result,
                       fill=arrow_colour, font_size=11)
        y += box_h + gap
    if outcome:
        first = outcome.split()[0].strip(":,.") if outcome.split() else ""
        colour = SKIP if ended else _result_colour(first)
        d.rect(x, y, box_w, box_h - 8, rx=16, fill=NOTE_FILL, stroke=colour, stroke_width=1.6)
        d.text(x + box_w / 2, y + box_h / 2, shorten(outcome, 44), text_anchor="middle",
               fill=colour, font_weight="bold")
        y += box_h
    d.resize(y + 10)
    return d


__all__ = ["Drawing", "Message", "Note", "Step", "bar_chart", "flow_diagram",
           "handshake_diagram", "ladder", "scatter_plot", "sequence_diagram"]
