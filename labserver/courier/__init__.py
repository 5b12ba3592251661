"""Courier-IMAP and Courier's POP3 server as a personality of the lab's engines.

``CourierLab`` (also ``Lab(flavor="courier")``) reads ``/etc/courier`` in the lab root
and serves IMAP and POP3 with Courier's words through the same engines as the Dovecot
lab; ``migrate`` compares what a client sees before and after a move to Dovecot.
"""

from .shellconf import CourierConfigError

__all__ = ["CourierConfigError"]
