"""Courier as a personality of the lab's IMAP and POP3 engines.

The lab has one IMAP engine and one POP3 engine. Courier-IMAP and Courier's POP3
server are the same engines configured differently:

- ``dovecot_config(settings, resolver)`` turns Courier's files into the configuration
  the engines and listeners already read: ports and addresses (``PORT``, ``SSLPORT``,
  ``ADDRESS``, ``IMAPDSTART``...), TLS (``TLS_CERTFILE``, a PEM file holding key and
  certificate; ``TLS_PROTOCOL``; ``TLS_CIPHER_LIST``; ``IMAP_TLS_REQUIRED``), the
  namespace Courier-IMAP has always had (``INBOX.`` with ``.``), per-IP limits
  (``MAXPERIP``), the maildir (``MAILDIRPATH``) and POP3 UIDLs in Courier's form.
- ``imap_settings`` and ``pop3_settings`` give the engines Courier's greeting,
  capability strings, NAMESPACE reply and reply words (the tables below were taken
  from a real Courier-IMAP 5.0.13 and Courier POP3 1.0.16 session).
- ``CourierContext`` puts authdaemon (``authmodulelist``) where Dovecot's passdbs are,
  and Courier's Maildir files (``courierimapuiddb``, ``courierimapsubscribed``) where
  Dovecot's are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from ..auth import AuthResult
from ..auth.passdb import PassdbResult
from ..config import Config
from ..config.resolve import PathResolver
from ..imap._settings import FixedCapabilities, ImapSettings
from ..pop3 import Pop3Settings
from ..rewording import Rewording
from ..service.context import LabContext
from ..storage.base import Namespace
from ..storage.location import parse_location
from ..storage.model import MailStorage
from . import authdaemon
from .maildir import CourierStorage
from .settings import CourierSettings, ServiceSettings

GREETING = ("Courier-IMAP ready. Copyright 1998-2019 Double Precision, Inc.  "
            "See COPYING for distribution information.")
POP3_GREETING = "Hello there."
# IMAP_ACL=1 adds these; every login gets ENABLE and UTF8=ACCEPT (imapd.c).
ACL_CAPABILITY = "ACL ACL2=UNION"
TAIL_CAPABILITY = "ENABLE UTF8=ACCEPT"
# What the engine has and Courier-IMAP 5 does not (it answers them as unknown commands).
NOT_IN_COURIER = frozenset({"ID", "UNSELECT", "MOVE"})
NAMESPACE_REPLY = '(("INBOX." ".")) NIL (("#shared." ".")("shared." "."))'
# A wrong password costs five seconds in Courier's login programs (not configurable).
FAILURE_DELAY = 5.0

# Dovecot's reply (as the engine words it) -> Courier-IMAP's.
IMAP_REPLIES = {
    "OK Pre-login capabilities listed, post-login capabilities have more.":
        "OK CAPABILITY completed",
    "OK Capability completed.": "OK CAPABILITY completed",
    "OK NOOP completed.": "OK NOOP completed",
    "OK Logout completed.": "OK LOGOUT completed",
    "BYE Logging out": "BYE Courier-IMAP server shutting down",
    "OK Begin TLS negotiation now.": "OK Begin SSL/TLS negotiation now.",
    "OK Logged in": "OK LOGIN Ok.",
    "NO [AUTHENTICATIONFAILED] Authentication failed.": "NO Login failed.",
    "OK Namespace completed.": "OK NAMESPACE completed.",
    "OK List completed.": "OK LIST completed",
    "OK Lsub completed.": "OK LSUB completed",
    "OK Subscribe completed.": "OK Folder subscribed.",
    "OK Unsubscribe completed.": "OK Folder unsubscribed.",
    "OK Rename completed.": "OK Folder renamed.",
    "OK Delete completed.": "OK Folder deleted.",
    "OK Status completed.": "OK STATUS Completed.",
    "OK [READ-WRITE] Select completed": "OK [READ-WRITE] Ok",
    "OK [READ-ONLY] Examine completed": "OK [READ-ONLY] Ok",
    "OK Fetch completed.": "OK FETCH completed.",
    "OK Store completed.": "OK STORE completed.",
    "OK Search completed.": "OK SEARCH done.",
    "OK Check completed.": "OK CHECK completed",
    "OK Idle completed.": "OK IDLE completed",
    "OK Expunge completed.": "OK EXPUNGE completed",
    "OK Close completed.": "OK mailbox closed.",
    "OK Enabled.": "OK Options enabled",
    "OK [COPYUID {} {} {}] Copy completed.": "OK [COPYUID {} {} {}] COPY completed.",
    "OK [APPENDUID {} {}] Append completed.": "OK [APPENDUID {} {}] APPEND Ok.",
    "BAD Error in IMAP command received by server.":
        "NO Error in IMAP command received by server.",
    "BAD Error in IMAP command {}: Unknown command.":
        "NO Error in IMAP command received by server.",
    "BAD Error in IMAP command UID {}: Unknown command.":
        "NO Error in IMAP command received by server.",
}

# Dovecot's reply -> Courier's POP3 server's; "CMD reply" keys apply to that command.
POP3_REPLIES = {
    "+OK Begin TLS negotiation now.": "+OK Begin SSL/TLS negotiation now.",
    "USER +OK": "+OK Password required.",
    "+OK Logged in.": "+OK logged in.",
    "-ERR [AUTH] Authentication failed.": "-ERR Login failed.",
    "-ERR No username given.": "-ERR USER/PASS required.",
    "QUIT +OK Logging out": "+OK Better luck next time.",
    "+OK Logging out.": "+OK Bye-bye.",
    "+OK Logging out, messages deleted.": "+OK Bye-bye.",
    "NOOP +OK": "+OK Yup.",
    "+OK Marked to be deleted.": "+OK Deleted.",
    "RSET +OK": "+OK Resurrected.",
    "+OK {} messages:": "+OK POP3 clients that break here, they violate STD53.",
    "+OK {} octets": "+OK {} octets follow.",
    "TOP +OK": "+OK headers follow.",
    "-ERR Unknown command.": "-ERR Invalid command.",
    "-ERR Unknown command: {}": "-ERR Invalid command.",
    "-ERR Message is deleted.": "-ERR Invalid message number.",
    "-ERR There's no message {}": "-ERR Invalid message number.",
    "-ERR Invalid message number: {}": "-ERR Invalid message number.",
}
CAPA_LINES = ("STLS", "TOP", "USER", "LOGIN-DELAY 10", "PIPELINING", "UIDL", "UTF8 USER",
              "IMPLEMENTATION Courier Mail Server")


def imap_capabilities(imap: ServiceSettings, env: dict[str, str]) -> FixedCapabilities:
    """Courier-IMAP's CAPABILITY before and after login, without and with TLS."""
    acl = env.get("IMAP_ACL", "1") not in ("", "0")

    def caps(tls: bool, logged_in: bool) -> str:
        words = (imap.capability_tls if tls and imap.capability_tls else
                 imap.capability or "IMAP4rev1").split()
        if acl:
            words += ACL_CAPABILITY.split()
        if not logged_in and not tls and imap.starttls:
            words.append("STARTTLS")
        if not logged_in and not tls and imap.tls_required:
            words.append("LOGINDISABLED")
        return " ".join(words + TAIL_CAPABILITY.split())

    return FixedCapabilities(prelogin=caps(False, False), prelogin_tls=caps(True, False),
                             postlogin=caps(False, True), postlogin_tls=caps(True, True))


