"""Server TLS contexts built from Dovecot's ssl_* settings, on the stdlib ``ssl``.

The steps and the error texts follow Dovecot 2.3's ``ssl_iostream_context_set``
(lib-ssl-iostream): cipher list, curve list, TLS 1.3 cipher suites, server preference,
minimum protocol, certificate, key, DH parameters, CA. An error reads as the login
process logs it, ``Failed to initialize SSL server context: Can't load SSL certificate
(ssl_cert setting): There is no valid PEM certificate.``

* ``ssl = no|yes|required``: ``no`` makes no context; ``yes`` and ``required`` make the
  same one (``required`` is a login policy, applied by the protocol engines).
* ``ssl_cert``/``ssl_key``/``ssl_ca``/``ssl_dh`` are PEM text: ``ssl_cert = </etc/...``
  makes the configuration reader load the file. Without the ``<`` the value is a path and
  Dovecot says "There is no valid PEM certificate."; the lab adds the hint Dovecot's own
  source has for this case ("You probably forgot '<' ...").
* ``ssl_key_password``: a wrong or missing password gives Dovecot's "Couldn't parse
  private SSL key (ssl_key setting) (maybe ssl_key_password is wrong?): ...".
* ``ssl_min_protocol`` sets the context's minimum version. OpenSSL's system policy
  (Debian 12: security level 2) may refuse more: ``effective_policy()`` says which one
  decided.
* ``ssl_cipher_list`` restricts TLS 1.2 and below only, ``ssl_cipher_suites`` TLS 1.3 only;
  the two never restrict each other. Python has no call for the TLS 1.3 suites or the
  curve list, so the lab makes OpenSSL's own calls (see ``_openssl``); where that is not
  possible it logs a warning.
* ``ssl_prefer_server_ciphers``: Python turns server preference on by default; the lab
  turns it off unless the setting is ``yes``, as Dovecot leaves OpenSSL's default (off).
* ``ssl_dh = </path/dh.pem``: loaded with ``SSLContext.load_dh_params``. Without it,
  DHE suites cannot be negotiated (Dovecot fails the handshake and logs "Diffie-Hellman
  key exchange requested, but no DH parameters provided").
* ``ssl_verify_client_cert`` with ``ssl_ca``: the client is asked for a certificate. Dovecot
  accepts any (the verification result goes to the auth process); Python's ``ssl``
  rejects a certificate that does not verify, so the lab does too.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from . import _openssl

PROTOCOL_VERSIONS = {
    "ANY": ssl.TLSVersion.MINIMUM_SUPPORTED,
    "SSLv3": ssl.TLSVersion.SSLv3,
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
    "LATEST": ssl.TLSVersion.TLSv1_2,  # Dovecot: no SSLv3, TLSv1, TLSv1.1
}

#: OpenSSL's minimum version for each security level (OpenSSL 3: level 1 and up refuse
#: SSLv3, level 2 and up also TLS 1.0 and 1.1 when SHA-1 signatures are needed).
SECLEVEL_FLOOR = {0: "SSLv3", 1: "TLSv1.2", 2: "TLSv1.2", 3: "TLSv1.2", 4: "TLSv1.2",
                  5: "TLSv1.2"}

PREFIX = "Failed to initialize SSL server context: "


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
    dh: str = ""
    options: str = ""
    verbose: bool = False  # verbose_ssl
    require_crl: bool = True  # ssl_require_crl
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: Config, protocol: str | None = None) -> TLSSettings:
        def get(key: str):  # noqa: ANN202 - typed per key
            try:
                return config.get(key, protocol=protocol)
            except KeyError:
                return ""

        return cls(mode=get("ssl"), cert=get("ssl_cert"), key=get("ssl_key"),
                   key_password=get("ssl_key_password"), ca=get("ssl_ca"),
                   min_protocol=get("ssl_min_protocol"), cipher_list=get("ssl_cipher_list"),
                   cipher_suites=get("ssl_cipher_suites"), curve_list=get("ssl_curve_list"),
                   prefer_server_ciphers=get("ssl_prefer_server_ciphers"),
                   verify_client_cert=get("ssl_verify_client_cert"), dh=get("ssl_dh"),
                   options=get("ssl_options") or "", verbose=get("verbose_ssl") is True,
                   require_crl=get("ssl_require_crl") is not False)


@contextlib.contextmanager
def _pem_file(directory: Path, name: str, pem: str):  # noqa: ANN202 - context manager
    """A private (0600 from its creation) temporary file holding ``pem``."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=name, suffix=".pem", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(pem)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def certificate_error(cert: str, set_name: str = "ssl_cert") -> str | None:
    """Dovecot's openssl_iostream_use_certificate_error() for text that is not a
    certificate, or None when it holds a PEM certificate."""
    if cert == "":
        return "The certificate is empty"
    if "-----BEGIN CERTIFICATE-----" in cert or "-----BEGIN TRUSTED CERTIFICATE-----" in cert \
            or "-----BEGIN X509 CERTIFICATE-----" in cert:
        return None
    if "PRIVATE KEY---" in cert:
        return "The file contains a private key (you've mixed ssl_cert and ssl_key settings)"
    if "\n" not in cert.strip():
        return ("There is no valid PEM certificate. "
                f"(You probably forgot '<' from {set_name}=<{cert.strip()})")
    return "There is no valid PEM certificate."


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        library = getattr(exc, "library", None)
        reason = getattr(exc, "reason", None)
        if reason:
            return f"{library} routines::{reason}" if library else str(reason)
        return str(exc.args[-1] if exc.args else exc)
    return str(exc) or type(exc).__name__


