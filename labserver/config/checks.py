"""Checks Dovecot runs on a configuration after reading it.

These are the settings checks doveconf reports as ``Error in configuration file
F: ...`` after printing the configuration (the file was read, but a value does not
make sense). Only the checks that a learner of this course can trigger are here,
each with Dovecot's words and conditions.

Dovecot checks the merged settings of every filter block (the global settings
first, then each ``protocol``/``local``/``remote`` block with the global values
under it), struct by struct in a fixed order: the first failing check is the one
reported. When doveconf prints the global settings it checks them once more and
reports the first failure of every struct (``global_errors()``).

Two checks depend on the machine: whether ``default_login_user`` and
``default_internal_user`` exist, and whether ``mail_plugin_dir`` is readable. The
lab imitates a server where Dovecot is installed, so these are only checked when
the configuration sets them explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import filters as flt

if TYPE_CHECKING:
    from .config import Config
    from .parser import FilterParser
    from .registry import Info
    from .store import Struct


@dataclass(eq=False)
class Node:
    """One struct of a filter's merged settings (a copy; checks may read it freely)."""

    info: Info
    values: dict[str, Any]
    changed: set[str]
    lists: dict[str, list[Node]] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def children(self, key: str) -> list[Node]:
        return self.lists.get(key, [])

    @property
    def name(self) -> str:
        key = self.info.unique_key
        return "" if key is None else str(self.values.get(key) or "")


# Dovecot's own order of its built-in services (the order of its source files); the
# checks look at services in this order, then at those the configuration adds.
BUILTIN_SERVICE_ORDER = (
    "tcpwrap", "health-check", "submission", "submission-login", "stats", "replicator",
    "aggregator", "pop3", "pop3-login", "old-stats", "log", "lmtp", "ipc", "indexer-worker",
    "indexer", "imap", "imap-urlauth-worker", "imap-urlauth", "imap-urlauth-login",
    "imap-login", "imap-hibernate", "doveadm", "dns-client", "director", "dict", "dict-async",
    "config", "auth", "auth-worker", "anvil",
)
_BUILTIN_RANK = {name: i for i, name in enumerate(BUILTIN_SERVICE_ORDER)}


def _copy(struct: Struct | Node) -> Node:
    node = Node(info=struct.info, values=dict(struct.values), changed=set(struct.changed))
    for key, children in struct.lists.items():
        ldef = struct.info.lists.get(key)
        if ldef is None or ldef.kind == "strlist":
            continue
        if isinstance(children, dict):
            items = list(children.items())
            if key == "service" and struct.info.unique_key is None:
                ranks = [_BUILTIN_RANK.get(name, len(_BUILTIN_RANK) + i)
                         for i, (name, _) in enumerate(items)]
                items = [item for _, item in sorted(zip(ranks, items, strict=True),
                                                    key=lambda pair: pair[0])]
            node.lists[key] = [_copy(child) for _, child in items]
        else:
            node.lists[key] = [_copy(child) for child in children]
    return node


def _apply(dest: Node, src: Node) -> None:
    """Add the settings ``src`` changed and ``dest`` did not (settings_apply)."""
    for key in src.changed:
        if key not in dest.changed:
            dest.values[key] = src.values[key]
            dest.changed.add(key)
    for key, children in src.lists.items():
        ldef = dest.info.lists[key]
        target = dest.lists.setdefault(key, [])
        for child in children:
            if ldef.kind == "deflist_unique" and child.name != "":
                same = next((c for c in target if c.name == child.name), None)
                if same is not None:
                    _apply(same, child)
                    continue
            target.append(_copy(child))


def merged(config: Config, parser: FilterParser) -> Node:
    """The settings Dovecot checks for one filter block: its own over the wider ones.

    Computed once per configuration and filter (the checks only read it).
    """
    cache = config.cache.setdefault("checks.merged", {})
    key = id(parser)
    if key not in cache:
        found = [p for p in config.filter_parsers if flt.match(p.filter, parser.filter)]
        found.sort(key=lambda p: flt.specificity(p.filter))
        root = _copy(found[0].store.root)
        for other in found[1:]:
            _apply(root, _copy(other.store.root))
        cache[key] = root
    return cache[key]


