"""``mail_location``: which mailbox format, and where, as Dovecot 2.3 reads it.

The setting is ``[<driver>:]<root>[:KEY=VALUE...]``, for example
``maildir:~/Maildir``, ``mbox:~/mail:INBOX=/var/mail/%u`` or
``maildir:~/Maildir:LAYOUT=fs:INDEX=/var/index/%u``. The rules, from
src/lib-storage/mail-storage.c (``mail_storage_create_full()``,
``mail_storage_set_autodetection()``, ``mail_storage_get_class()``) and
mailbox-list.c (``mailbox_list_settings_parse_full()``, ``fix_path()``):

- ``%`` variables are expanded first (the lab's shared expander);
- a driver is a leading run of letters, digits and ``_`` followed by ``:``;
  without one the value is a root path and the format is autodetected;
- the rest is split at ``:``; ``::`` stands for a literal colon;
- a path ``~`` or ``~/x`` starts at the user's home, ``~other/x`` at another
  system user's home (refused in the lab); one trailing ``/`` is dropped;
- an empty value means autodetection in the order the drivers are registered:
  sdbox, mdbox, Maildir (``~/Maildir`` with ``cur/``), mbox (``~/mail`` or
  ``~/Mail`` holding ``.imap/``, ``inbox`` or ``mbox``; INBOX in ``/var/mail/%u`` or
  ``/var/spool/mail/%u``);
- each driver then fills in its defaults: Maildir uses ``LAYOUT=maildir++``
  (hierarchy separator ``.``) with INBOX in the root itself and a
  ``subscriptions`` file; mbox uses ``LAYOUT=fs`` (separator ``/``), INBOX
  ``<root>/inbox`` unless ``INBOX=`` says otherwise, and ``.subscriptions``.

Errors carry Dovecot's own words (``Unknown setting: X``, ``Unknown mail storage
driver X``, ``Mail storage autodetection failed with home=...``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from labserver.config.resolve import PathResolver
from labserver.config.varexpand import expand, mail_user_values

# src/lib-storage/mail-storage-register.c: the order is the autodetection order.
DOVECOT_DRIVERS = ("shared", "dbox", "mdbox", "mdbox_deleted", "sdbox", "maildir", "mbox",
                   "imapc", "pop3c", "raw", "fail")
LAB_DRIVERS = ("maildir", "mbox")
# Drivers that need no root directory (MAIL_STORAGE_CLASS_FLAG_NO_ROOT).
_NO_ROOT = ("shared", "imapc", "pop3c", "fail")

_KEYS = {"INBOX": "inbox_path", "INDEX": "index_dir", "INDEXPVT": "index_pvt_dir",
         "INDEXCACHE": "index_cache_dir", "CONTROL": "control_dir", "ALT": "alt_dir",
         "LAYOUT": "layout", "SUBSCRIPTIONS": "subscription_fname", "DIRNAME": "maildir_name",
         "MAILBOXDIR": "mailbox_dir_name", "VOLATILEDIR": "volatile_dir",
         "LISTINDEX": "list_index_fname", "FULLDIRNAME": "maildir_name"}
_FLAGS = {"UTF-8": "utf8", "ALTNOCHECK": "alt_dir_nocheck", "ITERINDEX": "iter_from_index_dir",
          "NO-NOSELECT": "no_noselect", "NO-FS-VALIDATION": "no_fs_validation"}

_DRIVER_RE = re.compile(r"([A-Za-z0-9_]+):")


class LocationError(ValueError):
    """mail_location cannot be used; the message is Dovecot's."""


@dataclass(frozen=True, slots=True)
class MailLocation:
    """A parsed mail_location; paths are configuration paths (before the sandbox)."""

    driver: str
    root_dir: str
    layout: str
    inbox_path: str | None = None
    index_dir: str | None = None
    index_pvt_dir: str | None = None
    index_cache_dir: str | None = None
    control_dir: str | None = None
    alt_dir: str | None = None
    subscription_fname: str | None = None
    maildir_name: str = ""  # DIRNAME= (or FULLDIRNAME=)
    mailbox_dir_name: str = ""  # MAILBOXDIR=
    volatile_dir: str | None = None
    list_index_fname: str | None = None
    broken_char: str | None = None
    utf8: bool = False
    alt_dir_nocheck: bool = False
    iter_from_index_dir: bool = False
    no_noselect: bool = False
    no_fs_validation: bool = False
    full_dirname: bool = False
    autodetected: bool = False
    text: str = ""  # the expanded setting

    @property
    def hierarchy_sep(self) -> str:
        """The separator of the layout on disk (``.`` for Maildir++, ``/`` for fs)."""
        return "." if self.layout.lower() in ("maildir++", "imapdir") else "/"