def _check_key(settings: TLSSettings) -> None:
    """Parse the key as Dovecot's openssl_iostream_load_key() does, for its messages."""
    from cryptography.hazmat.primitives import serialization

    head = "Couldn't parse private SSL key (ssl_key setting) (maybe ssl_key_password is wrong?): "
    data = settings.key.encode("utf-8", "surrogateescape")
    password = settings.key_password.encode() if settings.key_password else None
    try:
        serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        # encrypted without a password, or a password for an unencrypted key
        text = ("error:1C800064:Provider routines::bad decrypt, error:11800074:PKCS12 "
                "routines::pkcs12 cipherfinal error: empty password" if password is None
                else "the key is not encrypted, but ssl_key_password is set")
        if password is not None and "not encrypted" not in str(exc):
            text = str(exc)
        if password is not None:
            return  # OpenSSL ignores a password for an unencrypted key
        raise TLSConfigError(PREFIX + head + text) from None
    except ValueError as exc:
        msg = str(exc)
        if "password" in msg.lower() or "decrypt" in msg.lower():
            text = ("error:1C800064:Provider routines::bad decrypt, error:11800074:PKCS12 "
                    "routines::pkcs12 cipherfinal error: maybe wrong password")
        elif "-----BEGIN" not in settings.key:
            text = ("error:1E08010C:DECODER routines::unsupported: No supported data to "
                    "decode. Input type: PEM")
        else:
            text = msg.splitlines()[0] if msg else "unsupported key"
        raise TLSConfigError(PREFIX + head + text) from None
    except Exception as exc:  # noqa: BLE001 - cryptography raises assorted errors
        raise TLSConfigError(PREFIX + head + _reason(exc)) from None


MISSING_DH = ("Diffie-Hellman key exchange requested, but no DH parameters provided. "
              "Set ssl_dh=</path/to/dh.pem")


