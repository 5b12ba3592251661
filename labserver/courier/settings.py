"""The Courier files the lab reads, their variables, defaults as Debian ships them, and types.

``load(resolver)`` reads ``/etc/courier/{imapd,imapd-ssl,pop3d,pop3d-ssl,authdaemonrc}``
from the lab root in the order Courier's start scripts source them (``imapd`` then
``imapd-ssl``; ``pop3d`` then ``pop3d-ssl``), so ``IMAP_CAPABILITY_TLS="$IMAP_CAPABILITY
AUTH=PLAIN"`` expands as it does for Courier. The result is a ``CourierSettings`` with
typed values; a value that cannot be used is an error naming the file and line.

``DEFAULT_FILES`` are the lab's copies of the shipped files (Debian 12, courier-imap 5.0.13,
courier-authlib 0.71.4): the same values, with short comments of our own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..config.resolve import PathResolver
from .shellconf import Assignment, CourierConfigError, parse

ETC = "/etc/courier"

# Every name Debian's files set or document (assignments and ``##NAME:`` markers).
_IMAPD = ("ACCESSFILE ACL_CAPABILITY ADDRESS AUTHSERVICE AUTH_MKHOMEDIR_SKEL DEFDOMAIN "
          "HEADERFROM ID_FIELDS IMAPACCESSFILE IMAPDEBUGFILE IMAPDSTART IMAP_ACL "
          "IMAP_CAPABILITY IMAP_CAPABILITY_ORIG IMAP_CAPABILITY_TLS IMAP_CAPABILITY_TLS_ORIG "
          "IMAP_CHECK_ALL_FOLDERS IMAP_DISABLETHREADSORT IMAP_EMPTYTRASH IMAP_ENHANCEDIDLE "
          "IMAP_IDLE_TIMEOUT IMAP_KEYWORDS IMAP_LOG_DELETIONS IMAP_MAILBOX_SANITY_CHECK "
          "IMAP_MOVE_EXPUNGE_TO_TRASH IMAP_OBSOLETE_CLIENT IMAP_PROXY IMAP_PROXY_FOREIGN "
          "IMAP_SHAREDINDEXFILE IMAP_TLS_ORIG IMAP_TRASHFOLDERNAME IMAP_ULIMITD IMAP_UMASK "
          "IMAP_USELOCKS KEYWORDS_CAPABILITY LOGGEROPTS MAILDIRPATH MAXDAEMONS MAXPERIP "
          "OUTBOX OUTBOX_MULTIPLE_SEND PIDFILE PORT PROXY_HOSTNAME SENDMAIL SMAP1_CAPABILITY "
          "TCPDOPTS")
_SSL = ("COURIERTLS MAILDIRPATH SSLADDRESS SSLLOGGEROPTS SSLPIDFILE SSLPORT TLS_CACHE "
        "TLS_CACHEFILE TLS_CACHESIZE TLS_CERTFILE TLS_CIPHER_LIST TLS_DHPARAMS TLS_EXTERNAL "
        "TLS_MIN_DH_BITS TLS_PRIORITY TLS_PRIVATE_KEYFILE TLS_PROTOCOL TLS_STARTTLS_PROTOCOL "
        "TLS_TIMEOUT TLS_TRUSTCERTS TLS_VERIFYPEER")
_POP3D = ("ADDRESS AUTHSERVICE AUTH_MKHOMEDIR_SKEL DEFDOMAIN LOGGEROPTS MAILDIRPATH MAXDAEMONS "
          "MAXPERIP MIME_UNICODE_MESSAGE_TYPE PIDFILE POP3AUTH POP3AUTH_ORIG POP3AUTH_TLS "
          "POP3AUTH_TLS_ORIG POP3DSTART POP3_LOG_DELETIONS POP3_PROXY PORT PROXY_HOSTNAME "
          "TCPDOPTS")
_AUTHDAEMONRC = ("DEBUG_LOGIN DEFAULTOPTIONS LDAPTLS_CACERT LDAPTLS_CERT LDAPTLS_KEY "
                 "LDAPTLS_REQCERT LDAP_TLS_OPTIONS LOGGEROPTS authdaemonvar authmodulelist "
                 "authmodulelistorig daemons")
KNOWN: dict[str, frozenset[str]] = {
    "imapd": frozenset(_IMAPD.split()),
    "imapd-ssl": frozenset(_SSL.split() + ["IMAPDSSLSTART", "IMAPDSTARTTLS",
                                            "IMAP_TLS_REQUIRED"]),
    "pop3d": frozenset(_POP3D.split()),
    "pop3d-ssl": frozenset(_SSL.split() + ["POP3DSSLSTART", "POP3_STARTTLS",
                                            "POP3_TLS_REQUIRED"]),
    "authdaemonrc": frozenset(_AUTHDAEMONRC.split()),
}

# The authdaemon modules the lab runs (authlib has more: authldap, authmysql, ...).
MODULES = ("authuserdb", "authpam", "authshadow")
OTHER_MODULES = ("authpwd", "authldap", "authmysql", "authpgsql", "authsqlite", "authcustom",
                 "authpipe", "authvchkpw")

DEFAULT_FILES: dict[str, str] = {
    "imapd": """\