def _split_args(data: str) -> list[str]:
    """t_strsplit(data, ":") then split_next_arg(): ``::`` is a literal colon."""
    parts = data.split(":")
    out: list[str] = []
    i = 0
    while i < len(parts):
        current = parts[i]
        i += 1
        while i < len(parts) and parts[i] == "":
            i += 1
            if i >= len(parts):
                break  # the value ends with ":"; ignored
            current = current + ":" + parts[i]
            i += 1
        out.append(current)
    return out


def _fix_path(path: str, home: str | None, what: str, data: str) -> str:
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    if path.startswith("~") and len(path) > 1 and path[1] != "/":
        user = path[1:].split("/", 1)[0]
        raise LocationError(f"No home directory for system user. Can't expand ~{user} "
                            f"for {what} in: {data}")
    if path.startswith("~"):
        if not home:
            raise LocationError("Home directory not set for user. Can't expand ~/ for "
                                f"{what} in: {data}")
        path = home.rstrip("/") + path[1:] if home != "/" else path[1:] or "/"
    return path


def _parse_list_settings(data: str, home: str | None) -> dict[str, object]:
    """mailbox_list_settings_parse_full()."""
    out: dict[str, object] = {}
    if data == "":
        return out
    args = _split_args(data)
    out["root_dir"] = _fix_path(args[0], home, "mail root dir", data)
    if str(out["root_dir"]).startswith("INBOX="):
        raise LocationError(f"Mail root directory not given: {data}")
    for arg in args[1:]:
        if arg in _FLAGS:
            out[_FLAGS[arg]] = True
            continue
        key, eq, value = arg.partition("=")
        if key == "BROKENCHAR":
            if len(value) != 1:
                raise LocationError("BROKENCHAR value must be a single character")
            out["broken_char"] = value
            continue
        if key not in _KEYS:
            raise LocationError(f"Unknown setting: {key}")
        if key == "FULLDIRNAME":
            out["full_dirname"] = True
        out[_KEYS[key]] = _fix_path(value, home, key, data)
    if out.get("index_dir") == "MEMORY":
        out["index_dir"] = ""
    if out.get("iter_from_index_dir") and not out.get("index_dir"):
        raise LocationError("ITERINDEX requires INDEX to be explicitly set")
    return out


def _driver_defaults(driver: str, fields: dict[str, object]) -> dict[str, object]:
    """The storage's get_list_settings(): layout, subscriptions file, INBOX."""
    root = str(fields.get("root_dir") or "")
    if driver == "maildir":
        fields.setdefault("layout", "maildir++")
        fields.setdefault("subscription_fname", "subscriptions")
        if (fields.get("inbox_path") is None and not fields.get("maildir_name")
                and str(fields["layout"]).lower() in ("maildir++", "fs")):
            fields["inbox_path"] = root  # Maildir++ INBOX is the Maildir base itself
    elif driver == "mbox":
        fields.setdefault("layout", "fs")
        fields.setdefault("subscription_fname", ".subscriptions")
        if fields.get("inbox_path") is None and str(fields["layout"]).lower() == "fs":
            fields["inbox_path"] = root + "/inbox"
    else:
        fields.setdefault("layout", "fs")
    return fields


class _Probe:
    """File tests for autodetection, through the sandbox."""

    def __init__(self, resolver: PathResolver) -> None:
        self.resolver = resolver

    def isdir(self, path: str) -> bool:
        real = self.resolver.real(path)
        return os.path.isdir(real) and os.access(real, os.R_OK | os.W_OK | os.X_OK)

    def isfile(self, path: str) -> bool:
        real = self.resolver.real(path)
        return (os.path.exists(real) and not os.path.isdir(real)
                and os.access(real, os.R_OK | os.W_OK))


def _mbox_is_root_dir(p: _Probe, path: str) -> bool:
    return p.isdir(path + "/.imap") or p.isfile(path + "/inbox") or p.isfile(path + "/mbox")