def pop3_capa(pop3: ServiceSettings) -> bytes:
    """Courier's CAPA reply (``SASL`` only when ``POP3AUTH`` names mechanisms)."""
    lines = [line for line in CAPA_LINES if line != "STLS" or pop3.starttls]
    if pop3.auth.split():
        lines.insert(lines.index("PIPELINING"), "SASL " + " ".join(pop3.auth.split()))
    return ("+OK Here's what I can do:\r\n" + "".join(x + "\r\n" for x in lines)
            + ".\r\n").encode()


def dovecot_config(cs: CourierSettings, resolver: PathResolver) -> tuple[str, list[str]]:
    """The engines' configuration for Courier's settings, and warnings for the log."""
    warnings: list[str] = []
    protocols = [s for s in (cs.imap, cs.pop3) if s.start or s.ssl_start]
    lines = [f"protocols = {' '.join(s.protocol for s in protocols) or 'none'}",
             f"mail_location = maildir:~/{cs.imap.maildirpath}",
             "namespace inbox {", "  prefix = INBOX.", "  separator = .", "  inbox = yes", "}",
             "disable_plaintext_auth = no",
             "auth_mechanisms = plain login",
             "pop3_uidl_format = UID%u-%v"]
    tls_any = False
    blocks: list[str] = []
    for s in (cs.imap, cs.pop3):
        login = f"{s.protocol}-login"
        cert_ok = bool(s.tls_certfile) and os.path.isfile(resolver.real(s.tls_certfile))
        if (s.ssl_start or s.starttls) and not cert_ok:
            warnings.append(f"{s.protocol}: TLS_CERTFILE {s.tls_certfile or '(unset)'} does "
                            f"not exist: no TLS (make it with mk{s.protocol}dcert)")
        ssl = "no"
        if cert_ok and (s.ssl_start or s.starttls):
            ssl = "required" if s.tls_required else "yes"
            tls_any = True
        blocks += [f"protocol {s.protocol} {{", f"  ssl = {ssl}",
                   f"  mail_max_userip_connections = {s.maxperip}"]
        if ssl != "no":
            blocks += [f"  ssl_cert = <{s.tls_certfile}", f"  ssl_key = <{s.tls_certfile}"]
            if s.tls_protocol:
                blocks.append(f"  ssl_min_protocol = {s.tls_protocol.rstrip('+')}")
            if s.tls_cipher_list:
                blocks.append(f"  ssl_cipher_list = {s.tls_cipher_list}")
        blocks.append("}")
        plain_port = s.port if s.start else 0
        ssl_port = s.ssl_port if s.ssl_start and cert_ok else 0
        blocks += [f"service {login} {{", f"  process_limit = {s.maxdaemons}",
                   f"  inet_listener {s.protocol} {{", f"    port = {plain_port}"]
        if s.address not in ("", "0"):
            blocks.append(f"    address = {s.address}")
        blocks += ["  }", f"  inet_listener {s.protocol}s {{", f"    port = {ssl_port}"]
        if s.ssl_address not in ("", "0"):
            blocks.append(f"    address = {s.ssl_address}")
        blocks += ["    ssl = yes", "  }", "}"]
    lines.append(f"ssl = {'yes' if tls_any else 'no'}")
    return "\n".join(lines + blocks) + "\n", warnings


