"""Real Dovecot as a second engine for a ``Lab``: the same config, sandbox and mailboxes.

Where Debian's Dovecot 2.3 is installed, ``Lab(..., engine="dovecot")`` runs it instead of
the lab's own server. The learner's configuration is read with the lab's parser (so
``!include`` and ``<file`` are understood the same way) and printed as ``doveconf -n``
prints it, with secrets shown; that text is then turned into a configuration real Dovecot
can run without touching the real system, written to ``<root>/run/dovecot-engine/``:

- every absolute path the learner wrote is mapped into the lab root, as the lab maps it:
  path settings (``ssl_cert = </etc/...``, ``mail_home``, log paths...), the paths inside
  ``mail_location`` and namespace ``location`` (``INBOX=``, ``INDEX=``, ``CONTROL=``...),
  path words of passdb/userdb ``args`` and ``home=``/``mail=`` fields;
- the passwd-files the passdbs and userdbs read are copied into the run directory with
  homes and ``mail=`` fields mapped and uid/gid that Dovecot may use (nobody's 65534 when
  running as root, where the users' files are handed to that uid; one's own ids
  otherwise);
- what an unprivileged-style instance needs is added: ``base_dir``, ``state_dir`` and the
  log in the run directory, internal and login users, ``chroot =`` for login services,
  and listener addresses and ports from the lab's port policy (free ports picked here
  for ``ephemeral``, since Dovecot cannot report the ports it chose).

Everything else the learner wrote is kept. The result is checked with the real
``doveconf -n`` before ``dovecot -F`` starts; only the process started here is ever
signalled, by its PID.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..auth import Authenticator
from ..config import Config, ConfigError, load
from ..config.doveconf import dump
from ..config.lexer import escape
from ..storage import open_storage
from .listeners import ListenerSpec, listener_specs

if TYPE_CHECKING:
    from .lab import Lab

RUN_DIR = "/run/dovecot-engine"
EX_CONFIG = 89
NOBODY = 65534

# Global settings whose value is a file or directory path (mapped when absolute).
PATH_SETTINGS = frozenset({
    "auth_krb5_keytab", "debug_log_path", "dict_db_config", "doveadm_http_rawlog_dir",
    "imapc_rawlog_dir", "info_log_path", "lmtp_proxy_rawlog_dir", "lmtp_rawlog_dir",
    "log_path", "login_proxy_rawlog_dir", "mail_attachment_dir", "mail_chroot",
    "mail_home", "mail_temp_dir", "pop3c_rawlog_dir", "rawlog_dir",
    "ssl_alt_cert", "ssl_alt_key", "ssl_ca", "ssl_cert", "ssl_client_ca_dir",
    "ssl_client_ca_file", "ssl_client_cert", "ssl_client_key", "ssl_dh", "ssl_key",
    "stats_http_rawlog_dir", "valid_chroot_dirs",
})
LOCATION_SETTINGS = frozenset({"mail_location"})
# Parts of a mail location that hold paths (src/lib-storage/mailbox-list.c).
LOCATION_PATH_KEYS = frozenset({"INBOX", "INDEX", "INDEXPVT", "INDEXCACHE", "CONTROL", "ALT",
                                "VOLATILEDIR"})
# Set by the engine; what the learner wrote for them does not reach Dovecot.
ENGINE_SETTINGS = ("base_dir", "state_dir", "instance_name", "default_internal_user",
                   "default_internal_group", "default_login_user")
LOGIN_SERVICES = ("imap-login", "pop3-login", "submission-login", "managesieve-login")
_HOME_FIELDS = ("home", "userdb_home")
_MAIL_FIELDS = ("mail", "userdb_mail")
_ID_FIELDS = {"uid": "uid", "userdb_uid": "uid", "gid": "gid", "userdb_gid": "gid"}


def dovecot_binary() -> str | None:
    """The path of Debian's ``dovecot`` master, or None when it is not installed."""
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


def doveconf_binary(master: str) -> str:
    found = shutil.which("doveconf")
    if found:
        return found
    return os.path.join(os.path.dirname(master).replace("sbin", "bin"), "doveconf")


# -- a doveconf -n dump as a tree ------------------------------------------------------


@dataclass
class Setting:
    key: str
    value: str


