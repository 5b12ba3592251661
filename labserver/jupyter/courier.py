"""Courier and Dovecot side by side: what an IMAP client sees first on each server.

``first_contact(lab, user, password)`` opens one IMAP session and records the
greeting, CAPABILITY before and after login, NAMESPACE, and LIST and LSUB of every
folder, as the raw lines the server sent. ``side_by_side({"Courier": a, "Dovecot": b})``
lines the records up in an HTML table, one row per question and one column per
server, so the differences (Courier's ``INBOX.`` namespace, its capability words) can
be read across. ``differences`` names the rows that differ.
"""

from __future__ import annotations

import html
import imaplib
from dataclasses import dataclass, fields

from ..service.lab import Lab

TIMEOUT = 5.0


@dataclass(frozen=True)
class FirstContact:
    """One IMAP session's answers, as the server wrote them."""

    greeting: str
    capability_before: str
    capability_after: str
    namespace: str
    folders: tuple[str, ...]
    subscribed: tuple[str, ...]


LABELS = {"greeting": "greeting", "capability_before": "CAPABILITY before login",
          "capability_after": "CAPABILITY after login", "namespace": "NAMESPACE",
          "folders": 'LIST "" "*"', "subscribed": 'LSUB "" "*"'}


def _text(data: list[object]) -> tuple[str, ...]:
    return tuple(x.decode("utf-8", "replace") for x in data if isinstance(x, bytes))


def _last(data: list[object]) -> str:
    lines = _text(data)
    return lines[-1] if lines else ""


def first_contact(lab: Lab, user: str, password: str, *, host: str = "127.0.0.1",
                  timeout: float = TIMEOUT) -> FirstContact:
    """Log in to the lab's ``imap`` listener and record the first answers."""
    imap = imaplib.IMAP4(host, lab.port("imap"), timeout=timeout)
    try:
        greeting = imap.welcome.decode("utf-8", "replace")
        before = _last(imap.capability()[1])
        imap.login(user, password)
        # imaplib also keeps the [CAPABILITY ...] code of LOGIN's reply: the last is the answer
        after = _last(imap.capability()[1])
        namespace = " ".join(_text(imap.namespace()[1]))
        folders = _text(imap.list('""', "*")[1])
        subscribed = _text(imap.lsub('""', "*")[1])
        imap.logout()
    finally:
        imap.sock.close()
    return FirstContact(greeting, before, after, namespace, folders, subscribed)


def differences(contacts: dict[str, FirstContact]) -> list[str]:
    """The labels of the rows on which the servers do not agree."""
    out = []
    for item in fields(FirstContact):
        values = {repr(getattr(c, item.name)) for c in contacts.values()}
        if len(values) > 1:
            out.append(LABELS[item.name])
    return out


def side_by_side(contacts: dict[str, FirstContact]) -> str:
    """An HTML table: a row per question, a column per server; differing rows marked."""
    differ = set(differences(contacts))
    head = "".join(f"<th style='text-align:left'>{html.escape(name)}</th>"
                   for name in contacts)
    rows = []
    for item in fields(FirstContact):
        label = LABELS[item.name]
        cells = []
        for contact in contacts.values():
            value = getattr(contact, item.name)
            text = "\n".join(value) if isinstance(value, tuple) else value
            cells.append("<td style='text-align:left;vertical-align:top'><pre style="
                         "'white-space:pre-wrap;margin:0'>"
                         f"{html.escape(text or '(none)')}</pre></td>")
        mark = " ≠" if label in differ else ""
        rows.append(f"<tr><th style='text-align:left;vertical-align:top'>"
                    f"{html.escape(label)}{mark}</th>{''.join(cells)}</tr>")
    return (f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"
            "<p>≠ marks the rows where the servers differ.</p>")


class SideBySide:
    """Shows ``side_by_side`` inline in a notebook."""

    def __init__(self, contacts: dict[str, FirstContact]) -> None:
        self.contacts = contacts

    def _repr_html_(self) -> str:
        return side_by_side(self.contacts)


__all__ = ["FirstContact", "SideBySide", "differences", "first_contact", "side_by_side"]
