"""The start page's lab panel: built and refreshed without a browser."""

from __future__ import annotations

from labserver.jupyter import kernel
from labserver.jupyter.status import LabStatus, status_html

from .conftest import CONFIG


def test_without_a_lab_it_says_how_to_start_one(shell) -> None:
    assert kernel.existing() is None
    panel = LabStatus()
    assert "No lab yet" in panel.html.value and "%%dovecot" in panel.html.value
    assert kernel.existing() is None  # looking does not make a lab


def test_it_follows_the_kernels_lab(shell, capsys) -> None:
    panel = LabStatus(log_lines=2)
    shell.run_cell_magic("dovecot", "", CONFIG)
    lab = shell.user_ns["lab"]
    html = panel.refresh()
    assert "Lab running" in html and "(engine lab)" in html
    assert f"{lab.port('imap')}" in html and "imap-login" in html
    assert "starting up for imap, pop3" in html
    shell.run_line_magic("lab", "stop")
    panel.button.click()
    assert "Lab stopped" in panel.html.value and "imap-login " not in panel.html.value
    assert "application/vnd.jupyter.widget-view+json" in panel._repr_mimebundle_()


def test_log_lines_are_escaped(shell) -> None:
    lab = kernel.current()
    lab.log.info("imap-login: ", "Disconnected: <script>alert(1)</script>")
    html = status_html(lab, log_lines=1)
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "<pre" not in status_html(lab, log_lines=0)