# Courier-IMAP: the IMAP server (Debian's values)
ADDRESS=0
PORT=143
MAXDAEMONS=40
MAXPERIP=20
PIDFILE=/run/courier/imapd.pid
TCPDOPTS="-nodnslookup -noidentlookup"
IMAPACCESSFILE=/etc/courier/imapaccess
LOGGEROPTS="-name=imapd"
# What CAPABILITY announces before STARTTLS; ACL, STARTTLS and ENABLE are added.
IMAP_CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT \
THREAD=REFERENCES SORT QUOTA IDLE"
IMAP_KEYWORDS=1
IMAP_ACL=1
IMAP_CAPABILITY_ORIG="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT \
THREAD=REFERENCES SORT QUOTA AUTH=CRAM-MD5 AUTH=CRAM-SHA1 AUTH=CRAM-SHA256 IDLE"
IMAP_PROXY=0
IMAP_PROXY_FOREIGN=0
IMAP_IDLE_TIMEOUT=60
IMAP_MAILBOX_SANITY_CHECK=1
# ... and after STARTTLS: this is where AUTH=PLAIN appears.
IMAP_CAPABILITY_TLS="$IMAP_CAPABILITY AUTH=PLAIN"
IMAP_CAPABILITY_TLS_ORIG="$IMAP_CAPABILITY_ORIG AUTH=PLAIN"
IMAP_DISABLETHREADSORT=0
IMAP_CHECK_ALL_FOLDERS=0
IMAP_OBSOLETE_CLIENT=0
IMAP_UMASK=022
IMAP_ULIMITD=131072
IMAP_USELOCKS=1
IMAP_SHAREDINDEXFILE=/etc/courier/shared/index
IMAP_ENHANCEDIDLE=0
IMAP_TRASHFOLDERNAME=Trash
IMAP_EMPTYTRASH=Trash:7
IMAP_MOVE_EXPUNGE_TO_TRASH=0
SENDMAIL=/usr/sbin/sendmail
HEADERFROM=X-IMAP-Sender
IMAPDSTART=YES
# The maildir, relative to the home directory authdaemon gives.
MAILDIRPATH=Maildir
""",
    "imapd-ssl": """\
# Courier-IMAP over TLS: port 993 and STARTTLS (Debian's values)
SSLPORT=993
SSLADDRESS=0
SSLPIDFILE=/run/courier/imapd-ssl.pid
SSLLOGGEROPTS="-name=imapd-ssl"
IMAPDSSLSTART=YES
IMAPDSTARTTLS=YES
IMAP_TLS_REQUIRED=0
COURIERTLS=/usr/bin/couriertls
TLS_STARTTLS_PROTOCOL="$TLS_PROTOCOL"
# Certificate and private key in one PEM file (mkimapdcert makes it).
TLS_CERTFILE=/etc/courier/imapd.pem
TLS_DHPARAMS=/etc/courier/dhparams.pem
TLS_TRUSTCERTS=/etc/ssl/certs/ca-certificates.crt
TLS_VERIFYPEER=NONE
TLS_CACHEFILE=/var/lib/courier/couriersslpop3cache
TLS_CACHESIZE=524288
MAILDIRPATH=Maildir
""",
    "pop3d": """\
# Courier's POP3 server (Debian's values)
PIDFILE=/run/courier/pop3d.pid
MAXDAEMONS=40
MAXPERIP=4
# SASL mechanisms for AUTH; empty: USER/PASS only.
POP3AUTH=""
POP3AUTH_ORIG="PLAIN LOGIN CRAM-MD5 CRAM-SHA1 CRAM-SHA256"
POP3AUTH_TLS=""
POP3AUTH_TLS_ORIG="LOGIN PLAIN"
POP3_PROXY=0
PORT=110
ADDRESS=0
TCPDOPTS="-nodnslookup -noidentlookup"
LOGGEROPTS="-name=pop3d"
POP3DSTART=YES
MAILDIRPATH=Maildir
MIME_UNICODE_MESSAGE_TYPE="message/global"
""",
    "pop3d-ssl": """\
