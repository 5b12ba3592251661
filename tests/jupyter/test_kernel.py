"""The kit in a real Jupyter kernel, as a learner's notebook runs it; the lab goes at exit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.tools import require_program

from .conftest import CONFIG

CELLS = [
    "%load_ext labserver",
    "%%dovecot\n" + CONFIG,
    "lab.add_user('alice', 'secret')\nlab.deliver('alice', 'Subject: hi\\n\\nbody\\n')",
    "%doveconf -n",
    "from labserver.jupyter import run\n"
    "r = run(f\"curl -s --max-time 5 --user alice:secret imap://127.0.0.1:{lab.port('imap')}/\")",
    "run('echo waiting; sleep 30', timeout=1)",
    "from labserver.jupyter.diagrams import sequence_diagram\n"
    "sequence_diagram(lab.transcripts('imap')[-1])",
    "%lab logs Login:",
    "import json\nprint(json.dumps({'root': str(lab.root), 'curl': r.output}))",
]


def outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")


@pytest.mark.timeout(120)
def test_a_notebook_uses_the_kit_and_leaves_nothing_behind() -> None:
    require_program("curl", "curl")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    errors = [o for c in nb.cells for o in c.outputs if o["output_type"] == "error"]
    assert errors == []
    cells = nb.cells
    assert "imap-login" in outputs(cells[1])
    assert "mail_location = maildir:~/Maildir" in outputs(cells[3])
    assert "[stopped after 1 s: the time limit ran out]" in outputs(cells[5])
    assert not [o for o in cells[5].outputs if o["output_type"] == "execute_result"]
    svg = [o["data"]["image/svg+xml"] for o in cells[6].outputs if "data" in o]
    assert svg and "IMAP session, user alice" in svg[0] and " LIST " in svg[0]
    assert "user=<alice>" in outputs(cells[7])
    found = json.loads(outputs(cells[8]))
    assert "INBOX" in found["curl"]
    root = Path(found["root"])
    for _ in range(100):  # the kernel has been asked to shut down; its atexit removes the lab
        if not root.exists():
            break
        time.sleep(0.05)
    assert not root.exists()
