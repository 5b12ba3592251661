"""Server TLS contexts built from Dovecot's ssl_* settings, on the stdlib ``ssl``.

Dovecot reads ``ssl_cert``/``ssl_key`` as PEM text (the ``<`` in ``ssl_cert =
</etc/...`` makes the configuration reader load the file); Python's ``ssl`` wants
files, so the PEM text is written to a private (0600) file in the lab's run
directory. ``ssl_min_protocol`` becomes the context's minimum version,
``ssl_cipher_list`` its TLS 1.2-and-below cipher string and
``ssl_prefer_server_ciphers`` the server-order option. Python cannot set the TLS 1.3
suites (``ssl_cipher_suites``) or the curve list exactly; the lab logs a warning
when those are configured.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config

PROTOCOL_VERSIONS = {
    "ANY": ssl.TLSVersion.MINIMUM_SUPPORTED,
    "SSLv3": ssl.TLSVersion.SSLv3,
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
    "LATEST": ssl.TLSVersion.MAXIMUM_SUPPORTED,
}


class TLSConfigError(Exception):
    """The ssl settings cannot make a working TLS context; the text says why."""


@dataclass
class TLSSettings:
    """The ssl_* settings that matter for one listener or protocol."""

    mode: str  # "no", "yes" or "required"
    cert: str
    key: str
    key_password: str = ""
    ca: str = ""
    min_protocol: str = "TLSv1.2"
    cipher_list: str = ""
    cipher_suites: str = ""
    curve_list: str = ""
    prefer_server_ciphers: bool = False
    verify_client_cert: bool = False
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: Config, protocol: str | None = None) -> TLSSettings:
        def get(key: str):  # noqa: ANN202 - typed per key
            return config.get(key, protocol=protocol)

        return cls(mode=get("ssl"), cert=get("ssl_cert"), key=get("ssl_key"),
                   key_password=get("ssl_key_password"), ca=get("ssl_ca"),
                   min_protocol=get("ssl_min_protocol"), cipher_list=get("ssl_cipher_list"),
                   cipher_suites=get("ssl_cipher_suites"), curve_list=get("ssl_curve_list"),
                   prefer_server_ciphers=get("ssl_prefer_server_ciphers"),
                   verify_client_cert=get("ssl_verify_client_cert"))


def _pem_file(directory: Path, name: str, pem: str) -> str:
    fd, path = tempfile.mkstemp(prefix=name, suffix=".pem", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(pem)
    os.chmod(path, 0o600)
    return path


def server_context(settings: TLSSettings, run_dir: Path) -> ssl.SSLContext:
    """A server-side SSLContext, or TLSConfigError with a Dovecot-like reason."""
    if settings.mode == "no":
        raise TLSConfigError("SSL is disabled (ssl = no)")
    if not settings.cert:
        raise TLSConfigError("ssl enabled, but ssl_cert not set")
    if not settings.key:
        raise TLSConfigError("ssl enabled, but ssl_key not set")
    if "-----BEGIN" not in settings.cert:
        raise TLSConfigError(
            "Can't load SSL certificate: There is no valid PEM certificate. "
            "(You probably forgot '<' from ssl_cert=<"
            f"{settings.cert})")
    if "-----BEGIN" not in settings.key:
        raise TLSConfigError(
            "Can't load SSL private key: There is no valid PEM private key. "
            "(You probably forgot '<' from ssl_key=<"
            f"{settings.key})")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if settings.min_protocol not in PROTOCOL_VERSIONS:
        raise TLSConfigError(f"Unknown ssl_min_protocol setting '{settings.min_protocol}'")
    ctx.minimum_version = PROTOCOL_VERSIONS[settings.min_protocol]
    run_dir.mkdir(parents=True, exist_ok=True)
    cert_path = _pem_file(run_dir, "cert-", settings.cert)
    key_path = _pem_file(run_dir, "key-", settings.key)
    try:
        ctx.load_cert_chain(cert_path, key_path, password=settings.key_password or None)
    except ssl.SSLError as exc:
        raise TLSConfigError(
            f"Can't load SSL certificate and private key: {exc.reason or exc}") from None
    finally:
        os.unlink(cert_path)
        os.unlink(key_path)
    if settings.cipher_list:
        try:
            ctx.set_ciphers(settings.cipher_list)
        except ssl.SSLError as exc:
            raise TLSConfigError(f"Can't set cipher list to '{settings.cipher_list}': "
                                 f"{exc.reason or exc}") from None
    if settings.prefer_server_ciphers:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if settings.cipher_suites:
        settings.warnings.append("ssl_cipher_suites cannot be applied by the lab (Python's "
                                 "ssl module has no TLS 1.3 suite setting); using defaults")
    if settings.curve_list:
        first = settings.curve_list.split(":")[0]
        try:
            ctx.set_ecdh_curve(first)
            if ":" in settings.curve_list:
                settings.warnings.append(f"ssl_curve_list: only the first curve ({first}) "
                                         "can be set by the lab")
        except (ValueError, ssl.SSLError):
            settings.warnings.append(f"ssl_curve_list: unknown curve {first}")
    ctx.options |= ssl.OP_NO_COMPRESSION
    return ctx
