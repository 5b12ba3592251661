"""The few OpenSSL calls that Python's ``ssl`` module does not offer, through ctypes.

Dovecot calls ``SSL_CTX_set_ciphersuites`` (``ssl_cipher_suites``),
``SSL_CTX_set1_curves_list`` (``ssl_curve_list``); a TLS scanner wants the security level
and the server's temporary key (the key-exchange group and its size). The ``ssl`` module
keeps its ``SSL_CTX``/``SSL`` pointers private, so this module reads them from CPython's
object layout (the pointer follows the object header) and checks each one before use: the
options OpenSSL reports for the pointer must equal ``SSLContext.options``. When anything
does not fit (another Python implementation, a different layout, symbols missing), every
function returns ``None``/``False`` and the caller falls back to what ``ssl`` can do and
says so.
"""

from __future__ import annotations

import ctypes
import ssl
from typing import Any

_SSL_CTRL_SET_GROUPS_LIST = 92
_SSL_CTRL_GET_PEER_TMP_KEY = 109
_SSL_CTRL_GET_NEGOTIATED_GROUP = 134

_lib: Any = None
_loaded = False


def _library() -> Any:
    global _lib, _loaded
    if _loaded:
        return _lib
    _loaded = True
    try:
        import _ssl

        lib = ctypes.CDLL(_ssl.__file__)
        lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.SSL_CTX_set_ciphersuites.restype = ctypes.c_int
        lib.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long,
                                     ctypes.c_void_p]
        lib.SSL_CTX_ctrl.restype = ctypes.c_long
        lib.SSL_CTX_set_security_level.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.SSL_CTX_set_security_level.restype = None
        lib.SSL_CTX_get_security_level.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_security_level.restype = ctypes.c_int
        lib.SSL_get_SSL_CTX.restype = ctypes.c_void_p
        lib.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
        lib.SSL_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long,
                                 ctypes.c_void_p]
        lib.SSL_ctrl.restype = ctypes.c_long
        lib.EVP_PKEY_get_bits.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_get_bits.restype = ctypes.c_int
        lib.EVP_PKEY_get_base_id.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_get_base_id.restype = ctypes.c_int
        lib.EVP_PKEY_free.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_free.restype = None
        lib.OBJ_nid2sn.argtypes = [ctypes.c_int]
        lib.OBJ_nid2sn.restype = ctypes.c_char_p
        lib.ERR_clear_error.restype = None
        _lib = lib
    except (ImportError, OSError, AttributeError):
        _lib = None
    return _lib


def _ctx_pointer(ctx: ssl.SSLContext) -> int | None:
    lib = _library()
    if lib is None or not isinstance(ctx, ssl.SSLContext):
        return None
    try:
        ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    except (ValueError, OSError):
        return None
    if not ptr or lib.SSL_CTX_get_options(ptr) != int(ctx.options):
        return None
    return ptr


def available(ctx: ssl.SSLContext | None = None) -> bool:
    """Whether the OpenSSL calls can be made (for this context)."""
    return _ctx_pointer(ctx or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)) is not None


def set_ciphersuites(ctx: ssl.SSLContext, suites: str) -> bool | None:
    """SSL_CTX_set_ciphersuites: True, False (OpenSSL refused), None (not possible)."""
    ptr = _ctx_pointer(ctx)
    if ptr is None:
        return None
    ok = _lib.SSL_CTX_set_ciphersuites(ptr, suites.encode()) == 1
    _lib.ERR_clear_error()
    return ok


def set_curves(ctx: ssl.SSLContext, curves: str) -> bool | None:
    """SSL_CTX_set1_curves_list: True, False (OpenSSL refused), None (not possible)."""
    ptr = _ctx_pointer(ctx)
    if ptr is None:
        return None
    ok = _lib.SSL_CTX_ctrl(ptr, _SSL_CTRL_SET_GROUPS_LIST, 0,
                           ctypes.c_char_p(curves.encode())) == 1
    _lib.ERR_clear_error()
    return ok


def security_level(ctx: ssl.SSLContext) -> int | None:
    ptr = _ctx_pointer(ctx)
    return None if ptr is None else int(_lib.SSL_CTX_get_security_level(ptr))


