"""Authentication: password schemes, passdbs, userdbs, SASL mechanisms and policy.

Public API::

    from labserver.auth import Authenticator, schemes, policy
    auth = Authenticator(cfg, PathResolver(lab_root))
    result = auth.authenticate("alice", "secret", remote_ip="127.0.0.2")
    schemes.generate("secret", "SHA512-CRYPT"); schemes.verify("secret", stored)
    policy.plaintext_allowed(cfg, secured=False, protocol="imap")

One pluggable thing per file, as in Dovecot's src/auth: ``passdb_passwdfile.py``,
``userdb_static.py``, ``sasl/plain.py``; registries are the dicts ``PASSDB_DRIVERS``,
``USERDB_DRIVERS`` and ``sasl.MECHANISMS``.
"""

from . import policy, schemes
from .auth import Authenticator, AuthResult, CredentialsLookup
from .passdb import PASSDB_DRIVERS, AuthConfigError, PassdbResult
from .request import AuthRequest, LogLine
from .userdb import USERDB_DRIVERS, UserdbResult

__all__ = ["PASSDB_DRIVERS", "USERDB_DRIVERS", "AuthConfigError", "AuthRequest", "AuthResult",
           "Authenticator", "CredentialsLookup", "LogLine", "PassdbResult", "UserdbResult",
           "policy", "schemes"]