def server_context(settings: TLSSettings, run_dir: Path,
                   log: Callable[[str], object] | None = None,
                   debug: Callable[[str], object] | None = None) -> ssl.SSLContext:
    """A server-side SSLContext, or TLSConfigError with Dovecot's reason. ``log`` receives
    errors Dovecot's login process would log during handshakes (missing DH parameters),
    ``debug`` the lines ``verbose_ssl = yes`` adds (see ``_verbose``)."""
    if settings.mode == "no":
        raise TLSConfigError("SSL is disabled (ssl = no)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # ssl_iostream_context_init_common(): workarounds, no compression unless asked.
    if "compression" not in settings.options.replace(",", " ").split():
        ctx.options |= ssl.OP_NO_COMPRESSION
    else:
        ctx.options &= ~ssl.OP_NO_COMPRESSION
    if "no_ticket" in settings.options.replace(",", " ").split():
        ctx.options |= ssl.OP_NO_TICKET
    # Dovecot always sets the cipher list (its default is not OpenSSL's nor Python's).
    if settings.cipher_list:
        try:
            ctx.set_ciphers(settings.cipher_list)
        except ssl.SSLError:
            raise TLSConfigError(
                f"{PREFIX}Can't set cipher list to '{settings.cipher_list}' "
                "(ssl_cipher_list setting): error:0A0000B9:SSL routines::no cipher match") from None
    if settings.curve_list:
        done = _openssl.set_curves(ctx, settings.curve_list)
        if done is False:
            raise TLSConfigError(f"{PREFIX}Can't set curve list to '{settings.curve_list}' "
                                 "(ssl_curve_list setting)")
        if done is None:
            first = settings.curve_list.split(":")[0]
            try:
                ctx.set_ecdh_curve(first)
            except (ValueError, ssl.SSLError):
                raise TLSConfigError(f"{PREFIX}Can't set curve list to "
                                     f"'{settings.curve_list}' (ssl_curve_list setting)"
                                     ) from None
            if ":" in settings.curve_list:
                settings.warnings.append(f"ssl_curve_list: only the first curve ({first}) "
                                         "can be set by the lab")
    if settings.cipher_suites:
        done = _openssl.set_ciphersuites(ctx, settings.cipher_suites)
        if done is False:
            raise TLSConfigError(f"{PREFIX}Can't set ciphersuites to "
                                 f"'{settings.cipher_suites}': "
                                 "error:0A0000B9:SSL routines::no cipher match")
        if done is None:
            settings.warnings.append("ssl_cipher_suites cannot be applied by the lab (Python's "
                                     "ssl module has no TLS 1.3 suite setting); using "
                                     "OpenSSL's default TLS 1.3 suites")
    if settings.prefer_server_ciphers:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    name = next((k for k in PROTOCOL_VERSIONS if k.lower() == settings.min_protocol.lower()),
                None)
    if name is None:
        raise TLSConfigError(f"{PREFIX}Unknown ssl_min_protocol setting "
                             f"'{settings.min_protocol}'")
    try:
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated, and taught
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = PROTOCOL_VERSIONS[name]
    except ValueError:
        settings.warnings.append(f"ssl_min_protocol = {name}: this OpenSSL cannot go that low")
    floor = effective_policy(ctx, name)
    if floor is not None:
        settings.warnings.append(floor)
    error = certificate_error(settings.cert)
    if error is not None:
        raise TLSConfigError(f"{PREFIX}Can't load SSL certificate (ssl_cert setting): {error}")
    if settings.key == "":
        raise TLSConfigError(f"{PREFIX}Couldn't parse private SSL key (ssl_key setting) "
                             "(maybe ssl_key_password is wrong?): error:1E08010C:DECODER routines::"
                             "unsupported: "
                             "No supported data to decode. Input type: PEM")
    _check_key(settings)
    with _pem_file(run_dir, "cert-", settings.cert) as cert_path, \
            _pem_file(run_dir, "key-", settings.key) as key_path:
        try:
            ctx.load_cert_chain(cert_path, key_path, password=settings.key_password or None)
        except ssl.SSLError as exc:
            if exc.reason == "KEY_VALUES_MISMATCH" or "values mismatch" in str(exc):
                raise TLSConfigError(f"{PREFIX}Can't load SSL private key (ssl_key setting): "
                                     "Key is for a different cert than ssl_cert") from None
            raise TLSConfigError(f"{PREFIX}Can't load SSL certificate (ssl_cert setting): "
                                 f"{_reason(exc)}") from None
    if settings.dh:
        with _pem_file(run_dir, "dh-", settings.dh) as dh_path:
            try:
                ctx.load_dh_params(dh_path)
            except ssl.SSLError as exc:
                if "BEGIN DH PARAMETERS" not in settings.dh:
                    text = ("error:0480006C:PEM routines::no start line: Expecting: DH PARAMETERS"
                            if exc.reason in (None, "NO_START_LINE") else _reason(exc))
                    raise TLSConfigError(f"{PREFIX}Couldn't parse DH parameters: {text}"
                                         ) from None
                raise TLSConfigError(f"{PREFIX}Can't load DH parameters (ssl_dh setting): "
                                     f"{_reason(exc)}") from None
    else:
        done = _openssl.fail_dhe_without_parameters(
            ctx, (lambda: log(MISSING_DH)) if log is not None else None)
        if not done:
            settings.warnings.append("ssl_dh is empty: Dovecot fails the handshake when a "
                                     "DHE suite is chosen; the lab cannot, it skips DHE suites")
    if settings.verify_client_cert:
        if not settings.ca:
            raise TLSConfigError("ssl_verify_client_cert set, but ssl_ca not")
        try:
            ctx.load_verify_locations(cadata=settings.ca)
        except (ssl.SSLError, ValueError) as exc:
            raise TLSConfigError(f"{PREFIX}Couldn't parse ssl_ca: {_reason(exc)}") from None
        ctx.verify_mode = ssl.CERT_OPTIONAL
        if settings.require_crl:
            # no CRL for the CA: every client certificate fails to verify, as in Dovecot
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN
        if not _openssl.request_any_client_cert(ctx):
            settings.warnings.append(
                "ssl_verify_client_cert: this Python cannot let an unverified client "
                "certificate through the handshake as Dovecot does; such clients fail the "
                "handshake instead")
    if settings.verbose and debug is not None:
        _verbose(ctx, settings, debug)
    return ctx


def _verbose(ctx: ssl.SSLContext, settings: TLSSettings, debug: Callable[[str], object]
             ) -> None:
    """verbose_ssl: the handshake's state changes and alerts as Dovecot's info callback
    words them, and its note when the client sent no server name (SNI)."""
    def servername(sock: object, name: str | None, context: object) -> None:
        if name is None:
            debug("SSL_get_servername() failed")

    ctx.sni_callback = servername
    if not _openssl.log_handshake_states(ctx, debug):
        settings.warnings.append(
            "verbose_ssl: this Python cannot reach OpenSSL's info callback; the handshake's "
            "state lines (SSL: where=0x..., ret=...) are not logged")


def effective_policy(ctx: ssl.SSLContext, min_protocol: str) -> str | None:
    """A sentence when OpenSSL's security level refuses versions ``ssl_min_protocol``
    allows (Debian 12: level 2 rules out SSLv3, TLS 1.0 and 1.1), else None."""
    order = ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    wanted = {"ANY": "SSLv3", "LATEST": "TLSv1.2"}.get(min_protocol, min_protocol)
    if wanted not in order:
        return None
    level = _openssl.security_level(ctx)
    if level is None:
        level = 2 if "@SECLEVEL" not in os.environ.get("OPENSSL_CONF", "") else 1
    floor = SECLEVEL_FLOOR.get(level, "TLSv1.2")
    if order.index(wanted) < order.index(floor):
        return (f"ssl_min_protocol = {min_protocol} allows {wanted}, but OpenSSL's security "
                f"level {level} (system policy) refuses versions below {floor}: the policy "
                "decides, not the configuration")
    return None
