"""Settings from Dovecot 1.x and 2.0-2.2 that 2.3 still recognises and converts.

Old guides, and the LPIC-2 study material this course follows, show settings such
as ``ssl_protocols = !SSLv2 !SSLv3``, ``ssl_dh_parameters_length = 2048``,
``protocols = imap imaps pop3s`` and the 1.x ``auth default { mechanisms = ... }``
block. Dovecot 2.3 converts each of them with a warning ("Obsolete setting in
F:L: ...") instead of refusing the file; the lab does the same, with the same
words, so that a learner pasting an old snippet sees what changed and what the
modern spelling is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lexer import LineType, Token
from .store import section_escape

if TYPE_CHECKING:
    from .parser import ParseContext

from . import filters as flt

_IMAP = flt.Filter(service="imap")
_POP3 = flt.Filter(service="pop3")
_SIEVE = flt.Filter(service="sieve")

_PROTOCOL_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")

_REMOVED = frozenset([
    "login_dir", "dbox_rotate_min_size", "dbox_rotate_days", "director_consistent_hashing",
    "mail_log_max_lines_per_sec", "maildir_copy_preserve_filename",
])

_LOGIN_SETTINGS = {
    "login_user": "user",
    "login_executable": "executable",
    "login_processes_count": "process_min_avail",
    "login_max_processes_count": "process_limit",
    "login_max_connections": "client_limit",
}


def ssl_protocols_to_min_protocol(value: str) -> str:
    """Translate a 2.2 ``ssl_protocols`` list to the 2.3 ``ssl_min_protocol``."""
    protos = dict.fromkeys(_PROTOCOL_VERSIONS, 0)
    explicit_enable = False
    for word in value.replace(",", " ").split():
        enable = not word.startswith("!")
        name = word if enable else word[1:]
        if name not in protos:
            raise ValueError(f"Unrecognized protocol '{name}'")
        protos[name] = 1 if enable else -1
        explicit_enable = explicit_enable or enable
    for name in _PROTOCOL_VERSIONS:
        if (explicit_enable and protos[name] > 0) or (not explicit_enable and protos[name] == 0):
            return name
    raise ValueError("All protocols disabled")


def _listen_has_port(value: str) -> bool:
    import ipaddress

    if ":" not in value:
        return False
    for addr in value.replace(",", " ").split():
        if addr in ("*", "::", "[::]"):
            continue
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            return True
    return False


class OldSettings:
    """The state Dovecot's old-set-parser keeps while one file is read."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.base_dir = "/run/dovecot"
        self.auth_section = 0
        self.socket_listen_section = 0
        self.seen_auth_section = False
        self.socket: dict[str, str | bool] = {}
        self.seen_obsoletes = False

    # -- helpers ------------------------------------------------------------

    def obsolete(self, text: str) -> None:
        ctx = self.ctx
        if not self.seen_obsoletes:
            ctx.warn("NOTE: You can get a new clean config file with: "
                     "doveconf -Pn > dovecot-new.conf")
            self.seen_obsoletes = True
        ctx.warn(f"Obsolete setting in {ctx.cur_input.path}:{ctx.cur_input.linenum}: {text}")

    def _apply(self, tok_type: LineType, key: str, value: str) -> None:
        self.ctx.apply_token(Token(tok_type, key, value))

    def _raw(self, key: str, line: str, ignore_error: bool = False) -> None:
        self.ctx.apply(key, line)
        if ignore_error:
            self.ctx.error = None

    def _rename(self, old: str, new: str, value: str) -> None:
        self.obsolete(f"{old} has been renamed to {new}")
        self._apply(LineType.KEYVALUE, new, value)

    # -- dispatch -----------------------------------------------------------

    def handle(self, tok: Token) -> bool:
        """True when the line was consumed here (converted or dropped)."""
        ctx = self.ctx
        t = tok.type
        if t is LineType.KEYVALUE:
            if ctx.prefix == "":
                saved = ctx.cur
                try:
                    if self._proto(tok.key, tok.value):
                        return True
                finally:
                    ctx.cur = saved
                return self._root(tok.key, tok.value)
            return self._path(tok.key, tok.value)
        if t is LineType.SECTION_BEGIN:
            if self.auth_section > 0:
                return self._auth_section(tok.key, tok.value)
            if ctx.prefix == "" and tok.key == "auth":
                self.obsolete("add auth_ prefix to all settings inside auth {} and remove "
                              "the auth {} section completely")
                self.auth_section = 1
                return True
            if ctx.prefix == "" and tok.key == "protocol" and tok.value == "managesieve":
                self.obsolete("protocol managesieve {} has been replaced by protocol sieve { }")
                self._apply(LineType.SECTION_BEGIN, "protocol", "sieve")
                return True
            if ctx.prefix == "" and tok.key == "service" and tok.value == "dns_client":
                self.obsolete("service dns_client {} has been replaced by service dns-client { }")
                self._apply(LineType.SECTION_BEGIN, "service", "dns-client")
                return True
            return False
        if t is LineType.SECTION_END:
            if self.auth_section > 0:
                self.auth_section -= 1
                if self.auth_section == 0:
                    return True
            if self.socket_listen_section > 0:
                if self.socket_listen_section == 2:
                    self._socket_apply()
                self.socket_listen_section -= 1
                return True
        return False

    # -- root-level settings ----------------------------------------------------

    def _root(self, key: str, value: str) -> bool:
        if key == "base_dir":
            self.base_dir = value[:-1] if value.endswith("/") else value
        if key == "protocols":
            self._protocols(key, value)
            return True
        if key in ("ssl_cert_file", "ssl_key_file", "ssl_ca_file"):
            if value == "":
                return True
            new = key.rsplit("_", 1)[0]
            self.obsolete(f"{key} has been replaced by {new} = <file")
            self._apply(LineType.KEYFILE, new, value)
            return True
        if key == "ssl_disable":
            flipped = {"yes": "no", "no": "yes"}.get(value.lower(), value)
            self._rename(key, "ssl", flipped)
            return True
        if key in ("ssl_parameters_regenerate", "ssl_dh_parameters_length"):
            self.obsolete(f"{key} is no longer needed")
            return True
        if key == "ssl_protocols":
            self.obsolete(f"{key} has been replaced by ssl_min_protocol")
            try:
                minimum = ssl_protocols_to_min_protocol(value)
            except ValueError as exc:
                self.ctx.log_error("Could not find a minimum ssl_min_protocol setting from "
                                   f"ssl_protocols = {value}: {exc}")
                return True
            self._apply(LineType.KEYVALUE, "ssl_min_protocol", minimum)
            return True
        if key in ("sieve", "sieve_storage"):
            if key == "sieve_storage":
                self.obsolete("sieve_storage has been moved into plugin { sieve_dir }")
            else:
                self.obsolete(f"{key} has been moved into plugin {{}} section")
            self._raw("", "plugin=")
            self._raw(key, f"plugin/{key}={value}")
            return True
        if key == "fsync_disable":
            mapped = {"yes": "never", "no": "optimized"}.get(value.lower(), value)
            self._rename(key, "mail_fsync", mapped)
            return True
        if key == "dbox_rotate_size":
            self._rename(key, "mdbox_rotate_size", value)
            return True
        if key.startswith("mail_cache_compress_"):
            self._rename(key, "mail_cache_purge_" + key[len("mail_cache_compress_"):], value)
            return True
        if key == "imap_client_workarounds":
            words = value.replace(",", " ").split()
            kept = []
            for word in words:
                if word == "outlook-idle":
                    self.obsolete("imap_client_workarounds=outlook-idle is no longer necessary")
                    kept.append("")
                elif word == "netscape-eoh":
                    self.obsolete("imap_client_workarounds=netscape-eoh is no longer supported")
                    kept.append("")
                else:
                    kept.append(word)
            self._apply(LineType.KEYVALUE, key, " ".join(kept))
            return True
        if key in _REMOVED:
            self.obsolete(f"{key} has been removed")
            return True
        if self.auth_section == 1:
            if not key.startswith("auth_"):
                key = "auth_" + key
            self._apply(LineType.KEYVALUE, key, value)
            return True
        return False

    def _protocols(self, key: str, value: str) -> None:
        words = value.split()
        have = {w: w in words for w in ("imap", "imaps", "pop3", "pop3s")}
        out = []
        for w in words:
            if w in ("imaps", "pop3s"):
                continue
            if w == "managesieve":
                self.obsolete("protocols=managesieve has been renamed to protocols=sieve")
                w = "sieve"
            out.append(w)
        value = " ".join(out)
        for proto in ("imap", "pop3"):
            if have[proto + "s"] and not have[proto]:
                self.obsolete(
                    f"'{proto}s' protocol can no longer be specified (use protocols={proto}). "
                    f"to disable non-ssl {proto}, use service {proto}-login {{ inet_listener "
                    f"{proto} {{ port=0 }} }}")
                value = f"{value} {proto}"
                self._raw("port", f"service/{proto}-login/inet_listener/{proto}/port=0")
            elif have[proto + "s"]:
                self.obsolete(f"'{proto}s' protocol is no longer necessary, remove it")
        if value.startswith(" "):
            value = value[1:]
        self._apply(LineType.KEYVALUE, key, value)

    # -- settings that moved into service {} blocks ------------------------------

    def _proto(self, key: str, value: str) -> bool:
        ctx = self.ctx
        old = ctx.section
        root = old
        while root.prev is not None:
            root = root.prev
        ctx.cur = root
        mask = old.filter
        is_root = flt.match(mask, flt.Filter())
        if key == "ssl_listen" or (key == "listen" and (_listen_has_port(value) or not is_root)):
            return self._listen(key, value, mask, is_root)
        if key == "login_chroot":
            self._login_set(mask, key, "chroot", "" if value == "no" else "login")
            return True
        if key in _LOGIN_SETTINGS:
            self._login_set(mask, key, _LOGIN_SETTINGS[key], value)
            return True
        if key == "login_process_size":
            self._login_set(mask, key, "vsz_limit", f"{value} M")
            return True
        if key == "login_process_per_connection":
            self._login_set(mask, key, "service_count", "0" if value == "no" else "1")
            return True
        mail = {"max_mail_processes": "process_limit", "mail_executable": "executable",
                "mail_drop_priv_before_exec": "drop_priv_before_exec"}
        if key in mail:
            self._mail_set(mask, key, mail[key], value)
            return True
        if key == "mail_process_size":
            self._mail_set(mask, key, "vsz_limit", f"{value} M")
            return True
        if self.auth_section == 1 and not key.startswith("auth_"):
            key = "auth_" + key
        auth = {"auth_executable": "executable", "auth_user": "user", "auth_chroot": "chroot"}
        if key in auth:
            self._auth_set(key, auth[key], value)
            return True
        if key == "auth_process_size":
            self._auth_set(key, "vsz_limit", f"{value} M")
            return True
        if key == "auth_cache_size" and value.isdigit() and 0 < int(value) < 1024:
            self.obsolete(f"auth_cache_size value no longer defaults to megabytes. Use {value}M")
            self._raw(key, f"{key}={value}M")
            return True
        if key == "auth_count":
            if value == "count":
                self.obsolete("auth_count has been removed")
            else:
                self.obsolete("auth_count has been removed, and its value must be 1")
            return True
        if self.socket_listen_section == 2 and key in ("path", "mode", "user", "group"):
            self.socket[key] = value
            return True
        return False

    def _listen(self, key: str, value: str, mask: flt.Filter, is_root: bool) -> bool:
        ssl = "s" if key == "ssl_listen" else ""
        if value == "":
            return True
        if ":" in value and _listen_has_port(value):
            self.obsolete(f"{key}=..:port has been replaced by service {{ inet_listener "
                          "{ port } }")
            value, _, port = value.rpartition(":")
            if flt.match(mask, _IMAP):
                self._raw("port", f"service/imap-login/inet_listener/imap{ssl}/port={port}")
            if flt.match(mask, _POP3):
                self._raw("port", f"service/pop3-login/inet_listener/pop3{ssl}/port={port}")
            if ssl == "" and flt.match(mask, _SIEVE):
                self._raw("port", "service/managesieve-login/inet_listener/managesieve/"
                          f"port={port}", ignore_error=True)
        if is_root and ssl == "":
            self._apply(LineType.KEYVALUE, key, value)
            return True
        self.obsolete(f"protocol {{ {key} }} has been replaced by service {{ inet_listener "
                      "{ address } }")
        if flt.match(mask, _IMAP):
            self._raw("address", f"service/imap-login/inet_listener/imap{ssl}/address={value}")
        if flt.match(mask, _POP3):
            self._raw("address", f"service/pop3-login/inet_listener/pop3{ssl}/address={value}")
        if ssl == "" and flt.match(mask, _SIEVE):
            self._raw("address", "service/managesieve-login/inet_listener/managesieve/"
                      f"address={value}", ignore_error=True)
        return True

    def _login_set(self, mask: flt.Filter, old: str, key: str, value: str) -> None:
        self.obsolete(f"{old} has been replaced by service {{ {key} }}")
        if flt.match(mask, _IMAP):
            self._raw(key, f"service/imap-login/{key}={value}")
        if flt.match(mask, _POP3):
            self._raw(key, f"service/pop3-login/{key}={value}")
        if flt.match(mask, _SIEVE):
            self._raw(key, f"service/managesieve-login/{key}={value}", ignore_error=True)

    def _mail_set(self, mask: flt.Filter, old: str, key: str, value: str) -> None:
        self.obsolete(f"{old} has been replaced by service {{ {key} }}")
        if flt.match(mask, _IMAP):
            self._raw(key, f"service/imap/{key}={value}")
        if flt.match(mask, _POP3):
            self._raw(key, f"service/pop3/{key}={value}")
        if flt.match(mask, _SIEVE):
            self._raw(key, f"service/managesieve/{key}={value}", ignore_error=True)

    def _auth_set(self, old: str, key: str, value: str) -> None:
        self.obsolete(f"{old} has been replaced by service auth {{ {key} }}")
        self._raw(key, f"service/auth/{key}={value}")

    # -- the 1.x auth {} section --------------------------------------------------

    def _auth_section(self, key: str, value: str) -> bool:
        if self.auth_section == 0 and self.seen_auth_section:
            self.obsolete("Multiple auth sections are no longer supported")
            return False
        self.seen_auth_section = True
        self.socket = {}
        self.auth_section += 1
        if key in ("passdb", "userdb") and self.auth_section == 2:
            self.obsolete(f"{key} {value} {{}} has been replaced by {key} {{ driver={value} }}")
            self._apply(LineType.SECTION_BEGIN, key, "")
            self._apply(LineType.KEYVALUE, "driver", value)
            return True
        if key == "socket" and self.auth_section == 2:
            if value == "connect":
                self.obsolete("socket connect {} is no longer supported, configure external "
                              "auth server separately")
                return False
            if value != "listen":
                return False
            self.socket_listen_section += 1
            return True
        if self.socket_listen_section > 0:
            self.socket_listen_section += 1
        if key in ("master", "client") and self.socket_listen_section == 2:
            self.socket["master"] = key == "master"
            return True
        return False

    def _socket_apply(self) -> None:
        ctx = self.ctx
        path = self.socket.get("path")
        if not isinstance(path, str):
            ctx.error = "socket listen {} is missing path"
            return
        if path.startswith(self.base_dir) and path[len(self.base_dir):].startswith("/"):
            path = path[len(self.base_dir) + 1:]
        master_suffix = len(path) >= 7 and path[-7:] in ("-master", "-userdb")
        if self.socket.get("master") and not master_suffix:
            ctx.error = ("socket listen { master { path=.. } } must end with -master "
                         "(or -userdb) suffix")
            return
        if not self.socket.get("master") and master_suffix:
            ctx.error = ("socket listen { client { path=.. } } must end not with -master "
                         "or -userdb suffix")
            return
        name = section_escape(path)
        ctx.apply("unix_listener", f"service/auth/unix_listener={name}", path)
        prefix = f"service/auth/unix_listener/{name}"
        for field in ("mode", "user", "group"):
            if field in self.socket:
                ctx.apply(field, f"{prefix}/{field}={self.socket[field]}")
        self.socket = {}

    # -- settings inside sections -------------------------------------------------

    def _path(self, key: str, value: str) -> bool:
        if self.ctx.prefix == "plugin/0/" and key == "imap_zlib_compress_level":
            self.obsolete(f"{key} has been replaced by imap_compress_deflate_level")
            self._raw(key, f"plugin/0/imap_compress_deflate_level={value}")
            return True
        return False