def _autodetect(fields: dict[str, object], home: str | None, user: str,
                probe: _Probe) -> str | None:
    """mail_storage_autodetect(): the first driver whose check succeeds."""
    root = fields.get("root_dir") or None
    # sdbox and mdbox: <root or ~/sdbox, ~/mdbox>/{mailboxes,storage}; reported only.
    for driver, default, marker in (("mdbox", "/mdbox", "/storage"),
                                    ("sdbox", "/sdbox", "/mailboxes")):
        base = root if root else (home + default if home else None)
        if base and probe.isdir(str(base) + marker):
            fields["root_dir"] = base
            return driver
    # maildir: <root or ~/Maildir>/cur
    base = root if root else (home + "/Maildir" if home else None)
    if base and probe.isdir(str(base)) and os.path.isdir(probe.resolver.real(str(base) + "/cur")):
        fields["root_dir"] = base
        return "maildir"
    # mbox
    inbox = fields.get("inbox_path")
    mroot: str | None = str(root) if root else None
    if mroot is not None:
        if inbox is None and probe.isfile(mroot):
            inbox, mroot = mroot, None
        elif not _mbox_is_root_dir(probe, mroot):
            return None
    if mroot is None:
        for name in ("/mail", "/Mail"):
            if _mbox_is_root_dir(probe, (home or "") + name):
                mroot = (home or "") + name
                break
        else:
            return None
    if inbox is None:
        for spool in ("/var/mail/", "/var/spool/mail/"):
            if probe.isfile(spool + user):
                inbox = spool + user
                break
    fields["root_dir"] = mroot
    fields["inbox_path"] = inbox
    return "mbox"


def parse_location(text: str, *, user: str = "", home: str | None = None,
                   values: Mapping[str, str] | None = None,
                   resolver: PathResolver | None = None, expand_vars: bool = True
                   ) -> MailLocation:
    """Parse ``mail_location`` for ``user`` whose home is ``home``.

    ``resolver`` maps paths into the lab root for autodetection's file tests.
    Raises LocationError with Dovecot's message.
    """
    if expand_vars:
        table = dict(values) if values is not None else mail_user_values(user, home=home or "")
        text = expand(text, table).text
    probe = _Probe(resolver or PathResolver(None))
    data: str | None = text if text != "" else None
    driver: str | None = None
    if data is not None:
        m = _DRIVER_RE.match(data)
        if m:
            driver = m.group(1)
            data = data[m.end():]
    fields = _parse_list_settings(data, home) if data is not None else {}
    autodetected = False
    if driver == "auto":
        if fields.get("root_dir") == "":
            fields.pop("root_dir")
        driver = None
    if driver is not None:
        if driver.lower() not in DOVECOT_DRIVERS:
            raise LocationError(f"Unknown mail storage driver {driver}")
        driver = driver.lower()
        if not fields.get("root_dir") and driver not in _NO_ROOT:
            raise LocationError("Root mail directory not given")
    else:
        autodetected = True
        driver = _autodetect(fields, home, user, probe)
        if driver is None:
            shown = home or "(not set)"
            if text == "":
                raise LocationError(f"Mail storage autodetection failed with home={shown}")
            if text.startswith("auto:"):
                raise LocationError(f"Autodetection failed for {text} (home={shown})")
            raise LocationError("Ambiguous mail location setting, don't know what to do "
                                f"with it: {text} (try prefixing it with mbox: or maildir:)")
    fields = _driver_defaults(driver, fields)
    fields.setdefault("root_dir", "")
    return MailLocation(driver=driver, autodetected=autodetected, text=text,
                        **fields)  # type: ignore[arg-type]


def require_lab_driver(loc: MailLocation) -> MailLocation:
    """Refuse formats the lab does not implement, naming the format."""
    if loc.driver not in LAB_DRIVERS:
        raise LocationError(f"Mail storage driver {loc.driver} is not supported by the lab "
                            "(it implements maildir and mbox)")
    layout = loc.layout.lower()
    if loc.driver == "maildir" and layout not in ("maildir++", "fs"):
        raise LocationError(f"Mailbox list driver {loc.layout} is not supported by the lab "
                            "for maildir (use LAYOUT=maildir++ or LAYOUT=fs)")
    if loc.driver == "mbox" and layout != "fs":
        raise LocationError(f"Mailbox list driver {loc.layout} is not supported by the lab "
                            "for mbox (use LAYOUT=fs)")
    return replace(loc, layout=layout)


def mail_home(config_value: str, user: str, userdb_home: str | None = None,
              values: Mapping[str, str] | None = None) -> str | None:
    """The user's home: the userdb's when it returns one, else ``mail_home`` expanded.

    (mail-storage-service.c: a userdb ``home`` field is set as ``mail_home``.)
    """
    if userdb_home:
        return userdb_home
    if not config_value:
        return None
    table = dict(values) if values is not None else mail_user_values(user)
    return expand(config_value, table).text or None