# Courier's POP3 server over TLS: port 995 and STLS (Debian's values)
SSLPORT=995
SSLADDRESS=0
SSLPIDFILE=/run/courier/pop3d-ssl.pid
SSLLOGGEROPTS="-name=pop3d-ssl"
POP3DSSLSTART=YES
POP3_STARTTLS=YES
POP3_TLS_REQUIRED=0
COURIERTLS=/usr/bin/couriertls
TLS_STARTTLS_PROTOCOL="$TLS_PROTOCOL"
TLS_CERTFILE=/etc/courier/pop3d.pem
TLS_DHPARAMS=/etc/courier/dhparams.pem
TLS_TRUSTCERTS=/etc/ssl/certs/ca-certificates.crt
TLS_VERIFYPEER=NONE
TLS_CACHEFILE=/var/lib/courier/couriersslimapcache
TLS_CACHESIZE=524288
MAILDIRPATH=Maildir
""",
    "authdaemonrc": """\
# Courier's authentication daemon (Debian's values, but for authmodulelist)
# The modules to ask, in order: authuserdb, authpam, authshadow, ...
# Debian ships authmodulelist="authpam"; the lab's accounts live in userdb.
authmodulelist="authuserdb"
authmodulelistorig="authuserdb authpam authpgsql authldap authmysql authsqlite \
authcustom authpipe"
daemons=5
authdaemonvar=/run/courier/authdaemon
DEBUG_LOGIN=0
DEFAULTOPTIONS=""
LOGGEROPTS=""
""",
}

# TLS_PROTOCOL values of Courier's OpenSSL build that name a lowest version.
TLS_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

# Sourcing order of each start script (the later file sees the earlier one's values).
ORDER = {"imap": ("imapd", "imapd-ssl"), "pop3": ("pop3d", "pop3d-ssl"),
         "auth": ("authdaemonrc",)}


@dataclass(frozen=True)
class ServiceSettings:
    """One of Courier's servers (imapd or pop3d) as its start scripts run it."""

    protocol: str
    start: bool
    address: str
    port: int
    maxdaemons: int
    maxperip: int
    ssl_start: bool
    ssl_address: str
    ssl_port: int
    starttls: bool
    tls_required: bool
    tls_certfile: str
    tls_protocol: str
    tls_cipher_list: str
    maildirpath: str
    capability: str = ""       # imapd: IMAP_CAPABILITY
    capability_tls: str = ""   # imapd: IMAP_CAPABILITY_TLS
    auth: str = ""             # pop3d: POP3AUTH
    auth_tls: str = ""         # pop3d: POP3AUTH_TLS


@dataclass(frozen=True)
class CourierSettings:
    """Everything the lab takes from ``/etc/courier``."""

    imap: ServiceSettings
    pop3: ServiceSettings
    authmodulelist: tuple[str, ...]
    env: Mapping[str, Mapping[str, str]]  # "imap", "pop3", "auth": the sourced variables


