"""Mailbox Access Lab's server side: a miniature Dovecot for learning.

``labserver.config`` reads dovecot.conf exactly as Dovecot 2.3 does and prints it
as doveconf does; ``labserver.cli`` is the ``labserver`` command.
"""

__version__ = "0.1.0"