def _words(value: str, separators: str = " ") -> list[str]:
    for sep in separators[1:]:
        value = value.replace(sep, separators[0])
    return [w for w in value.split(separators[0]) if w]


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unknown_word(setting: str, value: str, known: tuple[str, ...],
                  what: str = "workaround") -> str | None:
    for word in _words(value, " ,"):
        if word.lower() not in known:
            return f"{setting}: Unknown {what}: {word}"
    return None


# -- master_service (lib-master) ------------------------------------------------

SYSLOG_FACILITIES = (
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
    "uucp", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
)


def _master_service(root: Node, config: Config) -> str | None:
    if root["syslog_facility"] not in SYSLOG_FACILITIES:
        return f"Unknown syslog_facility: {root['syslog_facility']}"
    return None


# -- ssl (lib-master, built without doveconf's ssl_cert/ssl_key checks) ---------

SSL_OPTIONS = ("compression", "no_compression", "no_ticket")


def _ssl(root: Node, config: Config) -> str | None:
    if root["ssl"] == "no":
        return None
    if root["ssl_verify_client_cert"] and root["ssl_ca"] == "":
        return "ssl_verify_client_cert set, but ssl_ca not"
    for opt in _words(root["ssl_options"], " ,"):
        if opt.lower() not in SSL_OPTIONS:
            return f"ssl_options: unknown flag: '{opt}'"
    return None


# -- auth -----------------------------------------------------------------------

def _verbose_passwords(value: str) -> str | None:
    word, colon, count = value.partition(":")
    if colon and not (count.isascii() and count.isdigit() and int(count) > 0
                      and int(count) < 2**32):
        return f"auth_verbose_passwords: Invalid truncation number: '{count}'"
    if word not in ("no", "plain", "sha1", "yes"):
        return "auth_verbose_passwords: Invalid value"
    return None


def _auth(root: Node, config: Config) -> str | None:
    if root["auth_worker_max_count"] == 0:
        return "auth_worker_max_count must be above zero"
    size = root["auth_cache_size"]
    if 0 < size < 1024:
        return f"auth_cache_size value is too small ({size} bytes)"
    error = _verbose_passwords(root["auth_verbose_passwords"])
    if error is not None:
        return error
    if root["auth_policy_server_url"] != "" and root["auth_policy_hash_nonce"] == "":
        return "auth_policy_hash_nonce must be set when policy server is used"
    for passdb in root.children("passdb"):
        if passdb["driver"] == "":
            return "passdb is missing driver"
        if passdb["pass"] and passdb["result_success"] != "return-ok":
            return "Obsolete pass=yes setting mixed with non-default result_success"
    for userdb in root.children("userdb"):
        if userdb["driver"] == "":
            return "userdb is missing driver"
    return None


# -- doveadm ----------------------------------------------------------------------

def _doveadm(root: Node, config: Config) -> str | None:
    if root["dsync_hashed_headers"] == "":
        return "dsync_hashed_headers must not be empty"
    if root["dsync_alt_char"] == "":
        return "dsync_alt_char must not be empty"
    return _unknown_word("dsync_features", root["dsync_features"],
                         ("empty-header-workaround",), what="feature")


# -- imap, lmtp, pop3, submission --------------------------------------------------

def _imap(root: Node, config: Config) -> str | None:
    return _unknown_word("imap_client_workarounds", root["imap_client_workarounds"],
                         ("delay-newmail", "tb-extra-mailbox-sep", "tb-lsub-flags"))


def _lmtp(root: Node, config: Config) -> str | None:
    return _unknown_word("lmtp_client_workarounds", root["lmtp_client_workarounds"],
                         ("whitespace-before-path", "mailbox-for-path"))


def _pop3(root: Node, config: Config) -> str | None:
    error = _unknown_word("pop3_client_workarounds", root["pop3_client_workarounds"],
                          ("outlook-no-nuls", "oe-ns-eoh"))
    if error is not None:
        return error
    if root["pop3_delete_type"] == "flag" and root["pop3_deleted_flag"] == "":
        return "pop3_delete_type=flag, but pop3_deleted_flag not set"
    return None


def _submission(root: Node, config: Config) -> str | None:
    return _unknown_word("submission_client_workarounds",
                         root["submission_client_workarounds"],
                         ("whitespace-before-path", "mailbox-for-path",
                          "implicit-auth-external", "exotic-backend"))


# -- mail storage -------------------------------------------------------------------

_VAR_MODIFIERS = "LUEXRHNMDT"


