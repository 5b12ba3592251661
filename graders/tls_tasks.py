"""TLS graders: ``ssl = required`` as clients meet it, cipher hardening, certificates.

Each task starts a lab on the learner's configuration and judges what clients see: login
attempts without TLS from an address Dovecot does not count as secured, IMAPS and POP3S
logins, and TLS handshakes offering chosen protocol versions and cipher suites. So a
configuration written through an include, inside ``protocol`` filters or with the
chapter's ``ssl_protocols`` line (which 2.3 converts to ``ssl_min_protocol``) is judged by
its effect, and a configuration that merely contains the right words is not enough.

The handshakes are few and aimed (a version on its own, the suites that must be refused,
the suites that must work, the same two suites in both orders), not a full scan: a check
stays within seconds. The one thing judged from the configuration as Dovecot reads it is
the protocol floor: Debian's OpenSSL policy refuses TLS 1.0/1.1 whatever the settings say,
so a handshake alone cannot tell whether the configuration itself keeps them out.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import imaplib
import poplib
import shutil
import socket
import ssl
import stat
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from labserver.config import Config
from labserver.service.lab import DEFAULT_CONFIG, Lab
from labserver.tls import certs
from labserver.tls.context import certificate_error
from labserver.tls.scan import TLS13_SUITES, Probe, Scanner

from . import probe
from .verdict import Verdict

SEE_SSL = "05-ssl-mkcert: ssl = required"
SEE_MKCERT = "05-ssl-mkcert: mkcert.sh step by step"
SEE_PATHS = "05-ssl-mkcert: Certificate and key settings"
SEE_HARDEN = "06-cipher-hardening: The hardened configuration"
SEE_CHOICE = "06-cipher-hardening: Server preference and downgrade"

OLD_VERSIONS = [("TLSv1.0", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1)]
FLOOR_ORDER = ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
DEBIAN_DH = Path("/usr/share/dovecot/dh.pem")


# -- shared pieces --------------------------------------------------------------------------

#: RFC 7919's ffdhe2048 group (Appendix A.1), as ``openssl genpkey -genparam -algorithm DH
#: -pkeyopt group:ffdhe2048`` writes it: a published 2048-bit group, large enough against
#: Logjam, for systems without Debian's file.
FFDHE2048 = """\
-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""


def dh_parameters() -> str:
    """DH parameters for configurations that name an ``ssl_dh`` file the grader must
    provide: Debian's (shipped with dovecot-core, 4096 bits), else RFC 7919's ffdhe2048."""
    if DEBIAN_DH.is_file():
        return DEBIAN_DH.read_text()
    return FFDHE2048


