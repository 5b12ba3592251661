"""TLS for the lab: contexts from the ssl_* settings (``context``), certificates as
Dovecot's mkcert.sh makes them (``certs``), and a small TLS scanner (``scan``)."""

from .context import TLSConfigError, TLSSettings, server_context

__all__ = ["TLSConfigError", "TLSSettings", "server_context"]
