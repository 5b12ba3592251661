"""Certificates for Dovecot, in Python: the job of ``mkcert.sh`` and a few checks.

``mkcert()`` does what Dovecot's ``doc/mkcert.sh`` does with ``openssl req -new -x509 -nodes
-config $OPENSSLCONFIG -days 365``: it reads the ``[ req ]`` section of the OpenSSL
configuration (``dovecot-openssl.cnf``) for the key size (``default_bits``, 2048 in both
Dovecot's and Debian's file, and OpenSSL's default), the subject (the section named by
``distinguished_name``: C, ST, L, O, OU, CN, emailAddress...) and the extensions
(``x509_extensions``), makes an RSA key and a self-signed SHA-256 certificate valid for 365
days, refuses to overwrite, and prints what ``openssl x509 -subject -fingerprint -noout``
prints. Two layouts:

* ``upstream`` (Dovecot's own script): ``$SSLDIR/certs/dovecot.pem`` and
  ``$SSLDIR/private/dovecot.pem``, ``SSLDIR`` defaulting to ``/etc/ssl``;
* ``debian`` (``/usr/share/dovecot/mkcert.sh``): ``/etc/dovecot/ssl/dovecot.pem`` and
  ``/etc/dovecot/ssl/dovecot.key``; Debian's script sets ``SSLDIR`` but does not use it.

As the script runs under ``umask 077``, both files are created 0600; the key is written to
a private temporary file and linked into place, so it is never readable by others and an
existing file is never replaced.

``snakeoil()`` makes what a fresh Debian install uses: ``make-ssl-cert
generate-default-snakeoil`` (CN and subjectAltName = the host name, 3650 days, key 0640)
and the links dovecot-core's postinst adds, ``/etc/dovecot/private/dovecot.pem`` and
``dovecot.key``.

Paths are mapped into a sandbox ``root`` when one is given.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import os
import re
import socket
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

NS_CERT_TYPE = ObjectIdentifier("2.16.840.1.113730.1.1")

#: OpenSSL's short names (what ``openssl x509 -subject`` prints) and the long ones a
#: configuration may use.
SHORT_NAMES: dict[str, ObjectIdentifier] = {
    "C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME, "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
    "emailAddress": NameOID.EMAIL_ADDRESS, "street": NameOID.STREET_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT, "UID": NameOID.USER_ID, "title": NameOID.TITLE,
    "GN": NameOID.GIVEN_NAME, "SN": NameOID.SURNAME, "serialNumber": NameOID.SERIAL_NUMBER,
    "postalCode": NameOID.POSTAL_CODE, "initials": NameOID.INITIALS,
    "pseudonym": NameOID.PSEUDONYM, "dnQualifier": NameOID.DN_QUALIFIER,
}
LONG_NAMES = {
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
    "organizationName": "O", "organizationalUnitName": "OU", "commonName": "CN",
    "emailaddress": "emailAddress", "streetAddress": "street", "domainComponent": "DC",
    "userId": "UID", "givenName": "GN", "surname": "SN",
}
_OID_SHORT = {oid.dotted_string: short for short, oid in SHORT_NAMES.items()}

NS_TYPES = {"client": 0x80, "server": 0x40, "email": 0x20, "objsign": 0x10,
            "reserved": 0x08, "sslCA": 0x04, "emailCA": 0x02, "objCA": 0x01}

DEBIAN_DIR = "/etc/dovecot/ssl"


class CertError(Exception):
    """A certificate cannot be made or read; the text says why."""


# -- openssl x509 -subject -fingerprint -noout -----------------------------------------------

def _escape(value: str) -> str:
    """A value as OpenSSL's default name printing (oneline: RFC 2253 escapes, quotes
    instead of backslashes for , + < > ; and edge spaces, \\XX for bytes above 0x7f)."""
    data = value.encode("utf-8")
    out: list[str] = []
    quote = False
    for i, byte in enumerate(data):
        ch = chr(byte)
        if byte > 0x7F or byte < 0x20 or byte == 0x7F:
            out.append(f"\\{byte:02X}")
        elif ch in '"\\':
            out.append("\\" + ch)
        elif ch in ",+<>;" or (i == 0 and ch in " #") or (i == len(data) - 1 and ch == " "):
            quote = True
            out.append(ch)
        else:
            out.append(ch)
    text = "".join(out)
    return f'"{text}"' if quote else text


def format_name(name: x509.Name) -> str:
    """``OU = IMAP server, CN = imap.example.com, emailAddress = ...`` as OpenSSL 3 prints."""
    rdns = []
    for rdn in name.rdns:
        parts = []
        for attr in rdn:
            short = _OID_SHORT.get(attr.oid.dotted_string, attr.oid.dotted_string)
            value = attr.value if isinstance(attr.value, str) else attr.value.hex()
            parts.append(f"{short} = {_escape(value)}")
        rdns.append(" + ".join(parts))
    return ", ".join(rdns)


def fingerprint(cert: x509.Certificate, algorithm: str = "sha1") -> str:
    digest = hashlib.new(algorithm, cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)).upper()


def subject_and_fingerprint(cert: x509.Certificate) -> str:
    """What ``openssl x509 -subject -fingerprint -noout`` prints (OpenSSL 3)."""
    return f"subject={format_name(cert.subject)}\nSHA1 Fingerprint={fingerprint(cert)}\n"


# -- the OpenSSL configuration file ----------------------------------------------------------

@dataclass
class ReqConfig:
    """What ``openssl req -config FILE`` takes from the file."""

    bits: int = 2048
    digest: str = "sha256"
    randfile: str = ""
    subject: list[tuple[str, str, bool]] = field(default_factory=list)  # (short, value, +)
    extensions: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_openssl_config(text: str) -> dict[str, dict[str, str]]:
    """Sections of an OpenSSL configuration file: {section: {key: value}} (in order)."""
    sections: dict[str, dict[str, str]] = {"default": {}}
    current = sections["default"]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[\s*([^\]]*?)\s*\]", line)
        if m:
            current = sections.setdefault(m.group(1), {})
            continue
        if "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if not value.startswith(('"', "'")):
            value = re.sub(r"\s+#.*$", "", value)
        else:
            value = value[1:value.find(value[0], 1)] if value.find(value[0], 1) > 0 else value
        current[key.strip()] = value.strip()
    return sections


def read_req_config(text: str) -> ReqConfig:
    sections = parse_openssl_config(text)
    req = sections.get("req", {})
    conf = ReqConfig()
    if req.get("default_bits"):
        try:
            conf.bits = int(req["default_bits"])
        except ValueError:
            raise CertError(f"Invalid default_bits: {req['default_bits']}") from None
    conf.randfile = req.get("RANDFILE", sections["default"].get("RANDFILE", ""))
    conf.digest = req.get("default_md", "sha256") or "sha256"
    if conf.digest == "default":
        conf.digest = "sha256"
    dn_name = req.get("distinguished_name", "")
    dn = sections.get(dn_name)
    if dn is None:
        raise CertError(f"unable to find '{dn_name or 'distinguished_name'}' in config")
    if req.get("prompt", "yes") != "no":
        conf.warnings.append("prompt is not 'no': the lab never prompts, it takes the "
                             "values of the distinguished name section as they are")
    for key, value in dn.items():
        name = key
        multi = name.startswith("+")
        name = name.lstrip("+")
        cut = re.search(r"[:,.]", name)  # "0.OU", "1.OU": OpenSSL drops up to the first
        if cut and cut.end() < len(name):
            name = name[cut.end():]
        if name.endswith(("_default", "_min", "_max")):
            continue
        name = LONG_NAMES.get(name, name)
        if name not in SHORT_NAMES:
            conf.warnings.append(f"{key}: unknown name field, skipped")
            continue
        if value == "":
            continue
        conf.subject.append((name, value, multi))
    if not conf.subject:
        raise CertError("error, no objects specified in config file")
    ext_section = req.get("x509_extensions", "")
    if ext_section:
        if ext_section not in sections:
            raise CertError(f"Error Loading extension section {ext_section}")
        conf.extensions = list(sections[ext_section].items())
    return conf


def _name(subject: list[tuple[str, str, bool]]) -> x509.Name:
    rdns: list[list[x509.NameAttribute]] = []
    for short, value, multi in subject:
        attr = x509.NameAttribute(SHORT_NAMES[short], value)
        if multi and rdns:
            rdns[-1].append(attr)
        else:
            rdns.append([attr])
    return x509.Name([x509.RelativeDistinguishedName(r) for r in rdns])


def _general_names(value: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for item in (v.strip() for v in value.split(",") if v.strip()):
        kind, _, data = item.partition(":")
        if kind == "DNS":
            names.append(x509.DNSName(data))
        elif kind == "IP":
            names.append(x509.IPAddress(ipaddress.ip_address(data)))
        elif kind == "email":
            names.append(x509.RFC822Name(data))
        elif kind == "URI":
            names.append(x509.UniformResourceIdentifier(data))
        else:
            raise CertError(f"unsupported subjectAltName entry: {item}")
    return names


_KEY_USAGE = {"digitalSignature": "digital_signature", "nonRepudiation": "content_commitment",
              "keyEncipherment": "key_encipherment", "dataEncipherment": "data_encipherment",
              "keyAgreement": "key_agreement", "keyCertSign": "key_cert_sign",
              "cRLSign": "crl_sign", "encipherOnly": "encipher_only",
              "decipherOnly": "decipher_only"}
_EKU = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
        "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
        "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION}


def _extension(name: str, value: str, public_key) -> tuple[x509.ExtensionType, bool] | None:  # noqa: ANN001
    critical = value.startswith("critical,")
    if critical:
        value = value[len("critical,"):].strip()
    words = [w.strip() for w in value.split(",") if w.strip()]
    if name == "basicConstraints":
        ca = "CA:TRUE" in [w.upper() for w in words]
        path = next((int(w.split(":")[1]) for w in words if w.startswith("pathlen:")), None)
        return x509.BasicConstraints(ca=ca, path_length=path if ca else None), critical
    if name == "nsCertType":
        bits = 0
        for w in words:
            if w not in NS_TYPES:
                raise CertError(f"nsCertType: unknown value {w}")
            bits |= NS_TYPES[w]
        unused = (bits & -bits).bit_length() - 1 if bits else 0
        der = bytes([0x03, 0x02, unused, bits]) if bits else bytes([0x03, 0x01, 0x00])
        return x509.UnrecognizedExtension(NS_CERT_TYPE, der), critical
    if name == "subjectAltName":
        return x509.SubjectAlternativeName(_general_names(value)), critical
    if name == "keyUsage":
        flags = dict.fromkeys(_KEY_USAGE.values(), False)
        for w in words:
            flags[_KEY_USAGE[w]] = True
        return x509.KeyUsage(**flags), critical
    if name == "extendedKeyUsage":
        return x509.ExtendedKeyUsage([_EKU[w] for w in words]), critical
    if name == "subjectKeyIdentifier":
        return (x509.SubjectKeyIdentifier.from_public_key(public_key), critical) \
            if value != "none" else None
    return None


def make_certificate(conf: ReqConfig, days: int = 365,
                     now: datetime.datetime | None = None) -> tuple[bytes, bytes, list[str]]:
    """A self-signed certificate and its unencrypted PKCS#8 key (PEM), as ``openssl req
    -new -x509 -nodes`` makes them; also warnings about extensions the lab skipped."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=conf.bits)
    name = _name(conf.subject)
    now = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
    digest = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
              "sha1": hashes.SHA1()}.get(conf.digest.lower())  # noqa: S303 - as configured
    if digest is None:
        raise CertError(f"Unknown digest: {conf.digest}")
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days)))
    warnings: list[str] = []
    have_skid = False
    for ext_name, value in conf.extensions:
        if ext_name == "authorityKeyIdentifier":
            continue  # self-signed: OpenSSL 3 leaves it out as well
        ext = _extension(ext_name, value, key.public_key())
        if ext is None:
            if ext_name != "subjectKeyIdentifier":
                warnings.append(f"extension {ext_name} is not supported by the lab, skipped")
            have_skid = have_skid or ext_name == "subjectKeyIdentifier"
            continue
        have_skid = have_skid or ext_name == "subjectKeyIdentifier"
        builder = builder.add_extension(ext[0], critical=ext[1])
    if not have_skid:  # OpenSSL 3's req -x509 adds subjectKeyIdentifier = hash
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    cert = builder.sign(key, digest)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, warnings


