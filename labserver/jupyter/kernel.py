"""The notebook's lab: one ``Lab`` per kernel, made on first use, removed at exit.

Every magic works on the same lab, so a notebook reads like a terminal session on one
server: ``%%dovecot`` writes its configuration, ``%doveconf`` reads it back, ``%lab logs``
shows what it said. The lab lives in a fresh temporary directory that stands for ``/``
and listens on ephemeral loopback ports, so two notebooks (or two learners on one
JupyterHub) never collide. Switching engines (``%%dovecot --engine dovecot``) keeps the
directory, and with it the users and mailboxes already made.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from ..service.lab import Lab

PORTS = "ephemeral"

_lab: Lab | None = None
_root: Path | None = None
_registered = False


def current(engine: str | None = None) -> Lab:
    """The kernel's lab, made now if there is none; ``engine`` switches it when it differs.

    A switch stops the old lab and starts nothing: the caller (usually ``%%dovecot``)
    decides when the new engine starts.
    """
    global _lab, _root, _registered
    if _lab is not None and (engine is None or engine == _lab.engine):
        return _lab
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="lab-"))
    new = Lab(root=_root, ports=PORTS, engine=engine or "lab")
    if _lab is not None:
        _lab.stop()
    _lab = new
    if not _registered:
        atexit.register(shutdown)
        _registered = True
    return _lab


def existing() -> Lab | None:
    """The kernel's lab if one was made (without making one)."""
    return _lab


def shutdown() -> None:
    """Stop the kernel's lab and remove its directory (also run at interpreter exit)."""
    global _lab, _root
    if _lab is not None:
        _lab.stop()
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
    _lab, _root = None, None