def _var_key(text: str) -> str:
    """The variable letter after a '%' (var_get_key): '{' for a long name, '' at the end."""
    i = 0
    while i < len(text) and (text[i].isdigit() and text[i].isascii() or text[i] == "-"):
        i += 1
    if i < len(text) and text[i] == ".":
        i += 1
        while i < len(text) and (text[i].isdigit() and text[i].isascii() or text[i] == "-"):
            i += 1
    while i < len(text) and text[i] in _VAR_MODIFIERS:
        i += 1
    return text[i] if i < len(text) else ""


def _uidl_format(value: str) -> str | None:
    ok = False
    p = 0
    while p < len(value):
        if value[p] != "%" or p + 1 == len(value):
            p += 1
            continue
        p += 1
        key = _var_key(value[p:])
        if key in ("v", "u", "m", "f", "g"):
            ok = True
        elif key != "%":
            # a NUL from the end of the string ends Dovecot's message
            return f"Unknown pop3_uidl_format variable: %{key}"
        p += 1
    if not ok:
        return "pop3_uidl_format setting doesn't contain any %% variables."
    return None


ATTACHMENT_OPTIONS = ("add-flags", "add-flags-on-save", "no-flags-on-fetch", "exclude-inlined")


def _header_name_ok(name: str) -> bool:
    return all(33 <= ord(c) <= 126 and c != ":" for c in name)


def _mail_storage(root: Node, config: Config) -> str | None:
    if root["mailbox_idle_check_interval"] == 0:
        return "mailbox_idle_check_interval must not be 0"
    if root["mail_nfs_index"] and not root["mmap_disable"]:
        return "mail_nfs_index=yes requires mmap_disable=yes"
    if root["mail_nfs_index"] and root["mail_fsync"] != "always":
        return "mail_nfs_index=yes requires mail_fsync=always"
    if root["mail_cache_max_size"] > 1024 * 1024 * 1024:
        return "mail_cache_max_size can't be over 1 GB"
    if root["mail_cache_purge_delete_percentage"] > 100:
        return "mail_cache_purge_delete_percentage can't be over 100"
    error = _uidl_format(root["pop3_uidl_format"])
    if error is not None:
        return error
    if "/" in root["mail_attachment_hash"]:
        return "mail_attachment_hash setting must not contain '/' characters"
    for opt in _words(root["mail_attachment_detection_options"]):
        if opt not in ATTACHMENT_OPTIONS and not opt.startswith("content-type="):
            return f"mail_attachment_detection_options: Unknown option: {opt}"
    for key in ("mail_cache_fields", "mail_always_cache_fields", "mail_never_cache_fields"):
        for name in _words(root[key], " ,"):
            if name[:4].lower() == "hdr." and not _header_name_ok(name[4:]):
                return f"Invalid {key}: {name} is not a valid header name"
    return None


SPECIAL_USES = ("all", "archive", "drafts", "flagged", "important", "junk", "sent", "trash")


def _mailbox(box: Node) -> str | None:
    if not _is_utf8(box["name"]):
        return f"mailbox {box['name']}: name isn't valid UTF-8"
    for use in _words(box["special_use"]):
        if not (use.startswith("\\") and use[1:].lower() in SPECIAL_USES):
            return f"mailbox {box['name']}: unknown special_use: {use}"
    return None


def _namespace(ns: Node, namespaces: list[Node]) -> str | None:
    prefix = ns["prefix"] or ""
    if len(ns["separator"]) > 1:
        return f"Namespace '{prefix}': Hierarchy separator must be only one character long"
    if not _is_utf8(prefix):
        return f"Namespace prefix not valid UTF8: {prefix}"
    if "alias_for" in ns.changed and not ns["disabled"]:
        alias = ns["alias_for"] or ""
        target = next((n for n in namespaces if (n["prefix"] or "") == alias), None)
        if target is None:
            return f"Namespace '{prefix}': alias_for points to unknown namespace: {alias}"
        if "alias_for" in target.changed:
            return (f"Namespace '{prefix}': alias_for chaining isn't allowed: {alias} -> "
                    f"{target['alias_for'] or ''}")
    return None