@dataclass
class Section:
    kind: str
    name: str = ""
    items: list[Setting | Section] = field(default_factory=list)

    def settings(self) -> dict[str, Setting]:
        return {i.key: i for i in self.items if isinstance(i, Setting)}

    def get(self, key: str) -> str | None:
        found = self.settings().get(key)
        return None if found is None else found.value

    def set(self, key: str, value: str) -> None:
        found = self.settings().get(key)
        if found is None:
            self.items.append(Setting(key, value))
        else:
            found.value = value

    def remove(self, key: str) -> None:
        self.items = [i for i in self.items if not (isinstance(i, Setting) and i.key == key)]

    def sections(self, kind: str) -> list[Section]:
        return [i for i in self.items if isinstance(i, Section) and i.kind == kind]

    def section(self, kind: str, name: str) -> Section:
        """The named subsection, added when missing (Dovecot merges same-named sections)."""
        for s in self.sections(kind):
            if s.name == name:
                return s
        new = Section(kind, name)
        self.items.append(new)
        return new

    def walk(self, path: tuple[Section, ...] = ()) -> Any:
        """(setting, enclosing sections) for every setting, depth first."""
        for item in self.items:
            if isinstance(item, Setting):
                yield item, (*path, self)
            else:
                yield from item.walk((*path, self))

    def render(self, indent: int = 0) -> list[str]:
        pad = "  " * indent
        out: list[str] = []
        for item in self.items:
            if isinstance(item, Setting):
                out.append(f"{pad}{item.key} = {_quote(item.value)}".rstrip())
            else:
                name = item.name
                if name and (" " in name or '"' in name):
                    name = f'"{escape(name)}"'
                out.append(f"{pad}{item.kind} {name} {{" if name else f"{pad}{item.kind} {{")
                out.extend(item.render(indent + 1))
                out.append(f"{pad}}}")
        return out


def _quote(value: str) -> str:
    if value and ("#" in value or value[0] in " \t" or value[-1] in " \t" or "\\" in value
                  or '"' in value):
        return f'"{escape(value)}"'
    return value


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_dump(text: str) -> Section:
    """The tree of a ``doveconf -n`` output (the lab's, which is Dovecot's)."""
    root = Section("")
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip(" ")
        if not line or line.startswith("#"):
            continue
        if line == "}":
            stack.pop()
            continue
        key, sep, value = line.partition(" = ")
        if not sep and line.endswith(" ="):
            key, sep, value = line[:-2], " = ", ""
        if sep and " " not in key:
            stack[-1].items.append(Setting(key, _unquote(value)))
            continue
        if line.endswith("{"):
            head = line[:-1].strip()
            kind, _, name = head.partition(" ")
            section = Section(kind, _unquote(name.strip()))
            stack[-1].items.append(section)
            stack.append(section)
            continue
        raise ValueError(f"unexpected line in doveconf output: {raw!r}")
    return root


# -- paths ---------------------------------------------------------------------------------


