"""EXTERNAL (RFC 4422 appendix A): the user is who the TLS client certificate says.

mech-external.c: the login process passes the name from a verified client certificate
(``auth_ssl_username_from_cert = yes``, ``ssl_cert_username_field``, default
``commonName``; ``ssl_verify_client_cert = yes``). The client's message is an optional
authorization identity. Then the passdbs are asked to verify an empty password: the
passdb entry needs ``nopassword``. Without a certificate name the request fails with
``username not known``; the lab has no client certificates yet, so that is what it does
on every plain connection.
"""

from __future__ import annotations

from typing import ClassVar

from .mech import AUTH_FAILED_MSG, Credentials, Event, Failure, Mechanism, mech_generic_initial


class External(Mechanism):
    name: ClassVar[str] = "EXTERNAL"

    def _initial(self, data: bytes | None) -> Event:
        return mech_generic_initial(self, data)

    def _continue(self, data: bytes) -> Event:
        user = self.params.cert_username
        if user is None:
            return Failure("invalid_input", AUTH_FAILED_MSG, "username not known")
        self.username = user
        authzid = data.decode("utf-8", "surrogateescape")
        return Credentials(authcid=user, password="", authzid=authzid)
