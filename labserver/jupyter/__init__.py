"""The notebook kit: what every course notebook uses to work with the lab.

- ``%load_ext labserver`` gives the magics (``magics``): ``%%dovecot`` writes a
  configuration cell into the kernel's lab and starts or reloads it, ``%doveconf`` and
  ``%doveadm`` run the lab's tools on it, ``%lab`` shows status, logs and transcripts.
- ``run(cmd, input=None, timeout=10)`` runs a real program (``openssl s_client``,
  ``curl``) with a time limit and prints what it printed.
- ``current_lab()`` is the kernel's lab (the ``lab`` the magics put in the namespace).
- ``diagrams``: sequence diagrams of sessions, handshakes, flows and small charts as SVG.
- ``editor``: a configuration editor that checks as you type; ``status``: a lab panel.
"""

from .kernel import current as current_lab
from .programs import RunResult, run

__all__ = ["RunResult", "current_lab", "run"]