def set_security_level(ctx: ssl.SSLContext, level: int) -> bool:
    ptr = _ctx_pointer(ctx)
    if ptr is None:
        return False
    _lib.SSL_CTX_set_security_level(ptr, level)
    return True


def _ssl_pointer(sock: Any) -> int | None:
    lib = _library()
    obj = getattr(sock, "_sslobj", sock)
    if lib is None or obj is None or type(obj).__name__ != "_SSLSocket":
        return None
    try:
        # PySSLSocket: PyObject_HEAD, PyObject *Socket, SSL *ssl, ...
        ptr = ctypes.c_void_p.from_address(id(obj) + object.__basicsize__
                                           + ctypes.sizeof(ctypes.c_void_p)).value
    except (ValueError, OSError):
        return None
    if not ptr:
        return None
    ctx_ptr = _ctx_pointer(obj.context)
    if ctx_ptr is None or lib.SSL_get_SSL_CTX(ptr) != ctx_ptr:
        return None
    return ptr


def peer_temp_key(sock: Any) -> tuple[str, int] | None:
    """The server's ephemeral key-exchange key: (type or group name, bits), e.g.
    ("DH", 2048), ("X25519", 253), ("prime256v1", 256); None when unknown."""
    ptr = _ssl_pointer(sock)
    if ptr is None:
        return None
    key = ctypes.c_void_p()
    if _lib.SSL_ctrl(ptr, _SSL_CTRL_GET_PEER_TMP_KEY, 0, ctypes.byref(key)) != 1 or \
            not key.value:
        _lib.ERR_clear_error()
        return None
    try:
        bits = int(_lib.EVP_PKEY_get_bits(key.value))
        base = int(_lib.EVP_PKEY_get_base_id(key.value))
    finally:
        _lib.EVP_PKEY_free(key.value)
    group = int(_lib.SSL_ctrl(ptr, _SSL_CTRL_GET_NEGOTIATED_GROUP, 0, None))
    name = None
    if base == 28:  # EVP_PKEY_DH
        name = "DH"
    elif group > 0:
        raw = _lib.OBJ_nid2sn(group & 0xFFFFFF)
        name = raw.decode() if raw else None
    if name is None:
        raw = _lib.OBJ_nid2sn(base)
        name = raw.decode() if raw else f"key type {base}"
    _lib.ERR_clear_error()
    return name, bits


# Dovecot sets a DH callback when ssl_dh is empty: a client that gets a DHE suite then
# fails the handshake ("internal error") and the login process logs that DH parameters are
# missing. The lab does the same through SSL_CTX_set_tmp_dh_callback.
_DH_CALLBACK_TYPE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                     ctypes.c_int)
_dh_listeners: dict[int, Any] = {}


def _missing_dh(ssl_ptr: int, is_export: int, keylength: int) -> None:  # noqa: ARG001
    try:
        ctx_ptr = _lib.SSL_get_SSL_CTX(ssl_ptr)
        listener = _dh_listeners.get(ctx_ptr)
        if listener is not None:
            listener()
    except Exception:  # noqa: BLE001, S110 - never raise into OpenSSL
        pass
    return None


_DH_CALLBACK = _DH_CALLBACK_TYPE(_missing_dh)


def fail_dhe_without_parameters(ctx: ssl.SSLContext, listener: Any = None) -> bool:
    """Make DHE suites selectable but failing, as Dovecot without ssl_dh; ``listener`` is
    called when that happens. False when not possible."""
    ptr = _ctx_pointer(ctx)
    if ptr is None:
        return False
    try:
        func = _lib.SSL_CTX_set_tmp_dh_callback
    except AttributeError:
        return False
    func.argtypes = [ctypes.c_void_p, _DH_CALLBACK_TYPE]
    func.restype = None
    func(ptr, _DH_CALLBACK)
    if listener is not None:
        import weakref

        _dh_listeners[ptr] = listener
        weakref.finalize(ctx, _dh_listeners.pop, ptr, None)
    return True


