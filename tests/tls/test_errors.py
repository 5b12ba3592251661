"""OpenSSL error texts as Dovecot logs them, from real handshake failures."""

from __future__ import annotations

import socket
import ssl
import threading
import warnings

from labserver.tls.errors import openssl_error

from .harness import DEFAULT_CIPHERS, self_signed


def _server_error(server: ssl.SSLContext, client: ssl.SSLContext) -> ssl.SSLError:
    """The SSLError the server side raises for one handshake over a socket pair."""
    left, right = socket.socketpair()
    left.settimeout(5)
    right.settimeout(5)
    caught: list[ssl.SSLError] = []

    def serve() -> None:
        try:
            server.wrap_socket(left, server_side=True).close()
        except ssl.SSLError as exc:
            caught.append(exc)
        finally:
            left.close()

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        client.wrap_socket(right).close()
    except (ssl.SSLError, OSError):
        pass
    finally:
        right.close()
    worker.join(5)
    assert caught, "the server side completed the handshake"
    return caught[0]


def test_tls11_under_security_level_2_reads_as_dovecots_log(tmp_path) -> None:
    """Dovecot 2.3.19 on Debian 12 logs ``error:0A000076:SSL routines::no suitable
    signature algorithm`` when ssl_min_protocol allows TLS 1.1 but the policy does not."""
    cert, key = self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.set_ciphers(DEFAULT_CIPHERS)  # Dovecot's default ssl_cipher_list
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server.minimum_version = ssl.TLSVersion.TLSv1_1
        client.minimum_version = client.maximum_version = ssl.TLSVersion.TLSv1_1
    error = _server_error(server, client)
    assert openssl_error(error) == ("error:0A000076:SSL routines::no suitable signature "
                                    "algorithm")