def read_file(resolver: PathResolver, name: str, env: Mapping[str, str]
              ) -> tuple[list[Assignment], dict[str, str]]:
    path = f"{ETC}/{name}"
    try:
        with open(resolver.real(path), encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        raise CourierConfigError(path, 0, f"{path} does not exist, forgot make "
                                          "install-configure?") from None
    return parse(text, path, env, KNOWN[name])


def load(resolver: PathResolver) -> CourierSettings:
    """Read Courier's five files from the lab root; errors name file and line."""
    env: dict[str, dict[str, str]] = {}
    where: dict[str, dict[str, tuple[str, int]]] = {}
    for key, files in ORDER.items():
        values: dict[str, str] = {}
        lines: dict[str, tuple[str, int]] = {}
        for name in files:
            assignments, values = read_file(resolver, name, values)
            for a in assignments:
                lines[a.name] = (f"{ETC}/{name}", a.line)
        env[key], where[key] = values, lines
    imap = _service("imap", env["imap"], where["imap"])
    pop3 = _service("pop3", env["pop3"], where["pop3"])
    modules = tuple(env["auth"].get("authmodulelist", "").split())
    _check_modules(modules, *where["auth"].get("authmodulelist", (f"{ETC}/authdaemonrc", 0)))
    return CourierSettings(imap=imap, pop3=pop3, authmodulelist=modules,
                           env={k: dict(v) for k, v in env.items()})


def load_authmodules(resolver: PathResolver) -> tuple[str, ...]:
    """``authmodulelist`` from ``authdaemonrc`` alone (what authdaemond reads)."""
    assignments, values = read_file(resolver, "authdaemonrc", {})
    modules = tuple(values.get("authmodulelist", "").split())
    line = next((a.line for a in assignments if a.name == "authmodulelist"), 0)
    _check_modules(modules, f"{ETC}/authdaemonrc", line)
    return modules


def _check_modules(modules: tuple[str, ...], path: str, line: int) -> None:
    for module in modules:
        if module not in MODULES:
            known = "not available in the lab" if module in OTHER_MODULES else "unknown"
            raise CourierConfigError(path, line, f"authmodulelist: {module} is {known} "
                                                 f"(the lab has {', '.join(MODULES)})")


def _service(protocol: str, env: Mapping[str, str], where: Mapping[str, tuple[str, int]]
             ) -> ServiceSettings:
    def fail(name: str, message: str) -> CourierConfigError:
        path, line = where.get(name, (f"{ETC}/{ORDER[protocol][0]}", 0))
        return CourierConfigError(path, line, f"{name}: {message}")

    def number(name: str, default: int) -> int:
        text = env.get(name, "")
        if text == "":
            return default
        if not text.isdigit():
            raise fail(name, f"not a number: {text!r}")
        return int(text)

    def port(name: str, default: int) -> int:
        value = number(name, default)
        if not 0 < value < 65536:
            raise fail(name, f"not a port number: {value}")
        return value

    def flag(name: str, yes: str = "YES", no: str = "NO", default: bool = False) -> bool:
        text = env.get(name, "")
        if text == "":
            return default
        if text.upper() == yes:
            return True
        if text.upper() == no:
            return False
        raise fail(name, f"expected {yes} or {no}, not {text!r}")

    tls_protocol = env.get("TLS_PROTOCOL", "")
    if tls_protocol and tls_protocol.rstrip("+") not in TLS_PROTOCOLS:
        raise fail("TLS_PROTOCOL", f"unknown protocol {tls_protocol!r} (the lab knows "
                                   f"{', '.join(TLS_PROTOCOLS)}, each optionally with +)")
    maildirpath = env.get("MAILDIRPATH", "Maildir")
    if not maildirpath or ".." in maildirpath.split("/"):
        raise fail("MAILDIRPATH", f"not a usable maildir path: {maildirpath!r}")
    if protocol == "imap":
        ssl_start, starttls, required = "IMAPDSSLSTART", "IMAPDSTARTTLS", "IMAP_TLS_REQUIRED"
        start, ports = "IMAPDSTART", (143, 993)
    else:
        ssl_start, starttls, required = "POP3DSSLSTART", "POP3_STARTTLS", "POP3_TLS_REQUIRED"
        start, ports = "POP3DSTART", (110, 995)
    return ServiceSettings(
        protocol=protocol, start=flag(start), address=env.get("ADDRESS", "0"),
        port=port("PORT", ports[0]), maxdaemons=number("MAXDAEMONS", 40),
        maxperip=number("MAXPERIP", 20 if protocol == "imap" else 4),
        ssl_start=flag(ssl_start), ssl_address=env.get("SSLADDRESS", "0"),
        ssl_port=port("SSLPORT", ports[1]), starttls=flag(starttls),
        tls_required=flag(required, "1", "0"), tls_certfile=env.get("TLS_CERTFILE", ""),
        tls_protocol=tls_protocol,
        tls_cipher_list=env.get("TLS_CIPHER_LIST", ""), maildirpath=maildirpath,
        capability=env.get("IMAP_CAPABILITY", ""),
        capability_tls=env.get("IMAP_CAPABILITY_TLS", ""),
        auth=env.get("POP3AUTH", ""), auth_tls=env.get("POP3AUTH_TLS", ""))


def write_defaults(resolver: PathResolver, overwrite: bool = False) -> None:
    """Put the shipped files into the lab's ``/etc/courier`` (existing ones are kept)."""
    for name, text in DEFAULT_FILES.items():
        real = resolver.real(f"{ETC}/{name}")
        os.makedirs(os.path.dirname(real), exist_ok=True)
        if overwrite or not os.path.exists(real):
            with open(real, "w", encoding="utf-8") as f:
                f.write(text)