def imap_settings(base: ImapSettings, cs: CourierSettings) -> ImapSettings:
    """The IMAP engine's settings with Courier-IMAP's words."""
    return dataclasses.replace(
        base, login_greeting=GREETING, replies=Rewording(IMAP_REPLIES), reply_timing=False,
        fixed_capabilities=imap_capabilities(cs.imap, dict(cs.env["imap"])),
        login_capability_code=False, namespace_reply=NAMESPACE_REPLY,
        disabled_commands=NOT_IN_COURIER,
        disable_plaintext_auth=cs.imap.tls_required)


def pop3_settings(base: Pop3Settings, cs: CourierSettings) -> Pop3Settings:
    """The POP3 engine's settings with Courier's POP3 words."""
    return dataclasses.replace(
        base, login_greeting=POP3_GREETING, replies=Rewording(POP3_REPLIES),
        capa_reply=pop3_capa(cs.pop3), disable_plaintext_auth=cs.pop3.tls_required)


@dataclass
class CourierContext(LabContext):
    """A lab context whose logins go to authdaemon and whose mail is Courier's Maildir."""

    courier: CourierSettings | None = None

    def __post_init__(self) -> None:
        # No Dovecot passdbs: authdaemon (authmodulelist) answers every login, and no
        # auth_mechanisms check can keep it from starting.
        self.auth = None
        self.auth_fatal = None

    def secured(self, local_ip: str, remote_ip: str, tls: bool, protocol: str) -> bool:
        # Courier has no notion of a trusted local connection: only TLS counts.
        return tls

    def failure_delay(self, protocol: str) -> float:
        return FAILURE_DELAY

    def personalize(self, settings: Any) -> Any:
        assert self.courier is not None
        if isinstance(settings, ImapSettings):
            return imap_settings(settings, self.courier)
        return pop3_settings(settings, self.courier)

    async def authenticate(self, username: str, password: str | bytes, *, protocol: str,
                           local_ip: str, remote_ip: str, session: str, mech: str,
                           secured: bool, authzid: str = "") -> AuthResult:
        assert self.courier is not None
        text = password.decode("utf-8", "replace") if isinstance(password, bytes) \
            else password
        modules = self.courier.authmodulelist
        loop = asyncio.get_running_loop()
        info = await loop.run_in_executor(None, lambda: authdaemon.authenticate(
            self.resolver, modules, username, text, protocol))
        if info is None or (authzid and authzid != username):
            self.log.info(f"{protocol}d: ", f"LOGIN FAILED, user={username}, "
                                            f"ip=[{remote_ip}]")
            return AuthResult(False, None, PassdbResult.PASSWORD_MISMATCH,
                              failure="authfailed")
        self.log.info(f"{protocol}d: ", f"LOGIN, user={info.user}, ip=[{remote_ip}], "
                                        f"protocol={protocol.upper()}")
        fields = {"home": info.home, "uid": str(info.uid), "gid": str(info.gid)}
        if info.maildir:
            fields["mail"] = info.maildir
        return AuthResult(True, info.user, PassdbResult.OK, userdb_fields=fields)

    def storage_for(self, result: AuthResult) -> MailStorage:
        assert result.user is not None and self.courier is not None
        return open_storage(self.config, self.resolver, self.courier, result.user,
                            result.home or "", result.userdb_fields.get("mail", ""))


def open_storage(config: Config, resolver: PathResolver, cs: CourierSettings, user: str,
                 home: str, mail: str = "") -> CourierStorage:
    """A user's Courier Maildir: the one authdaemon names (``mail``), else
    ``$HOME/$MAILDIRPATH``, shown in the ``INBOX.`` namespace."""
    maildir = mail or f"{home.rstrip('/')}/{cs.imap.maildirpath}"
    location = parse_location(f"maildir:{maildir}", user=user, home=home,
                              values={"user": user, "home": home}, resolver=resolver)
    prefix, separator = "INBOX.", "."
    for ns in config.sections("namespace"):
        prefix = ns.values.get("prefix", prefix) or ""
        separator = ns.values.get("separator", separator) or "."
    storage = CourierStorage(location, resolver, Namespace(prefix=prefix, separator=separator,
                                                           inbox=True))
    storage.ensure_inbox()
    return storage