# verbose_ssl = yes: Dovecot's openssl_info_callback() (lib-ssl-iostream/iostream-openssl.c)
# logs every state change of a handshake at debug level. OpenSSL gives an SSL_CTX's info
# callback to every SSL made from it, so one callback per context serves all connections.
_SSL_CB_ALERT = 0x4000
_SSL_AD_CLOSE_NOTIFY = 0
_INFO_CALLBACK_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
_info_listeners: dict[int, Any] = {}


def _text(func: Any, *args: Any) -> str:
    value = func(*args)
    return value.decode("ascii", "replace") if value else ""


def _info(ssl_ptr: int, where: int, ret: int) -> None:
    try:
        log = _info_listeners.get(_lib.SSL_get_SSL_CTX(ssl_ptr))
        if log is None:
            return
        if where & _SSL_CB_ALERT:
            desc = _text(_lib.SSL_alert_desc_string_long, ret)
            if ret & 0xFF == _SSL_AD_CLOSE_NOTIFY:
                log(f"SSL alert: {desc}")
            else:
                log(f"SSL alert: where=0x{where:x}, ret={ret}: "
                    f"{_text(_lib.SSL_alert_type_string_long, ret)} {desc}")
        elif ret == 0:
            log(f"SSL failed: where=0x{where:x}: {_text(_lib.SSL_state_string_long, ssl_ptr)}")
        else:
            log(f"SSL: where=0x{where:x}, ret={ret}: "
                f"{_text(_lib.SSL_state_string_long, ssl_ptr)}")
    except Exception:  # noqa: BLE001, S110 - never raise into OpenSSL
        pass


_INFO_CALLBACK = _INFO_CALLBACK_TYPE(_info)


def log_handshake_states(ctx: ssl.SSLContext, log: Any) -> bool:
    """Call ``log`` with Dovecot's verbose_ssl line for every handshake state change and
    alert of connections made from ``ctx``. False when not possible."""
    ptr = _ctx_pointer(ctx)
    if ptr is None:
        return False
    try:
        func = _lib.SSL_CTX_set_info_callback
        for name in ("SSL_state_string_long", "SSL_alert_desc_string_long",
                     "SSL_alert_type_string_long"):
            getattr(_lib, name).restype = ctypes.c_char_p
        _lib.SSL_state_string_long.argtypes = [ctypes.c_void_p]
        _lib.SSL_alert_desc_string_long.argtypes = [ctypes.c_int]
        _lib.SSL_alert_type_string_long.argtypes = [ctypes.c_int]
    except AttributeError:
        return False
    func.argtypes = [ctypes.c_void_p, _INFO_CALLBACK_TYPE]
    func.restype = None
    func(ptr, _INFO_CALLBACK)
    import weakref

    _info_listeners[ptr] = log
    weakref.finalize(ctx, _info_listeners.pop, ptr, None)
    return True


# ssl_verify_client_cert: Dovecot's login process asks for a client certificate with a
# verify callback that lets every certificate through (ssl_verify_client_cert() in
# iostream-openssl.c) and reads the verdict after the handshake; an invalid certificate
# only matters to authentication (auth_ssl_require_client_cert).
_SSL_VERIFY_PEER = 1
_VERIFY_CALLBACK_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _accept_any(preverify_ok: int, store: int) -> int:  # noqa: ARG001 - OpenSSL's signature
    return 1


_ACCEPT_ANY = _VERIFY_CALLBACK_TYPE(_accept_any)


def request_any_client_cert(ctx: ssl.SSLContext) -> bool:
    """Ask clients for a certificate and complete the handshake whatever they send; the
    verdict is ``verify_result()``'s. False when not possible."""
    ptr = _ctx_pointer(ctx)
    if ptr is None:
        return False
    try:
        func = _lib.SSL_CTX_set_verify
    except AttributeError:
        return False
    func.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CALLBACK_TYPE]
    func.restype = None
    func(ptr, _SSL_VERIFY_PEER, _ACCEPT_ANY)
    return True


def verify_result(sock: Any) -> int | None:
    """SSL_get_verify_result() of a finished handshake: 0 (X509_V_OK) when the client's
    certificate verified; None when it cannot be read."""
    ptr = _ssl_pointer(sock)
    if ptr is None:
        return None
    func = _lib.SSL_get_verify_result
    func.argtypes = [ctypes.c_void_p]
    func.restype = ctypes.c_long
    return int(func(ptr))