# -- files -----------------------------------------------------------------------------------

def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` that must not exist yet, never visible with wider
    permissions than ``mode`` nor half-written: a 0600 temporary file linked into place."""
    fd, tmp = tempfile.mkstemp(prefix=".mkcert-", dir=path.parent)
    try:
        os.fchmod(fd, mode & 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # FileExistsError if someone made it meanwhile
        if mode != mode & 0o600:
            os.chmod(path, mode)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@dataclass
class MkcertResult:
    exit_code: int
    stdout: str
    stderr: str = ""
    cert_path: str = ""
    key_path: str = ""


def _real(path: str, root: str | None) -> Path:
    if root is None or not path.startswith("/"):
        return Path(path)
    from ..config.resolve import PathResolver

    return Path(PathResolver(Path(root)).real(path))


def mkcert(*, ssldir: str | None = None, opensslconfig: str | None = None,
           layout: str = "upstream", root: str | None = None, days: int = 365,
           env: dict[str, str] | None = None) -> MkcertResult:
    """Dovecot's mkcert.sh. ``ssldir``/``opensslconfig`` default to the ``SSLDIR`` and
    ``OPENSSLCONFIG`` variables of ``env`` (os.environ), then to the script's defaults."""
    env = dict(os.environ if env is None else env)
    ssldir = ssldir if ssldir is not None else env.get("SSLDIR", "/etc/ssl")
    opensslconfig = (opensslconfig if opensslconfig is not None
                     else env.get("OPENSSLCONFIG", "dovecot-openssl.cnf"))
    if layout == "debian":
        certdir = keydir = DEBIAN_DIR
        certfile, keyfile = f"{certdir}/dovecot.pem", f"{keydir}/dovecot.key"
        missing = {certdir: f"{certdir} directory doesn't exist",
                   keydir: f"{keydir} directory doesn't exist"}
    else:
        certdir, keydir = f"{ssldir}/certs", f"{ssldir}/private"
        certfile, keyfile = f"{certdir}/dovecot.pem", f"{keydir}/dovecot.pem"
        missing = {certdir: f"{ssldir}/certs directory doesn't exist",
                   keydir: f"{ssldir}/private directory doesn't exist"}
    for directory in (certdir, keydir):
        if not _real(directory, root).is_dir():
            return MkcertResult(1, missing[directory] + "\n")
    for path in (certfile, keyfile):
        if _real(path, root).is_file():
            return MkcertResult(1, f"{path} already exists, won't overwrite\n")
    config_path = _real(opensslconfig, root)
    try:
        conf = read_req_config(config_path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return MkcertResult(2, "", f'Can\'t open "{opensslconfig}" for reading, '
                            f"{exc.strerror}\n")
    except CertError as exc:
        return MkcertResult(2, "", f"{exc}\n")
    try:
        cert_pem, key_pem, warnings = make_certificate(conf, days=days)
    except (CertError, ValueError) as exc:
        return MkcertResult(2, "", f"{exc}\n")
    real_cert, real_key = _real(certfile, root), _real(keyfile, root)
    try:
        write_new_file(real_cert, cert_pem, 0o600)
        write_new_file(real_key, key_pem, 0o600)
    except FileExistsError as exc:
        return MkcertResult(1, f"{exc.filename} already exists, won't overwrite\n")
    except OSError as exc:
        return MkcertResult(2, "", f"{exc}\n")
    stderr = "".join(f"labserver mkcert: {w}\n" for w in conf.warnings + warnings)
    if conf.randfile and os.path.exists(conf.randfile) and not os.path.isfile(conf.randfile):
        # openssl req saves its random state to RANDFILE after writing both files and fails
        # when that is not a regular file: Debian's dovecot-openssl.cnf has RANDFILE =
        # /dev/urandom, so its mkcert.sh stops with exit 2 before chmod and the printout.
        return MkcertResult(2, "", stderr + "Cannot write random bytes:\n"
                            "error:1200007A:random number generator:RAND_write_file:Not a "
                            f"regular file:Filename={conf.randfile}\n", certfile, keyfile)
    cert = x509.load_pem_x509_certificate(cert_pem)
    return MkcertResult(0, "\n" + subject_and_fingerprint(cert), stderr, certfile, keyfile)


SNAKEOIL_CERT = "/etc/ssl/certs/ssl-cert-snakeoil.pem"
SNAKEOIL_KEY = "/etc/ssl/private/ssl-cert-snakeoil.key"


def default_hostname() -> str:
    """make-ssl-cert's choice: ``hostname -f``, or the short name when that is too long."""
    name = socket.getfqdn() or socket.gethostname()
    return name if len(name) <= 64 else socket.gethostname()


def snakeoil(*, root: str | None = None, hostname: str | None = None,
             days: int = 3650) -> MkcertResult:
    """Debian's default certificate (make-ssl-cert generate-default-snakeoil) and the
    symbolic links dovecot-core's postinst makes to it in /etc/dovecot/private."""
    hostname = hostname or default_hostname()
    conf = ReqConfig(subject=[("CN", hostname, False)],
                     extensions=[("basicConstraints", "CA:FALSE"),
                                 ("subjectAltName", f"DNS:{hostname}")])
    cert_pem, key_pem, _ = make_certificate(conf, days=days)
    real_cert, real_key = _real(SNAKEOIL_CERT, root), _real(SNAKEOIL_KEY, root)
    for path in (real_cert, real_key):
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # make-ssl-cert -f overwrites
    os.chmod(real_key.parent, 0o710)
    write_new_file(real_cert, cert_pem, 0o644)
    write_new_file(real_key, key_pem, 0o640)
    private = _real("/etc/dovecot/private", root)
    private.mkdir(parents=True, exist_ok=True)
    os.chmod(private, 0o700)
    for link, target in (("dovecot.pem", SNAKEOIL_CERT), ("dovecot.key", SNAKEOIL_KEY)):
        if not (private / link).exists() and not (private / link).is_symlink():
            # inside a sandbox the link points at the sandbox's file
            os.symlink(target if root is None else os.path.relpath(
                _real(target, root), private), private / link)
    cert = x509.load_pem_x509_certificate(cert_pem)
    return MkcertResult(0, subject_and_fingerprint(cert), "", SNAKEOIL_CERT, SNAKEOIL_KEY)


# -- checks a learner can run ----------------------------------------------------------------

@dataclass
class Check:
    ok: bool
    what: str
    detail: str

    def __str__(self) -> str:
        return f"[{'ok' if self.ok else 'FAIL'}] {self.what}: {self.detail}"


def load_pair(cert_pem: bytes, key_pem: bytes, password: bytes | None = None
              ) -> tuple[x509.Certificate, object]:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise CertError("There is no valid PEM certificate.") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=password)
    except (TypeError, ValueError) as exc:
        raise CertError(f"Couldn't parse private SSL key: {exc}") from None
    return cert, key


def check_key_matches(cert: x509.Certificate, key) -> Check:  # noqa: ANN001
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    same = (cert.public_key().public_bytes(serialization.Encoding.DER, fmt)
            == key.public_key().public_bytes(serialization.Encoding.DER, fmt))
    return Check(same, "key matches certificate",
                 "the key's public half is the certificate's" if same else
                 "Key is for a different cert than ssl_cert (Dovecot's words)")


def check_expiry(cert: x509.Certificate, now: datetime.datetime | None = None,
                 warn_days: int = 30) -> Check:
    now = now or datetime.datetime.now(datetime.UTC)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        return Check(False, "validity", f"not valid before {start:%Y-%m-%d %H:%M} UTC")
    if now > end:
        return Check(False, "validity", f"expired on {end:%Y-%m-%d %H:%M} UTC")
    left = (end - now).days
    return Check(left >= warn_days, "validity",
                 f"valid until {end:%Y-%m-%d %H:%M} UTC ({left} days left)")


def _host_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def check_hostname(cert: x509.Certificate, host: str) -> Check:
    """As clients check (RFC 6125): subjectAltName DNS names when there are any, else CN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    names = dns or [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                    if isinstance(a.value, str)]
    ok = host in ips or any(_host_matches(n, host) for n in names)
    where = "subjectAltName" if dns or ips else "CN (no subjectAltName)"
    return Check(ok, "host name", f"{host} {'matches' if ok else 'does not match'} "
                 f"{where}: {', '.join(names + ips) or 'nothing'}")


def check_modes(cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]
                ) -> list[Check]:
    """The chapter's advice: certificate 0440/0444 (readable, not writable by others),
    key 0400 (or 0600): nobody but the owner may read it."""
    out = []
    cmode = stat.S_IMODE(os.stat(cert_path).st_mode)
    kmode = stat.S_IMODE(os.stat(key_path).st_mode)
    out.append(Check(cmode & 0o022 == 0, "certificate mode",
                     f"{cmode:04o}" + ("" if cmode & 0o022 == 0 else
                                       ": writable by group or others")))
    if kmode & 0o077:
        out.append(Check(False, "key mode", f"{kmode:04o}: readable by group or others; "
                         "use chmod 0400 (0600 is what mkcert.sh leaves)"))
    else:
        out.append(Check(True, "key mode", f"{kmode:04o}"))
    return out


def check_files(cert_path: str, key_path: str, host: str | None = None,
                password: bytes | None = None) -> list[Check]:
    cert, key = load_pair(Path(cert_path).read_bytes(), Path(key_path).read_bytes(), password)
    checks = [check_key_matches(cert, key), check_expiry(cert)]
    if host:
        checks.append(check_hostname(cert, host))
    checks.extend(check_modes(cert_path, key_path))
    size = getattr(key, "key_size", 0)
    checks.append(Check(size >= 2048 or not isinstance(key, rsa.RSAPrivateKey), "key size",
                        ("RSA" if isinstance(key, rsa.RSAPrivateKey)
                         else type(key).__name__.removesuffix("PrivateKey")) + f" {size} bits"
                        + (" (OpenSSL's security level 2 needs 2048)" if size < 2048 else "")))
    return checks
