"""Mailbox Access Lab's server side: a miniature Dovecot for learning.

``labserver.config`` reads dovecot.conf exactly as Dovecot 2.3 does and prints it
as doveconf does; ``labserver.cli`` is the ``labserver`` command.
"""

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext labserver``: the course's magics (imported here, so that
    ``import labserver`` never needs IPython)."""
    from .jupyter.magics import load_ipython_extension as load

    load(ipython)