def _mail_user(root: Node, config: Config) -> str | None:
    if root["mail_plugins"] != "" and "mail_plugin_dir" in root.changed:
        path = root["mail_plugin_dir"]
        real = config.resolver.real(path)
        try:
            os.stat(real)
            ok = os.access(real, os.R_OK | os.X_OK)
            reason = "Permission denied"
        except OSError as exc:
            ok = False
            reason = exc.strerror or str(exc)
        if not ok:
            return f"mail_plugin_dir: access({path}) failed: {reason}"
    namespaces = root.children("namespace")
    for ns in namespaces:
        error = _namespace(ns, namespaces)
        if error is not None:
            return error
        for box in ns.children("mailbox"):
            error = _mailbox(box)
            if error is not None:
                return error
    return None


# -- master (services) -------------------------------------------------------------

SERVICE_TYPES = ("", "log", "config", "anvil", "login", "startup", "worker")
# services that Dovecot builds with process_limit_1
SINGLE_PROCESS_SERVICES = (
    "anvil", "auth", "director", "indexer", "ipc", "log", "old-stats", "replicator",
)


def _user_exists(name: str) -> bool:
    try:
        import pwd
    except ImportError:  # pragma: no cover - not a POSIX system
        return True
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _protocols_split(root: Node) -> list[str]:
    protocols = _words(root["protocols"])
    return [] if protocols == ["none"] else protocols


def _enabled_services(root: Node) -> list[Node]:
    protocols = _protocols_split(root)
    return [s for s in root.children("service")
            if s["protocol"] == "" or s["protocol"] in protocols]


def _master_services(root: Node, warnings: list[str] | None = None) -> str | list[str]:
    """master_settings_verify up to its load warnings: an error or the listeners."""
    if root["listen"] == "":
        return "listen can't be set empty"
    if root["last_valid_uid"] != 0 and root["first_valid_uid"] > root["last_valid_uid"]:
        return "first_valid_uid can't be larger than last_valid_uid"
    if root["last_valid_gid"] != 0 and root["first_valid_gid"] > root["last_valid_gid"]:
        return "first_valid_gid can't be larger than last_valid_gid"
    for key in ("default_login_user", "default_internal_user"):
        if key in root.changed and not _user_exists(root[key]):
            return f"{key} doesn't exist: {root[key]}"
    services = root.children("service")
    if not services:
        return "No services defined"
    for i, service in enumerate(services):
        if service["name"] == "":
            return f"Service #{i} is missing name"
        if service["type"] not in SERVICE_TYPES:
            return f"Unknown service type: {service['type']}"
        if any(other["name"] == service["name"] for other in services[:i]):
            return f"Duplicate service name: {service['name']}"
    have = {s["protocol"] for s in services}
    for proto in _protocols_split(root):
        if proto not in have:
            return f"protocols: Unknown protocol: {proto}"
    base_dir = root["base_dir"]
    if base_dir.endswith("/"):
        base_dir = base_dir[:-1]
    listeners: list[str] = []
    for service in _enabled_services(root):
        name = service["name"]
        chroot = service["chroot"]
        if service["drop_priv_before_exec"] and chroot != "":
            return f"service({name}): drop_priv_before_exec=yes can't be used with chroot"
        process_limit = service["process_limit"] or root["default_process_limit"]
        if service["process_min_avail"] > process_limit:
            return f"service({name}): process_min_avail is higher than process_limit"
        if 0 < service["vsz_limit"] < 1024 * 1024:
            return f"service({name}): vsz_limit is too low"
        if name in SINGLE_PROCESS_SERVICES and process_limit > 1:
            return f"service({name}): process_limit must be 1"
        for kind in ("unix_listener", "fifo_listener"):
            for listener in service.children(kind):
                path = listener["path"]
                if path == "":
                    return f"service({name}): {kind}: path must not be empty"
                if not path.startswith("/"):
                    path = f"{base_dir}/{path}"
                elif path.startswith(base_dir + "/") and warnings is not None:
                    warnings.append("You should remove base_dir prefix from unix_listener: "
                                    + path)
                if listener["mode"] != 0:
                    listeners.append(path)
        for listener in service.children("inet_listener"):
            if listener["port"] != 0:
                listeners.append(f"{listener['port']}:{listener['address']}")
    return listeners


def _master(root: Node, config: Config) -> str | None:
    listeners = _master_services(root)
    if isinstance(listeners, str):
        return listeners
    listeners.sort(key=lambda s: s.encode("utf-8", "surrogateescape"))
    for prev, cur in zip(listeners, listeners[1:], strict=False):
        if prev == cur:
            return f"duplicate listener: {cur}"
    return None


