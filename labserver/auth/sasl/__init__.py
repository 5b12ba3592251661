"""SASL mechanisms as pure state machines (no I/O, no passdb access).

A mechanism takes the client's base64 text and returns one event: a ``Challenge``
to send, the ``Credentials`` to verify, or a ``Failure``. The protocol engine
verifies credentials with the Authenticator and writes the replies::

    mech = MECHANISMS["PLAIN"]()
    event = mech.start("AGFsaWNlAHNlY3JldA==")   # Credentials(authcid="alice", ...)
"""

from .mech import (
    MECH_RULES,
    MECHANISMS,
    Challenge,
    Credentials,
    Failure,
    Mechanism,
    MechRule,
    is_plaintext,
)

__all__ = ["MECHANISMS", "MECH_RULES", "Challenge", "Credentials", "Failure", "MechRule",
           "Mechanism", "is_plaintext"]
