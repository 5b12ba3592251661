"""The dovecot.conf engine: Dovecot 2.3's configuration language, settings and doveconf.

Public API::

    from labserver.config import load, parse_text, ConfigError
    cfg = load("/etc/dovecot/dovecot.conf", root=lab_dir)
    cfg.get("ssl", protocol="imap")
"""

from .config import Config, ConfigError, Message, load, parse_text
from .resolve import PathResolver
from .varexpand import expand

__all__ = ["Config", "ConfigError", "Message", "PathResolver", "expand", "load", "parse_text"]
