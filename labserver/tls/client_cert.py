"""What the login process knows of a client's certificate after the handshake.

Dovecot's login process asks for a certificate when ``ssl_verify_client_cert = yes`` and
lets the handshake finish whatever the client sends; authentication then sees whether a
certificate came and whether it verified against ``ssl_ca`` (with ``ssl_require_crl =
yes``, the default, a CA without a CRL makes every certificate fail), and the name in
``ssl_cert_username_field`` (default ``commonName``) for ``auth_ssl_username_from_cert``
and the EXTERNAL mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from . import _openssl

# ssl_cert_username_field values as OpenSSL's short or long names (OBJ_txt2nid)
_FIELDS = {"commonname": NameOID.COMMON_NAME, "cn": NameOID.COMMON_NAME,
           "x500uniqueidentifier": NameOID.X500_UNIQUE_IDENTIFIER,
           "uid": NameOID.USER_ID, "userid": NameOID.USER_ID,
           "emailaddress": NameOID.EMAIL_ADDRESS, "mail": NameOID.EMAIL_ADDRESS,
           "serialnumber": NameOID.SERIAL_NUMBER}


@dataclass(frozen=True)
class ClientCert:
    """``present``: the client sent one; ``valid``: it verified; ``name``: the username
    field of a valid one ("" otherwise)."""

    present: bool = False
    valid: bool = False
    name: str = ""


def client_cert(ssl_object: Any, username_field: str = "commonName") -> ClientCert:
    """The certificate the client presented on this TLS connection."""
    try:
        der = ssl_object.getpeercert(binary_form=True)
    except (ValueError, AttributeError):
        der = None
    if not der:
        return ClientCert()
    result = _openssl.verify_result(ssl_object)
    if result is None:
        # Python verified it itself: a certificate that did not verify ended the handshake
        valid = True
    else:
        valid = result == 0
    name = ""
    if valid:
        oid = _FIELDS.get(username_field.lower())
        try:
            attrs = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
                oid) if oid is not None else []
        except ValueError:
            attrs = []
        name = str(attrs[0].value) if attrs else ""
    return ClientCert(present=True, valid=valid, name=name)