def _client_limit(root: Node, name: str) -> int:
    for service in root.children("service"):
        if service["name"] == name:
            return int(service["client_limit"] or root["default_client_limit"])
    return int(root["default_client_limit"])


def service_warnings(root: Node) -> list[str]:
    """The load warnings master_settings_verify prints for one filter's settings.

    Dovecot prints each of the two at most once per run, the first time a filter's
    check gets that far.
    """
    auth_need, anvil_need = 0, 2  # anvil: its blocking and nonblocking pipes
    auth_why: list[str] = []
    anvil_why: list[str] = []
    for service in _enabled_services(root):
        name = service["name"]
        limit = service["process_limit"] or root["default_process_limit"]
        text = f"service {name} {{ process_limit={limit} }}"
        if service["protocol"] != "" and name != "imap-hibernate" and (
            service["service_count"] != 1 or service["type"] == "login"
        ):
            auth_need += limit
            auth_why.append(text)
        if service["type"] == "login" or name == "auth":
            anvil_need += limit
            anvil_why.append(text)
    out = []
    limit = _client_limit(root, "auth")
    if limit < auth_need:
        out.append(f"service auth {{ client_limit={limit} }} is lower than required under "
                   f"max. load ({auth_need}). Counted for protocol services with "
                   f"service_count != 1: {' + '.join(auth_why)}")
    limit = _client_limit(root, "anvil")
    if limit < anvil_need:
        out.append(f"service anvil {{ client_limit={limit} }} is lower than required under "
                   f"max. load ({anvil_need}). Counted with: {' + '.join(anvil_why)}")
    return out


Check = Callable[[Node, "Config"], "str | None"]

# One entry per settings struct, in the order doveconf checks them (all_roots: the
# lib-master and smtp-submit structs, then the others sorted by their C name).
CHECKS: list[tuple[str, Check]] = [
    ("master_service", _master_service),
    ("master_service_ssl", _ssl),
    ("auth", _auth),
    ("doveadm", _doveadm),
    ("imap", _imap),
    ("lmtp", _lmtp),
    ("mail_storage", _mail_storage),
    ("mail_user", _mail_user),
    ("master", _master),
    ("pop3", _pop3),
    ("submission_login", _submission),
    ("submission", _submission),
]


def _filter_errors(config: Config, root: Node, every_struct: bool) -> list[str]:
    errors = []
    for _, check in CHECKS:
        error = check(root, config)
        if error is not None:
            errors.append(error)
            if not every_struct:
                break
    return errors


def global_errors(config: Config) -> list[str]:
    """What doveconf reports as ``Error:`` after printing: each struct's first failure."""
    return _filter_errors(config, merged(config, config.filter_parsers[0]), True)


def _master_warnings(root: Node, seen: set[str]) -> list[str]:
    found: list[str] = []
    if not isinstance(_master_services(root, found), str):
        for text in service_warnings(root):
            kind = text.split(" ", 2)[1]
            if kind not in seen:
                seen.add(kind)
                found.append(text)
    return found


def warnings(config: Config) -> tuple[list[str], list[str]]:
    """The warnings the checks print: while the file is read, and while printing it.

    Reading checks filter by filter until the first error (before any output);
    printing checks the global settings once more, every struct. The ``base_dir``
    prefix warning comes every time the master struct is checked, each service
    load warning only the first time the check gets that far.
    """
    seen: set[str] = set()
    reading: list[str] = []
    for parser in config.filter_parsers:
        root = merged(config, parser)
        failed = False
        for struct, check in CHECKS:
            if struct == "master":
                reading.extend(_master_warnings(root, seen))
            if check(root, config) is not None:
                failed = True
                break
        if failed:
            break
    printing = _master_warnings(merged(config, config.filter_parsers[0]), seen)
    return reading, printing


def first_error(config: Config, global_only: bool = False) -> str | None:
    """The first error Dovecot's settings checks would report, if any.

    ``global_only`` checks only the global settings, as doveconf's output pass does;
    otherwise every filter's merged settings are checked, as when the file is read.
    """
    if global_only:
        errors = global_errors(config)
        return errors[0] if errors else None
    for parser in config.filter_parsers:
        errors = _filter_errors(config, merged(config, parser), False)
        if errors:
            return errors[0]
    return None