class PathMapper:
    """Maps configuration paths into the lab root, keeping %variables and ``~``."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.config_dir = os.path.dirname(lab.config_path)

    def path(self, value: str) -> str:
        """An absolute path (maybe with %variables) mapped into the root; others as they are."""
        if not value.startswith("/"):
            return value
        parts = value.split("/")
        fixed: list[str] = []
        for part in parts[1:]:
            if "%" in part or "$" in part:
                break
            fixed.append(part)
        rest = parts[1 + len(fixed):]
        head = str(self.lab.path("/" + "/".join(fixed)))
        return "/".join([head, *rest]) if rest else head

    def value(self, value: str) -> str:
        """A path setting's value: a path, or ``<file`` (relative to the config's directory)."""
        if value.startswith("<"):
            name = value[1:].strip()
            if not name.startswith("/"):
                name = os.path.normpath(os.path.join(self.config_dir, name))
            return "<" + self.path(name)
        return self.path(value)

    def location(self, value: str) -> str:
        """A mail location ``[driver:]path[:KEY=path...]`` with its paths mapped."""
        m = re.match(r"([A-Za-z0-9_]+):", value)
        driver, rest = (m.group(0), value[m.end():]) if m else ("", value)
        if not rest:
            return value
        parts = _split_location(rest)
        parts[0] = self.path(parts[0])
        for i, part in enumerate(parts[1:], 1):
            key, eq, path = part.partition("=")
            if eq and key.upper() in LOCATION_PATH_KEYS:
                parts[i] = f"{key}={self.path(path)}"
        return driver + ":".join(p.replace(":", "::") for p in parts)

    def args(self, value: str) -> str:
        """passdb/userdb ``args``: path words and ``key=/path`` options mapped."""
        words = []
        for word in value.split():
            key, eq, rest = word.partition("=")
            if word.startswith("/"):
                word = self.path(word)
            elif eq and key in _MAIL_FIELDS:
                word = f"{key}={self.location(rest)}"
            elif eq and rest.startswith("/"):
                word = f"{key}={self.path(rest)}"
            words.append(word)
        return " ".join(words)


def _split_location(value: str) -> list[str]:
    """Split at ``:``, where ``::`` is a literal colon (mailbox-list.c split_next_arg)."""
    parts: list[str] = []
    current = ""
    i = 0
    while i < len(value):
        if value[i] == ":":
            if value[i + 1:i + 2] == ":":
                current += ":"
                i += 2
                continue
            parts.append(current)
            current = ""
        else:
            current += value[i]
        i += 1
    parts.append(current)
    return parts


# -- the engine ------------------------------------------------------------------------


class DovecotEngine:
    """Generates, checks, starts and stops one real Dovecot for a ``Lab``."""

    def __init__(self, lab: Lab) -> None:
        from .lab import LabError

        self.lab = lab
        self.binary = dovecot_binary()
        if self.binary is None:
            raise LabError("real Dovecot is not installed (Debian's dovecot-core with "
                           "dovecot-imapd and dovecot-pop3d); use engine='lab'")
        self.doveconf = doveconf_binary(self.binary)
        self.run_dir = lab.path(RUN_DIR)
        self.conf_path = self.run_dir / "dovecot.conf"
        self.mapper = PathMapper(lab)
        self.proc: subprocess.Popen[bytes] | None = None
        self.bound: list[tuple[ListenerSpec, int]] = []
        self.log_files: list[Path] = []
        self._log_offsets: dict[Path, int] = {}
        self._ports: dict[tuple[str, str, str], int] = {}
        self.users: dict[str, str] = {}  # user -> home (configuration path)
        self.config: Config | None = None  # as written (for the generated file)
        self.expanded: Config | None = None  # as the server reads it
        if os.geteuid() == 0:
            self.uid = self.gid = NOBODY
            self.internal_user, self.internal_group, self.login_user = (
                "dovecot", "dovecot", "dovenull")
        else:
            import grp
            import pwd
            self.uid, self.gid = os.getuid(), os.getgid()
            self.internal_user = self.login_user = pwd.getpwuid(self.uid).pw_name
            self.internal_group = grp.getgrgid(self.gid).gr_name

    # -- generating ------------------------------------------------------------------

    def load(self) -> Config:
        """The learner's configuration as the lab reads it (errors found while reading raise).

        Errors the lab finds only when checking settings are left to real Dovecot, so that
        the refusal a learner sees is Dovecot's own.
        """
        config = load(self.lab.config_path, root=str(self.lab.root), expand_values=False,
                      strict=False)
        if config.delayed_error is not None:
            raise ConfigError(config.delayed_error, config.messages)
        return config

    def generate(self) -> Path:
        """Write the configuration real Dovecot runs (and the passwd-files it reads)."""
        config = self.load()
        self.config = config
        self.expanded = load(self.lab.config_path, root=str(self.lab.root), strict=False)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_dir, 0o755)
        tree = parse_dump(dump(config, "n", hide_passwords=False, header=False).stdout)
        self.users = {}
        passwd_dir = self.run_dir / "passwd"
        shutil.rmtree(passwd_dir, ignore_errors=True)
        self._map_paths(tree)
        self._auth(tree)
        self._runtime(tree, config)
        self._listeners(tree, config)
        text = ("# Generated by labserver for real Dovecot from "
                f"{self.lab.config_path}; edit that file, not this one.\n"
                + "\n".join(tree.render()) + "\n")
        self.conf_path.write_text(text)
        return self.conf_path

    def _map_paths(self, tree: Section) -> None:
        m = self.mapper
        for setting, path in tree.walk():
            kinds = [s.kind for s in path]
            owner = kinds[-1]
            if setting.key in LOCATION_SETTINGS or (owner == "namespace"
                                                    and setting.key == "location"):
                setting.value = m.location(setting.value)
            elif setting.key in PATH_SETTINGS:
                setting.value = m.value(setting.value)
            elif owner in ("unix_listener", "fifo_listener") and setting.key == "path":
                setting.value = m.path(setting.value)
            elif owner == "service" and setting.key == "chroot":
                setting.value = m.path(setting.value)
            elif setting.value.startswith("<") and " " not in setting.value.strip():
                setting.value = m.value(setting.value)

    def _auth(self, tree: Section) -> None:
        ids = f"uid={self.uid} gid={self.gid}"
        for kind in ("passdb", "userdb"):
            for db in tree.sections(kind):
                driver = db.get("driver") or ""
                args = db.get("args")
                if args is not None:
                    if driver == "passwd-file":
                        db.set("args", self._passwd_args(args))
                    elif driver == "static" and kind == "userdb":
                        db.set("args", self._fields(self.mapper.args(args)))
                    else:
                        db.set("args", self.mapper.args(args))
                for key in ("default_fields", "override_fields"):
                    value = db.get(key)
                    if value:
                        db.set(key, self._fields(self.mapper.args(value)))
                if kind == "userdb" and driver not in ("prefetch",):
                    override = db.get("override_fields") or ""
                    db.set("override_fields", (override + " " + ids).strip())

    def _fields(self, text: str) -> str:
        """``uid=``/``gid=`` fields replaced with the ids Dovecot may use."""
        out = []
        for word in text.split():
            key = word.partition("=")[0]
            if key in _ID_FIELDS:
                word = f"{key}={self.uid if _ID_FIELDS[key] == 'uid' else self.gid}"
            out.append(word)
        return " ".join(out)

    def _passwd_args(self, args: str) -> str:
        words = args.split()
        for i, word in enumerate(words):
            if not word.startswith("/"):
                continue
            words[i] = self._copy_passwd(word)
        return " ".join(words)

    def _copy_passwd(self, virtual: str) -> str:
        """Copy a passwd-file (or, for a %variable path, each file it matches) into run/."""
        target_base = str(self.run_dir / "passwd")
        if "%" in virtual.replace("%%", ""):
            pattern = re.sub(r"%(\{[^}]*\}|[A-Za-z])", "*", virtual)
            for found in self.lab.resolver.glob(pattern):
                self._rewrite_passwd(found, target_base + found)
            return target_base + virtual
        self._rewrite_passwd(virtual.replace("%%", "%"), target_base + virtual)
        return target_base + virtual

    def _rewrite_passwd(self, virtual: str, target: str) -> None:
        source = self.lab.path(virtual)
        if not source.is_file():
            return
        out = []
        for line in source.read_text(errors="surrogateescape").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                out.append(line)
                continue
            fields = line.split(":", 7)
            if len(fields) > 3 and fields[2]:
                fields[2] = str(self.uid)
            if len(fields) > 3 and fields[3]:
                fields[3] = str(self.gid)
            if len(fields) > 5 and fields[5]:
                fields[5] = self.mapper.path(fields[5])
            if len(fields) > 7 and fields[7]:
                fields[7] = self._fields(self.mapper.args(fields[7]))
            if len(fields) > 3 and (fields[2] or fields[3]):
                self.users.setdefault(fields[0], "")
            out.append(":".join(fields))
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in [path.parent, *path.parent.parents]:
            if parent == self.run_dir:
                break
            os.chmod(parent, 0o755)
        path.write_text("\n".join(out) + "\n", errors="surrogateescape")
        os.chmod(path, 0o640)
        if os.geteuid() == 0:
            import grp
            os.chown(path, 0, grp.getgrnam(self.internal_group).gr_gid)

    def _runtime(self, tree: Section, config: Config) -> None:
        run = str(self.run_dir)
        for key in ENGINE_SETTINGS:
            tree.remove(key)
        digest = hashlib.sha1(str(self.lab.root).encode()).hexdigest()[:10]
        extra = [Setting("base_dir", run + "/base"), Setting("state_dir", run + "/state"),
                 Setting("instance_name", f"labserver-{digest}"),
                 Setting("default_internal_user", self.internal_user),
                 Setting("default_internal_group", self.internal_group),
                 Setting("default_login_user", self.login_user)]
        log_path = tree.get("log_path")
        if log_path is None or log_path in ("syslog", "") or log_path.startswith("/dev/"):
            tree.remove("log_path")
            log_path = run + "/dovecot.log"
            extra.append(Setting("log_path", log_path))
        self.log_files = [Path(log_path)]
        for key in ("info_log_path", "debug_log_path"):
            other = tree.get(key)
            if other and other != "syslog" and other.startswith("/") and other != log_path:
                self.log_files.append(Path(other))
        for key in ("first_valid_uid", "first_valid_gid"):
            value = tree.get(key)
            own = self.uid if key.endswith("uid") else self.gid
            if value is None or not value.isdigit() or int(value) > own:
                tree.set(key, str(min(own, 500)))
        for key in ("last_valid_uid", "last_valid_gid"):
            value = tree.get(key)
            own = self.uid if key.endswith("uid") else self.gid
            if value and value.isdigit() and 0 < int(value) < own:
                tree.set(key, "0")
        if tree.get("mail_uid"):
            tree.set("mail_uid", str(self.uid))
        if tree.get("mail_gid"):
            tree.set("mail_gid", str(self.gid))
        tree.items[:0] = extra
        for name in LOGIN_SERVICES:
            if any(s.get("name") == name for s in config.sections("service")):
                tree.section("service", name).set("chroot", "")
        stats = tree.section("service", "stats")
        for listener in ("stats-reader", "stats-writer"):
            stats.section("unix_listener", listener).set("mode", "0666")

    def _listeners(self, tree: Section, config: Config) -> None:
        specs = listener_specs(self.expanded, self.lab.policy)
        wanted: dict[tuple[str, str], list[ListenerSpec]] = {}
        for spec in specs:
            wanted.setdefault((spec.service, spec.name), []).append(spec)
        bound: list[tuple[ListenerSpec, int]] = []
        for service in config.sections("service"):
            sname = service.get("name")
            for listener in service.children("inet_listener"):
                lname = listener.get("name")
                node = tree.section("service", sname).section("inet_listener", lname)
                group = wanted.get((sname, lname))
                if not group:
                    node.set("port", "0")
                    continue
                port = group[0].port
                if port == 0:
                    key = (sname, lname, group[0].address)
                    port = self._ports.get(key) or _free_port(group[0].address)
                    self._ports[key] = port
                node.set("address", ", ".join(
                    f"[{s.address}]" if ":" in s.address else s.address for s in group))
                node.set("port", str(port))
                bound.extend((s, port) for s in group)
        self.bound = bound

    def check(self) -> None:
        """Real ``doveconf -n`` on the generated file; its refusal becomes a ConfigError."""
        result = subprocess.run([self.doveconf, "-n", "-c", str(self.conf_path)],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            lines = [x for x in self.virtual(result.stderr).splitlines() if x.strip()]
            fatal = [x for x in lines if "Fatal:" in x] or lines or [
                f"doveconf exited with {result.returncode}"]
            message = fatal[-1].split("Fatal: ", 1)[-1]
            raise ConfigError(message)

    def virtual(self, text: str) -> str:
        """Text from Dovecot with real paths shown as the learner wrote them."""
        text = text.replace(str(self.conf_path), self.lab.config_path)
        text = text.replace(str(self.run_dir / "passwd") + "/", "/")
        return text.replace(str(self.lab.root.resolve()), "").replace(str(self.lab.root), "")

    # -- ownership -----------------------------------------------------------------

    def prepare_files(self) -> None:
        """Make the lab root, the users' homes and mail usable by Dovecot's processes."""
        if os.geteuid() != 0:
            return
        from .lab import LabError

        root = self.lab.root.resolve()
        os.chmod(root, os.stat(root).st_mode | 0o755)
        for parent in root.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise LabError(f"Dovecot's mail processes (uid {self.uid}) cannot reach the "
                               f"lab root: {parent} is not searchable by others")
        for user in list(self.users):
            self.fix_user(user)

    def fix_user(self, user: str) -> None:
        """Hand one user's home and mail files to the uid Dovecot uses for mail (root only)."""
        config = self.expanded
        if os.geteuid() != 0 or config is None:
            return
        auth = Authenticator(config, self.lab.resolver)
        try:
            result = auth.lookup_user(user)
        except Exception:  # noqa: BLE001 - a broken userdb is Dovecot's to report
            return
        home = result.home if result.success else None
        paths: list[str] = []
        if home:
            paths.append(home)
        with contextlib.suppress(Exception):
            location = open_storage(config, user, home, self.lab.resolver, create=False,
                                    mail=result.mail if result.success else None).location
            for attr in ("root_dir", "index_dir", "control_dir", "alt_dir", "inbox_path"):
                value = getattr(location, attr, None)
                if value:
                    paths.append(value)
            inbox = getattr(location, "inbox_path", None)
            if inbox and home and not inbox.startswith(home.rstrip("/") + "/"):
                # A shared spool such as /var/mail: users create their dotlocks there.
                spool = self.lab.path(os.path.dirname(inbox))
                spool.mkdir(parents=True, exist_ok=True)
                os.chmod(spool, 0o1777)
        for virtual in paths:
            _chown_tree(self.lab.path(virtual), self.uid, self.gid)

    # -- running -------------------------------------------------------------------

    def start(self) -> None:
        from .lab import LabError

        self.generate()
        self.check()
        self.prepare_files()
        log = self.run_dir / "master.out"
        for path in self.log_files:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offsets = {p: (p.stat().st_size if p.exists() else 0)
                             for p in self.log_files}
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([self.binary or "dovecot", "-F", "-c",
                                          str(self.conf_path)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         start_new_session=True)
        try:
            self._wait(20)
        except LabError:
            self.stop()
            raise

    def _wait(self, timeout: float) -> None:
        from .lab import LabError

        deadline = time.monotonic() + timeout
        pending = list(dict.fromkeys((s.address, port) for s, port in self.bound))
        while pending:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise LabError(f"dovecot exited with {code}: " + self._failure())
            address, port = pending[0]
            if _listening(address, port):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise LabError(f"dovecot did not answer on {address} port {port} in time: "
                               + self._failure())
            time.sleep(0.05)

    def _failure(self) -> str:
        texts = []
        for path in [self.run_dir / "master.out", *self.log_files]:
            with contextlib.suppress(OSError):
                texts.append(path.read_text(errors="replace"))
        lines = [x for x in self.virtual("\n".join(texts)).splitlines()
                 if "Fatal" in x or "Error" in x]
        return "\n".join(lines[-5:]) or "(nothing logged)"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reload(self) -> None:
        """Regenerate, check, and tell the running master to reload (SIGHUP, as doveadm does)."""
        old = self.conf_path.read_text() if self.conf_path.exists() else None
        saved = (self.bound, self.config, self.expanded, self.log_files)
        try:
            self.generate()
            self.check()
        except Exception:
            if old is not None:
                self.conf_path.write_text(old)
            self.bound, self.config, self.expanded, self.log_files = saved
            raise
        self.prepare_files()
        if self.running and self.proc is not None:
            before = len(self.logs())
            os.kill(self.proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    "SIGHUP received" in x for x in self.logs()[before:]):
                time.sleep(0.05)
            self._wait(20)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            # The master stops its own children on SIGTERM; only our PID is signalled.
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.bound = []

    def sync_users(self) -> None:
        """After add_user/deliver: refresh the passwd copies and the files' ownership."""
        if self.config is None:
            return
        tree = parse_dump(dump(self.config, "n", hide_passwords=False, header=False).stdout)
        self._map_paths(tree)
        self._auth(tree)
        self.prepare_files()

    def logs(self) -> list[str]:
        lines: list[tuple[int, str]] = []
        for index, path in enumerate(self.log_files):
            try:
                with open(path, errors="replace") as fh:
                    fh.seek(self._log_offsets.get(path, 0))
                    text = fh.read()
            except OSError:
                continue
            lines.extend((index, x) for x in text.splitlines())
        if len(self.log_files) > 1:
            lines.sort(key=lambda t: _stamp(t[1]))
        return [self.virtual(x) for _, x in lines]


def _stamp(line: str) -> float:
    with contextlib.suppress(ValueError):
        return time.mktime(time.strptime(line[:15], "%b %d %H:%M:%S"))
    return 0.0


def _listening(address: str, port: int) -> bool:
    """Whether a socket listens on (address, port): from /proc, so that no test connection
    shows up in Dovecot's log; elsewhere by connecting."""
    wanted = f":{port:04X} "
    found_table = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        found_table = True
        for row in rows:
            cols = row.split()
            if len(cols) > 3 and cols[3] == "0A" and (cols[1] + " ").endswith(wanted):
                return True
    if found_table:
        return False
    with contextlib.suppress(OSError), socket.create_connection((address, port), 0.5):
        return True
    return False


def _free_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    if not path.exists():
        return
    os.chown(path, uid, gid)
    if path.is_dir() and not path.is_symlink():
        for base, dirs, files in os.walk(path):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    os.chown(os.path.join(base, name), uid, gid, follow_symlinks=False)


__all__ = ["DovecotEngine", "PathMapper", "dovecot_binary", "parse_dump"]
