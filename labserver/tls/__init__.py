"""TLS for the lab: contexts from the ssl_* settings."""

from .context import TLSConfigError, TLSSettings, server_context

__all__ = ["TLSConfigError", "TLSSettings", "server_context"]