def _missing_dh_files(task: str, submission: probe.Submission, see: str) -> dict[str, str]:
    """``ssl_dh = </path`` files the configuration reads that the submission lacks."""
    root = Path(tempfile.mkdtemp(prefix=f"grader-{task}-dh-"))
    try:
        try:
            probe.place_submission(submission, root)
        except (OSError, UnicodeDecodeError):
            return {}
        config = probe.read_config(task, root, expand=False, see=see)
        wanted = probe._file_values(config, "ssl_dh")  # noqa: SLF001 - the kit's own reader
        return {path: dh_parameters() for path in wanted
                if path.startswith("/") and not (root / path.lstrip("/")).exists()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _address(lab: Lab, listener: str) -> tuple[str, int] | None:
    for spec, port in lab.listeners():
        if spec.name == listener:
            host = spec.address
            if host in ("0.0.0.0", "*", ""):
                host = "127.0.0.1"
            elif host in ("::", "[::]"):
                host = "::1"
            return host, port
    return None


def server_log_line(lab: Lab, contains: str, wait: float = 1.0) -> str:
    """The newest log line containing ``contains``, waiting briefly: a login process logs a
    failed handshake just after the client has seen it fail."""
    deadline = time.monotonic() + wait
    while True:
        lines = lab.logs(contains)
        if lines or time.monotonic() >= deadline:
            return lines[-1] if lines else ""
        time.sleep(0.05)


def _config(lab: Lab) -> Config:
    return probe.read_config("tls", lab.root)


# -- ssl-required ----------------------------------------------------------------------------

def _imap_plain_attempts(lab: Lab, listener: str, user: str, password: str
                         ) -> list[tuple[str, str]]:
    """Every way to log in to IMAP without TLS; (what, how it ended)."""
    out = []
    attempts = [("LOGIN", lambda c: c.login(user, password)),
                ("AUTHENTICATE PLAIN", lambda c: c.authenticate(
                    "PLAIN", lambda _: f"\0{user}\0{password}".encode()))]
    for what, attempt in attempts:
        out.append((what, _try(lambda: probe.imap_client(lab, listener), attempt)))
    caps: tuple[str, ...] = ()
    with contextlib.suppress(Exception):
        client = probe.imap_client(lab, listener)
        caps = client.capabilities
        probe.close(client)
    if "AUTH=CRAM-MD5" in caps:
        out.append(("AUTHENTICATE CRAM-MD5", _try(lambda: probe.imap_client(lab, listener),
                                                  lambda c: c.login_cram_md5(user, password))))
    return out


def _pop3_plain_attempts(lab: Lab, listener: str, user: str, password: str
                         ) -> list[tuple[str, str]]:
    """Every way to log in to POP3 without TLS; (what, how it ended)."""
    def user_pass(c: poplib.POP3) -> object:
        c.user(user)
        return c.pass_(password)

    def auth_plain(c: poplib.POP3) -> object:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return c._shortcmd(f"AUTH PLAIN {token}")  # noqa: SLF001 - poplib has no AUTH

    return [(what, _try(lambda: probe.pop3_client(lab, listener), attempt))
            for what, attempt in (("USER/PASS", user_pass), ("AUTH PLAIN", auth_plain))]


def _try(connect, attempt) -> str:  # noqa: ANN001 - small local callables
    """'logged in', or the server's refusal (or the connection's end) in its words."""
    client = None
    try:
        client = connect()
        attempt(client)
        return "logged in"
    except (imaplib.IMAP4.error, poplib.error_proto) as exc:
        text = exc.args[0] if exc.args else exc
        return f"refused: {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    except (OSError, EOFError) as exc:
        return f"connection ended: {exc or type(exc).__name__}"
    finally:
        if client is not None:
            probe.close(client)


def _tls_login(lab: Lab, protocol: str, listener: str, user: str, password: str) -> str:
    if _address(lab, listener) is None:
        return f"no {listener} listener is open"
    if protocol == "imap":
        return _try(lambda: probe.imap_client(lab, listener), lambda c: c.login(user, password))

    def user_pass(c: poplib.POP3) -> object:
        c.user(user)
        return c.pass_(password)

    return _try(lambda: probe.pop3_client(lab, listener), user_pass)


def ssl_required(submission: probe.Submission, *, protocols: Sequence[str] = ("imap", "pop3"),
                 engine: str = "lab") -> Verdict:
    """No login without TLS on any listener (from a non-secured address); IMAPS and POP3S work."""
    task = "ssl-required"
    user, password = probe.fresh_user()
    files = _missing_dh_files(task, submission, SEE_SSL)
    with probe.lab_for(task, submission, engine=engine, files=files, see=SEE_SSL) as lab:
        # a CRAM-MD5 hash serves PLAIN and CRAM-MD5 alike, so a challenge-response login
        # without TLS is refused by the policy, never by the stored scheme
        lab.add_user(user, password, scheme="CRAM-MD5")
        parts: list[tuple[bool, str, str]] = []
        plain = [spec for spec, _ in lab.listeners()
                 if not spec.ssl and spec.protocol in protocols]
        for spec in plain:
            attempts = (_imap_plain_attempts if spec.protocol == "imap"
                        else _pop3_plain_attempts)(lab, spec.name, user, password)
            for what, ended in attempts:
                parts.append((ended != "logged in",
                              f"{spec.name} (port {spec.configured_port}) without TLS: "
                              f"{what} is refused", f"a client from {probe.REMOTE} "
                              f"{ended} with a password sent in clear text"))
        for protocol in protocols:
            listener = f"{protocol}s"
            ended = _tls_login(lab, protocol, listener, user, password)
            parts.append((ended == "logged in", f"{listener} (implicit TLS) accepts a login",
                          ended))
        return probe.judge(
            task, parts, see=SEE_SSL, evidence=probe.evidence(lab),
            hint="ssl = required refuses every login without TLS (disable_plaintext_auth = "
                 "yes only the plaintext mechanisms); check protocol { } blocks and "
                 "login_trusted_networks, and that ssl_cert and ssl_key use '<'.")


# -- cipher-hardening ------------------------------------------------------------------------

def _tls12_suites() -> list[dict]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return [c for c in ctx.get_ciphers() if c["protocol"] != "TLSv1.3"]


def forward_secret_aes256(info: dict) -> bool:
    """A TLS 1.2 suite with an ephemeral key exchange (ECDHE or DHE), authenticated, and
    AES with 256-bit keys: what ``AES256+EECDH:AES256+EDH`` selects."""
    return (info.get("kea") in ("kx-ecdhe", "kx-dhe") and info.get("auth") != "auth-null"
            and (info.get("symmetric") or "").startswith("aes-256"))


def _offer(names: Sequence[str]) -> str:
    return ":".join(names) + ":@SECLEVEL=0"


def _handshake(scanner: Scanner, version: ssl.TLSVersion, ciphers: str = "ALL:@SECLEVEL=0",
               suites: str | None = None) -> Probe:
    try:
        return scanner.probe(version, ciphers, suites)
    except Exception as exc:  # noqa: BLE001 - a failed connection is an observation
        return Probe(False, error=str(exc))


def _floor(config: Config, protocol: str) -> str:
    value = config.get("ssl_min_protocol", protocol=protocol)
    return {"ANY": "SSLv3", "LATEST": "TLSv1.2"}.get(value, value)


def _judge_listener(lab: Lab, config: Config, listener: str, protocol: str,
                    tls13_aes256_only: bool) -> list[tuple[bool, str, str]]:
    where = _address(lab, listener)
    if where is None:
        return [(False, f"{listener} is open for the handshakes", "it is not listening")]
    scanner = Scanner(*where, timeout=probe.TIMEOUT, source=probe.REMOTE)
    parts = []
    floor = _floor(config, protocol)
    parts.append((floor in FLOOR_ORDER and FLOOR_ORDER.index(floor) >= 3,
                  f"{listener}: the configuration's floor is TLSv1.2 or higher "
                  "(no SSLv3, TLS 1.0, TLS 1.1)",
                  f"ssl_min_protocol is {floor}; only OpenSSL's system policy keeps the "
                  "older versions out, and a laxer system would allow them"))
    for label, version in OLD_VERSIONS:
        got = _handshake(scanner, version)
        parts.append((not got.ok, f"{listener}: a {label} handshake is refused",
                      f"it completed with {got.cipher}"))
    infos = _tls12_suites()
    good = [c["name"] for c in infos if forward_secret_aes256(c)]
    bad = [c["name"] for c in infos if not forward_secret_aes256(c)]
    weak = _handshake(scanner, ssl.TLSVersion.TLSv1_2, _offer(bad))
    parts.append((not weak.ok, f"{listener}: TLS 1.2 refuses every suite that is not "
                  "forward-secret AES256", f"it agreed on {weak.cipher} ({weak.version})"))
    first = _handshake(scanner, ssl.TLSVersion.TLSv1_2, _offer(good))
    parts.append((first.ok, f"{listener}: TLS 1.2 works with a forward-secret AES256 suite",
                  f"the handshake failed ({first.error})"))
    if first.ok:
        parts.append(_server_order(scanner, listener, good, first))
        dhe = [n for n in good if n.startswith(("DHE", "EDH"))]
        got = _handshake(scanner, ssl.TLSVersion.TLSv1_2, _offer(dhe))
        if got.ok and got.kx is not None:
            parts.append((got.kx[1] >= 2048, f"{listener}: DHE uses a group of at least "
                          "2048 bits (Logjam)", f"the server's DH group has {got.kx[1]} bits"))
    if tls13_aes256_only:
        others = [s for s in TLS13_SUITES if s != "TLS_AES_256_GCM_SHA384"]
        got = _handshake(scanner, ssl.TLSVersion.TLSv1_3, suites=":".join(others))
        parts.append((not got.ok, f"{listener}: TLS 1.3 refuses suites other than "
                      "TLS_AES_256_GCM_SHA384", f"it agreed on {got.cipher}"))
        got = _handshake(scanner, ssl.TLSVersion.TLSv1_3, suites="TLS_AES_256_GCM_SHA384")
        parts.append((got.ok, f"{listener}: TLS 1.3 works with TLS_AES_256_GCM_SHA384",
                      f"the handshake failed ({got.error})"))
    return parts


def _server_order(scanner: Scanner, listener: str, good: list[str], first: Probe
                  ) -> tuple[bool, str, str]:
    """Two accepted suites offered in both orders: the server's order wins when it picks
    the same one both times. The second suite is looked for per key exchange, as a server
    without ``ssl_dh`` picks a DHE suite and then fails the handshake."""
    what = f"{listener}: the server's cipher order wins (ssl_prefer_server_ciphers)"
    rest = [n for n in good if n != first.cipher]
    second = Probe(False)
    for group in ([n for n in rest if n.startswith("ECDHE")],
                  [n for n in rest if not n.startswith("ECDHE")]):
        if group and not second.ok:
            second = _handshake(scanner, ssl.TLSVersion.TLSv1_2, _offer(group))
    if not second.ok:
        return True, what, ""  # one suite only: there is nothing to choose between
    picks = [_handshake(scanner, ssl.TLSVersion.TLSv1_2, _offer(order)).cipher
             for order in ([first.cipher, second.cipher], [second.cipher, first.cipher])]
    return (picks[0] == picks[1], what,
            f"offered {first.cipher} first, the server took {picks[0]}; offered "
            f"{second.cipher} first, it took {picks[1]}: the client's order decides")


def cipher_hardening(submission: probe.Submission, *,
                     listeners: Sequence[str] = ("imaps", "pop3s"),
                     tls13_aes256_only: bool = False, engine: str = "lab") -> Verdict:
    """No SSLv3/TLS 1.0/1.1; only forward-secret AES256 suites for TLS 1.2; server order wins."""
    task = "cipher-hardening"
    files = _missing_dh_files(task, submission, SEE_HARDEN)
    with probe.lab_for(task, submission, engine=engine, files=files, see=SEE_HARDEN) as lab:
        config = _config(lab)
        parts = []
        for listener in listeners:
            protocol = listener.removesuffix("s")
            parts.extend(_judge_listener(lab, config, listener, protocol, tls13_aes256_only))
        return probe.judge(
            task, parts, see=SEE_HARDEN, evidence=probe.evidence(lab, "SSL"),
            hint="ssl_min_protocol = TLSv1.2, ssl_cipher_list = AES256+EECDH:AES256+EDH, "
                 "ssl_prefer_server_ciphers = yes (and ssl_cipher_suites for TLS 1.3); "
                 "settings inside protocol { } apply to that protocol only.")


# -- cipher-choice ---------------------------------------------------------------------------

NO_SHARED = "no shared cipher"


def cipher_choice(submission: str, *, config: str, offer: Sequence[str],
                  version: str = "TLSv1.2", listener: str = "imaps",
                  engine: str = "lab") -> Verdict:
    """The suite the server picks for a client offer (or "no shared cipher"), predicted."""
    task = "cipher-choice"
    versions = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
    if version not in versions:
        return Verdict(task, False, 0.0, f"This check compares TLSv1.2 or TLSv1.3 handshakes, "
                       f"not {version!r}.", see=SEE_CHOICE)
    files = _missing_dh_files(task, config, SEE_CHOICE)
    with probe.lab_for(task, config, engine=engine, files=files, see=SEE_CHOICE) as lab:
        where = _address(lab, listener)
        if where is None:
            return Verdict(task, False, 0.0, f"The configuration opens no {listener} "
                           "listener, so there is no handshake to predict.", see=SEE_CHOICE)
        scanner = Scanner(*where, timeout=probe.TIMEOUT, source=probe.REMOTE)
        if version == "TLSv1.3":
            got = _handshake(scanner, versions[version], suites=":".join(offer))
        else:
            got = _handshake(scanner, versions[version], _offer(offer))
        happened = got.cipher if got.ok else NO_SHARED
        said = str(submission).strip()
        ok = said.upper() == happened.upper()
        text = (f"The client offered {', '.join(offer)} (in that order) over {version}; "
                f"the server {'chose ' + happened if got.ok else 'refused'}.")
        if not got.ok:
            text += (f"\nThe client saw: {got.error}\nDovecot logged: "
                     f"{server_log_line(lab, 'SSL_accept') or '(nothing)'}")
        if ok:
            return Verdict(task, True, 1.0, f"Right. {text}", see=SEE_CHOICE)
        return Verdict(task, False, 0.0,
                       f"You predicted {said!r}. {text}\nHint: with "
                       "ssl_prefer_server_ciphers = yes the server's list decides, otherwise "
                       "the client's first acceptable suite wins; ssl_cipher_list does not "
                       "touch TLS 1.3.", probe.evidence(lab, "SSL"), see=SEE_CHOICE)


# -- mkcert ----------------------------------------------------------------------------------

LAYOUTS = [("certs/dovecot.pem", "private/dovecot.pem"),  # mkcert.sh in $SSLDIR
           ("etc/ssl/certs/dovecot.pem", "etc/ssl/private/dovecot.pem"),  # a lab root
           ("dovecot.pem", "dovecot.key"),  # Debian's script: /etc/dovecot/ssl
           ("etc/dovecot/ssl/dovecot.pem", "etc/dovecot/ssl/dovecot.key")]


def _pair_paths(submission: probe.Submission | tuple) -> tuple[Path, Path]:
    if isinstance(submission, tuple | list):
        cert, key = submission
        return Path(cert), Path(key)
    folder = Path(submission)
    for cert, key in LAYOUTS:
        if (folder / cert).is_file() and (folder / key).is_file():
            return folder / cert, folder / key
    raise FileNotFoundError(
        f"no certificate and key in {folder}: expected certs/dovecot.pem and "
        "private/dovecot.pem (mkcert.sh with SSLDIR) or dovecot.pem and dovecot.key")


def _served_fingerprint(cert_pem: bytes, key_pem: bytes, password: str, engine: str
                        ) -> str:
    """Start a lab with the pair and return the SHA-1 fingerprint IMAPS presents."""
    text = DEFAULT_CONFIG.replace("ssl = no", "ssl = yes") + (
        "ssl_cert = </etc/dovecot/learner-cert.pem\n"
        "ssl_key = </etc/dovecot/private/learner-key.pem\n"
        + (f"ssl_key_password = {password}\n" if password else ""))
    files: dict[str, str | bytes] = {"/etc/dovecot/learner-cert.pem": cert_pem,
                                     "/etc/dovecot/private/learner-key.pem": key_pem}
    with probe.lab_for("mkcert", text, engine=engine, files=files, certificates=False,
                       see=SEE_MKCERT) as lab:
        where = _address(lab, "imaps")
        if where is None:
            return "no imaps listener"
        try:
            with socket.create_connection(where, probe.TIMEOUT) as raw, \
                    probe.client_context().wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as exc:
            lines = probe.evidence(lab, "SSL", last=1)
            return f"the handshake failed ({exc}){': ' + lines[0] if lines else ''}"
        return certs.fingerprint(x509.load_der_x509_certificate(der))


def mkcert(submission: probe.Submission | tuple, *, cn: str | None = None,
           subject: dict[str, str] | None = None, password: str | None = None,
           engine: str = "lab") -> Verdict:
    """A certificate and key as mkcert.sh makes them: valid, matching, asked subject, safe modes."""
    task = "mkcert"
    try:
        cert_path, key_path = _pair_paths(submission)
        cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    except (OSError, ValueError) as exc:
        return Verdict(task, False, 0.0, f"The certificate and key cannot be read: {exc}",
                       see=SEE_MKCERT)
    try:
        cert, key = certs.load_pair(cert_pem, key_pem, password.encode() if password else None)
    except certs.CertError as exc:
        return Verdict(task, False, 0.0,
                       f"Dovecot could not use these files: {exc}\nHint: the certificate "
                       "must be PEM (BEGIN CERTIFICATE) and the key a PEM private key"
                       + (" encrypted with the password given" if password else
                          " without a password, as -nodes makes it") + ".",
                       see=SEE_MKCERT)
    wanted = dict(subject or {})
    if cn is not None:
        wanted["CN"] = cn
    parts: list[tuple[bool, str, str]] = []
    match = certs.check_key_matches(cert, key)
    parts.append((match.ok, "the key belongs to the certificate", match.detail))
    now = datetime.datetime.now(datetime.UTC)
    valid = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    parts.append((valid and days >= 360, "the certificate is valid now, for about a year "
                  "(mkcert.sh: -days 365)",
                  f"valid from {cert.not_valid_before_utc:%Y-%m-%d} to "
                  f"{cert.not_valid_after_utc:%Y-%m-%d} ({days} days)"))
    printed = certs.format_name(cert.subject)
    for short, value in wanted.items():
        oid = certs.SHORT_NAMES.get(short)
        got = [a.value for a in cert.subject.get_attributes_for_oid(oid)] if oid else []
        parts.append((value in got, f"the subject has {short} = {value}",
                      f"the subject is {printed or '(empty)'}"))
    for check in certs.check_modes(cert_path, key_path):
        what = ("the key is readable by its owner only (0400 or 0600)" if "key" in check.what
                else "the certificate is not writable by group or others")
        parts.append((check.ok, what, check.detail))
    size = getattr(key, "key_size", 0)
    parts.append((size >= 2048, "the key has at least 2048 bits",
                  f"{size} bits; OpenSSL's security level 2 refuses smaller RSA keys"))
    served = _served_fingerprint(cert_pem, key_pem, password or "", engine)
    parts.append((served == certs.fingerprint(cert), "Dovecot loads the pair and presents "
                  "this certificate on IMAPS", served))
    return probe.judge(task, parts, see=SEE_MKCERT, evidence=(
        f"subject={printed}", f"SHA1 Fingerprint={certs.fingerprint(cert)}",
        f"{cert_path.name}: {stat.S_IMODE(cert_path.stat().st_mode):04o}, "
        f"{key_path.name}: {stat.S_IMODE(key_path.stat().st_mode):04o}"),
        hint="edit dovecot-openssl.cnf ([ req_dn ]) before running mkcert; chmod 0400 the "
             "key; never reuse a key from another certificate.")


# -- ssl-cert-paths --------------------------------------------------------------------------

def ssl_cert_paths(submission: probe.Submission, *, cn: str | None = None,
                   engine: str = "lab") -> Verdict:
    """The server presents the certificate from the files ssl_cert and ssl_key name."""
    task = "ssl-cert-paths"
    with probe.lab_for(task, submission, engine=engine, certificates=False,
                       see=SEE_PATHS) as lab:
        config = _config(lab)
        expected = config.get("ssl_cert", protocol="imap")
        parts: list[tuple[bool, str, str]] = []
        problem = certificate_error(expected)
        parts.append((problem is None, "ssl_cert holds a PEM certificate read from a file "
                      "('<' before the path)", problem or ""))
        want = None
        if problem is None:
            want = certs.fingerprint(x509.load_pem_x509_certificate(expected.encode()))
        for listener in ("imaps", "pop3s"):
            where = _address(lab, listener)
            if where is None:
                continue
            try:
                with socket.create_connection(where, probe.TIMEOUT) as raw, \
                        probe.client_context().wrap_socket(raw) as tls:
                    der = tls.getpeercert(binary_form=True)
                got = x509.load_der_x509_certificate(der)
                happened = f"it presented {certs.format_name(got.subject)}"
                ok = certs.fingerprint(got) == want
                if cn is not None:
                    ok = ok and certs.check_hostname(got, cn).ok
            except (OSError, ssl.SSLError) as exc:
                lines = probe.evidence(lab, "SSL", last=1)
                ok, happened = False, f"the handshake failed ({exc})" + (
                    f": {lines[0]}" if lines else "")
            parts.append((ok, f"{listener} presents that certificate"
                          + (f" (for {cn})" if cn else ""), happened))
        if not any(what.startswith(("imaps", "pop3s")) for _, what, _ in parts):
            parts.append((False, "an implicit TLS listener (imaps or pop3s) is open",
                          "none is listening: is ssl = no?"))
        return probe.judge(task, parts, see=SEE_PATHS, evidence=probe.evidence(lab),
                           hint="ssl_cert = </path/cert.pem and ssl_key = </path/key.pem; "
                                "without '<' Dovecot takes the path itself as the PEM text.")


CHECKS = {
    "ssl-required": ssl_required,
    "cipher-hardening": cipher_hardening,
    "cipher-choice": cipher_choice,
    "mkcert": mkcert,
    "ssl-cert-paths": ssl_cert_paths,
}
