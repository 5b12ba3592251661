"""The authenticator: the configured passdbs and userdbs, run as Dovecot's auth does.

``Authenticator(config, resolver)`` reads ``auth_*`` settings and the ``passdb {}`` /
``userdb {}`` sections, and answers::

    result = auth.authenticate("Alice", "secret", remote_ip="127.0.0.2")
    result.success, result.user, result.home, result.mail, result.log

A login runs like this (auth-request.c): the user name is checked against
``auth_username_chars``, translated, completed with ``auth_default_realm`` and put
through ``auth_username_format`` (default ``%Lu``); then each passdb is asked in order,
its ``result_success``/``result_failure``/``result_internalfail`` rules deciding
whether to go on, ``skip``, ``deny``, ``mechanisms`` and ``username_filter`` deciding
whether it is asked at all; on success the userdbs fill in home, uid, gid and mail.
Every step leaves the log lines Dovecot's auth process writes, filtered by
``auth_verbose`` and ``auth_debug``. Not modelled yet: master users, realms beyond
``auth_default_realm``, the auth cache, auth policy, checkpassword/lua/ldap drivers.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labserver.config.resolve import PathResolver
from labserver.config.varexpand import expand

from . import passdb as passdb_mod
from . import schemes
from . import userdb as userdb_mod
from .passdb import AuthConfigError, DriverContext, PassdbResult
from .request import AuthRequest, LogLine, LogPolicy, sanitize
from .userdb import UserdbResult

DEFAULT_USERNAME_FORMAT = "%Lu"
_ILLEGAL_PASSWORD_CHARS = frozenset("\001\t\r\n")


@dataclass
class DbEntry:
    """One ``passdb {}`` or ``userdb {}`` section with its driver."""

    name: str
    driver: Any
    result_success: str = "return-ok"
    result_failure: str = "continue"
    result_internalfail: str = "continue"
    skip: str = "never"
    deny: bool = False
    master: bool = False
    mechanisms: tuple[str, ...] = ()
    username_filter: tuple[str, ...] = ()
    auth_verbose: str = "default"
    default_fields: str = ""
    override_fields: str = ""


@dataclass
class AuthResult:
    """What a login attempt came to, for the protocol engines and the notebooks."""

    success: bool
    user: str | None
    passdb_result: PassdbResult
    userdb_result: UserdbResult | None = None
    extra_fields: dict[str, str] = field(default_factory=dict)
    userdb_fields: dict[str, str] = field(default_factory=dict)
    log: list[LogLine] = field(default_factory=list)
    # Why it failed: "authfailed", "tempfail", "user_disabled", "nologin", "userdb".
    failure: str | None = None
    reason: str | None = None  # the passdb's reason= field (nologin), if any

    @property
    def nologin(self) -> bool:
        return "nologin" in self.extra_fields

    @property
    def home(self) -> str | None:
        return self.userdb_fields.get("home")

    @property
    def uid(self) -> str | None:
        return self.userdb_fields.get("uid")

    @property
    def gid(self) -> str | None:
        return self.userdb_fields.get("gid")

    @property
    def mail(self) -> str | None:
        return self.userdb_fields.get("mail")

    @property
    def log_text(self) -> list[str]:
        return [str(line) for line in self.log]


@dataclass
class CredentialsLookup:
    """A credentials lookup in progress (for CRAM-MD5 and friends); see ``finish``."""

    request: AuthRequest
    result: PassdbResult
    scheme: str = ""
    credentials: bytes | None = None


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("yes", "y", "1", "true")


def _get(cfg: Any, key: str, default: Any) -> Any:
    try:
        return cfg.get(key)
    except KeyError:
        return default


def _sget(struct: Any, key: str, default: Any) -> Any:
    try:
        value = struct.get(key)
    except KeyError:
        return default
    return default if value is None else value


class Authenticator:
    """The lab's auth process: settings, passdbs and userdbs, ready for requests."""

    def __init__(self, config: Any, resolver: PathResolver | None = None) -> None:
        self.config = config
        self.resolver = resolver or getattr(config, "resolver", None) or PathResolver(None)
        self.username_format = str(_get(config, "auth_username_format",
                                        DEFAULT_USERNAME_FORMAT))
        self.username_chars = str(_get(config, "auth_username_chars", ""))
        self.username_translation = _translation(str(_get(config,
                                                          "auth_username_translation", "")))
        self.default_realm = str(_get(config, "auth_default_realm", ""))
        self.policy = LogPolicy(verbose=_bool(_get(config, "auth_verbose", False)),
                                debug=_bool(_get(config, "auth_debug", False))
                                or _bool(_get(config, "auth_debug_passwords", False)))
        self.failure_delay = float(_get(config, "auth_failure_delay", 2))
        self.mechanisms = str(_get(config, "auth_mechanisms", "plain")).upper().split()
        self.startup_log: list[LogLine] = []
        self._worker_requests = itertools.count(1)
        passdb_sections = list(config.sections("passdb"))
        userdb_sections = list(config.sections("userdb"))
        ctx = DriverContext(self.resolver, userdb_count=len(userdb_sections))
        self.passdbs = [self._entry(s, passdb_mod.create, ctx) for s in passdb_sections]
        self.userdbs = [self._entry(s, userdb_mod.create, ctx) for s in userdb_sections]
        for entry in self.userdbs:
            if hasattr(entry.driver, "user_exists"):
                entry.driver.user_exists = self._user_exists

    def _entry(self, section: Any, create: Callable[..., Any], ctx: DriverContext) -> DbEntry:
        driver_name = str(_sget(section, "driver", ""))
        args = str(_sget(section, "args", ""))
        driver = create(driver_name, args, ctx)
        for level, text in getattr(driver, "startup_log", []):
            if self.policy.shows(level):
                self.startup_log.append(LogLine(level, text))
        return DbEntry(
            name=str(_sget(section, "name", "")) or driver_name,
            driver=driver,
            result_success=str(_sget(section, "result_success", "return-ok")),
            result_failure=str(_sget(section, "result_failure", "continue")),
            result_internalfail=str(_sget(section, "result_internalfail", "continue")),
            skip=str(_sget(section, "skip", "never")),
            deny=_bool(_sget(section, "deny", False)),
            master=_bool(_sget(section, "master", False)),
            mechanisms=tuple(str(_sget(section, "mechanisms", "")).upper().split()),
            username_filter=tuple(str(_sget(section, "username_filter", "")).split()),
            auth_verbose=str(_sget(section, "auth_verbose", "default")),
            default_fields=str(_sget(section, "default_fields", "")),
            override_fields=str(_sget(section, "override_fields", "")),
        )

    def _worker_tag(self, entry: DbEntry) -> str:
        """``auth-worker<N>`` for a blocking driver's lookup (numbered as the worker
        numbers its requests), "" for one the auth process runs itself."""
        if not getattr(entry.driver, "blocking", False):
            return ""
        return f"auth-worker<{next(self._worker_requests)}>"

    # --- requests -------------------------------------------------------------------

    def new_request(self, *, service: str = "imap", local_ip: str = "", remote_ip: str = "",
                    session: str = "", mech: str = "PLAIN", secured: bool = False
                    ) -> AuthRequest:
        return AuthRequest(user=None, service=service, local_ip=local_ip,
                           remote_ip=remote_ip, session=session, mech=mech.upper(),
                           secured=secured, log_policy=self.policy)

    def set_username(self, request: AuthRequest, username: str) -> bool:
        """auth_request_set_username(): check, translate, realm, auth_username_format."""
        if not request.original_user:
            request.original_user = username
        user = username
        if self.default_realm and "@" not in user:
            user = f"{user}@{self.default_realm}"
        out = []
        for ch in user:
            ch = self.username_translation.get(ch, ch)
            if self.username_chars and ch not in self.username_chars:
                request.mech_log("Info", "Username character disallowed by "
                                 f"auth_username_chars: 0x{_first_byte(ch):02x} "
                                 f"(username: {sanitize(username, 128)})")
                request.user = None
                return False
            out.append(ch)
        user = "".join(out)
        if self.username_format:
            user = expand(self.username_format, request.var_values(user)).text
        if not user:
            request.mech_log("Info", "Empty username")
            request.user = None
            return False
        request.user = user
        return True

    def authenticate(self, username: str, password: str | bytes, *, service: str = "imap",
                     local_ip: str = "", remote_ip: str = "", session: str = "",
                     mech: str = "PLAIN", secured: bool = False, authzid: str = "",
                     request: AuthRequest | None = None) -> AuthResult:
        """A plaintext login (IMAP LOGIN, POP3 USER/PASS, SASL PLAIN or LOGIN)."""
        if request is None:
            request = self.new_request(service=service, local_ip=local_ip,
                                       remote_ip=remote_ip, session=session, mech=mech,
                                       secured=secured)
        if isinstance(password, bytes):
            password = password.decode("utf-8", "surrogateescape")
        password = password.split("\0", 1)[0]
        if request.user is None and not self.set_username(request, username):
            return self._finish_auth(request, PassdbResult.USER_UNKNOWN)
        if authzid and authzid != username:
            # Master user logins are not modelled yet: refuse them explicitly.
            request.mech_log("Info", "login user: Master user logins are not supported "
                                     "by the lab")
            return self._finish_auth(request, PassdbResult.USER_UNKNOWN)
        request.password = password
        return self._finish_auth(request, self._verify_plain(request, password))

    def _verify_plain(self, request: AuthRequest, password: str) -> PassdbResult:
        if any(ch in _ILLEGAL_PASSWORD_CHARS for ch in password):
            request.db_name = self.passdbs[0].name if self.passdbs else "auth"
            # e_info() in auth-request.c, yet Dovecot 2.3.19 shows no such line with
            # auth_verbose = yes (tests/auth/test_mech_wire_fuzz.py): debug level here
            request.db_log("Debug", "Attempted login with password having illegal chars")
            return PassdbResult.USER_UNKNOWN
        return self._run_passdbs(
            request, lambda entry: entry.driver.verify_plain(request, password))

    def _run_passdbs(self, request: AuthRequest,
                     ask: Callable[[DbEntry], PassdbResult]) -> PassdbResult:
        passdb_success = False
        seen_internal = False
        skip_password_check = False
        result = PassdbResult.USER_UNKNOWN
        entries = [e for e in self.passdbs if not e.master]
        if not entries:
            request.mech_log("Error", "All password databases were skipped")
            return PassdbResult.INTERNAL_FAILURE
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if self._skip_passdb(request, entry, skip_password_check):
                continue
            request.db_name, request.db_verbose = entry.name, entry.auth_verbose
            request.passdb_password = None
            request.failed = False
            request.db_log("Debug", "Performing passdb lookup")
            extra_before = dict(request.extra_fields)
            userdb_before = dict(request.userdb_fields)
            self._passdb_template(request, entry.default_fields)
            request.worker_tag = self._worker_tag(entry)
            try:
                result = ask(entry)
            finally:
                request.worker_tag = ""
            if result is PassdbResult.OK and "noauthenticate" in request.extra_fields:
                result = PassdbResult.NEXT
            self._passdb_template(request, entry.override_fields)
            request.db_log("Debug", "Finished passdb lookup")
            if entry.deny and result is not PassdbResult.USER_UNKNOWN:
                if result is not PassdbResult.INTERNAL_FAILURE:
                    request.db_log("Info", "User found from deny passdb")
                    result = PassdbResult.USER_DISABLED
                return result
            if request.failed:
                if result is PassdbResult.OK:
                    result = PassdbResult.USER_UNKNOWN
                request.failed = False
            if result is PassdbResult.USER_DISABLED:
                return result
            if result is PassdbResult.PASS_EXPIRED:
                request.extra_fields["reason"] = "Password expired"
                return result
            rule = {PassdbResult.OK: entry.result_success,
                    PassdbResult.INTERNAL_FAILURE: entry.result_internalfail,
                    PassdbResult.NEXT: "continue"}.get(result, entry.result_failure)
            cont = rule.startswith("continue")
            if rule in ("return-ok", "continue-ok"):
                passdb_success = True
            elif rule in ("return-fail", "continue-fail"):
                passdb_success = False
            if rule == "continue-ok" or (rule == "continue" and result is PassdbResult.OK):
                skip_password_check = True
            request.extra_fields.pop("nopassword", None)
            request.extra_fields.pop("noauthenticate", None)
            if result not in (PassdbResult.OK, PassdbResult.NEXT):
                # a failed lookup takes back the fields it set
                request.extra_fields = extra_before
                request.userdb_fields = userdb_before
            remaining = [e for e in entries[index:]
                         if not self._skip_passdb(request, e, skip_password_check)]
            if cont and remaining:
                if result is PassdbResult.INTERNAL_FAILURE:
                    seen_internal = True
                continue
            if result is PassdbResult.NEXT:
                request.auth_log("Error", "Last passdb had noauthenticate field, "
                                          "cannot authenticate user")
                return PassdbResult.INTERNAL_FAILURE
            if passdb_success:
                return PassdbResult.OK
            if seen_internal:
                return PassdbResult.INTERNAL_FAILURE
            return result
        return PassdbResult.OK if passdb_success else result

    def _skip_passdb(self, request: AuthRequest, entry: DbEntry, authenticated: bool) -> bool:
        if entry.mechanisms and request.mech.upper() not in entry.mechanisms:
            request.mech_log("Debug", "skipping passdb: mechanism filtered")
            return True
        if entry.username_filter and not _username_accepted(entry.username_filter,
                                                             request.user or ""):
            request.mech_log("Debug", "skipping passdb: username filtered")
            return True
        if entry.skip == "authenticated":
            return authenticated
        if entry.skip == "unauthenticated":
            return not authenticated
        return False

    def _passdb_template(self, request: AuthRequest, template: str) -> None:
        for key, value in userdb_mod.parse_template(template):
            request.set_field(key, "" if value is None else request.expand(value))

    # --- the end of a login ---------------------------------------------------------

    def _finish_auth(self, request: AuthRequest, result: PassdbResult) -> AuthResult:
        request.auth_log("Debug", "Auth request finished")
        # a failure names the user as the client gave it when the name was refused (the
        # FAIL reply's user=, which the login process logs)
        out = AuthResult(success=False, user=request.user or request.original_user or None,
                         passdb_result=result, extra_fields=request.extra_fields,
                         log=request.log)
        if result is not PassdbResult.OK:
            out.failure = {PassdbResult.INTERNAL_FAILURE: "tempfail",
                           PassdbResult.USER_DISABLED: "user_disabled"}.get(result,
                                                                            "authfailed")
            return out
        if "nologin" in request.extra_fields:
            out.failure = "nologin"
            out.reason = request.extra_fields.get("reason")
            return out
        request.successful = True
        userdb_result = self._run_userdbs(request)
        out.userdb_result = userdb_result
        out.userdb_fields = request.userdb_fields
        out.user = request.user
        if userdb_result is UserdbResult.OK:
            out.success = True
        else:
            out.failure = "userdb" if userdb_result is UserdbResult.USER_UNKNOWN else "tempfail"
        return out

    def lookup_user(self, username: str, *, service: str = "imap", local_ip: str = "",
                    remote_ip: str = "") -> AuthResult:
        """A userdb-only lookup (``doveadm user``, LMTP delivery)."""
        request = self.new_request(service=service, local_ip=local_ip, remote_ip=remote_ip,
                                   mech="")
        request.user = username
        request.original_user = username
        result = self._run_userdbs(request)
        return AuthResult(success=result is UserdbResult.OK, user=request.user,
                          passdb_result=PassdbResult.OK, userdb_result=result,
                          extra_fields=request.extra_fields,
                          userdb_fields=request.userdb_fields, log=request.log,
                          failure=None if result is UserdbResult.OK else "userdb")

    def _run_userdbs(self, request: AuthRequest) -> UserdbResult:
        request.userdb_lookup = True
        userdb_success = False
        seen_internal = False
        result = UserdbResult.USER_UNKNOWN
        entries = list(self.userdbs)
        if not entries:
            return UserdbResult.INTERNAL_FAILURE
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            request.db_name, request.db_verbose = entry.name, entry.auth_verbose
            request.db_log("Debug", "Performing userdb lookup")
            before = dict(request.userdb_fields)
            for key, value in userdb_mod.parse_template(entry.default_fields):
                request.set_userdb_field(key, "" if value is None else request.expand(value))
            request.worker_tag = self._worker_tag(entry)
            try:
                result = entry.driver.lookup(request)
            finally:
                request.worker_tag = ""
            rule = {UserdbResult.OK: entry.result_success,
                    UserdbResult.INTERNAL_FAILURE: entry.result_internalfail,
                    }.get(result, entry.result_failure)
            if rule in ("return-ok", "continue-ok"):
                userdb_success = True
            elif rule in ("return-fail", "continue-fail"):
                userdb_success = False
            request.db_log("Debug", "Finished userdb lookup")
            remaining = [e for e in entries[index:] if not (
                (e.skip == "found" and userdb_success)
                or (e.skip == "notfound" and not userdb_success))]
            if result is UserdbResult.OK:
                self._userdb_override(request, entry)
            else:
                request.userdb_fields = before
            if rule.startswith("continue") and remaining:
                if result is UserdbResult.INTERNAL_FAILURE:
                    seen_internal = True
                entries = entries[:index] + remaining
                continue
            break
        if userdb_success:
            return UserdbResult.OK
        if seen_internal or result is UserdbResult.INTERNAL_FAILURE:
            return UserdbResult.INTERNAL_FAILURE
        if request.successful:
            if len(self.userdbs) == 1:
                request.db_log("Error", "user not found from userdb")
            else:
                request.mech_log("Error", "user not found from any userdbs")
        return UserdbResult.USER_UNKNOWN

    def _userdb_override(self, request: AuthRequest, entry: DbEntry) -> None:
        for key, value in userdb_mod.parse_template(entry.override_fields):
            request.set_userdb_field(key, "" if value is None else request.expand(value))

    # --- credentials lookups (for non-plaintext mechanisms) -------------------------

    def lookup_credentials(self, username: str, wanted_scheme: str, *, service: str = "imap",
                           local_ip: str = "", remote_ip: str = "", session: str = "",
                           mech: str = "CRAM-MD5", secured: bool = False,
                           request: AuthRequest | None = None) -> CredentialsLookup:
        """Fetch the stored credentials in ``wanted_scheme`` (e.g. CRAM-MD5's context).

        Logs, like Dovecot, ``Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT``
        when the stored password cannot give what the mechanism needs. The mechanism then
        checks the client's response and calls ``finish(lookup, verified)``.
        """
        if request is None:
            request = self.new_request(service=service, local_ip=local_ip,
                                       remote_ip=remote_ip, session=session, mech=mech,
                                       secured=secured)
        if request.user is None and not self.set_username(request, username):
            return CredentialsLookup(request, PassdbResult.USER_UNKNOWN)
        found: dict[str, Any] = {}

        def ask(entry: DbEntry) -> PassdbResult:
            lookup = getattr(entry.driver, "lookup_credentials", None)
            if lookup is None:
                request.db_log("Debug", "passdb doesn't support credential lookups")
                return PassdbResult.SCHEME_NOT_AVAILABLE
            result, creds = lookup(request)
            if result is not PassdbResult.OK or "noauthenticate" in request.extra_fields:
                return result
            if creds is None or (creds.password is None and wanted_scheme):
                request.db_log("Info", f"Requested {wanted_scheme} scheme, "
                                       "but we have a NULL password")
                return PassdbResult.SCHEME_NOT_AVAILABLE
            stored = f"{{{creds.scheme}}}{creds.password}"
            try:
                scheme, raw = schemes.credentials(stored, wanted_scheme, creds.scheme,
                                                  user=request.original_user)
            except schemes.SchemeNotAvailable as exc:
                level = "Error" if str(exc).startswith("Requested unknown") else "Info"
                request.db_log(level, str(exc))
                return PassdbResult.SCHEME_NOT_AVAILABLE
            except schemes.UnknownScheme:
                request.db_log("Error", f"Unknown scheme {creds.scheme}")
                return PassdbResult.SCHEME_NOT_AVAILABLE
            except schemes.SchemeError as exc:
                request.db_log("Error", "Password data is not valid for scheme "
                                        f"{creds.scheme}: {exc}")
                return PassdbResult.SCHEME_NOT_AVAILABLE
            found["scheme"], found["raw"] = scheme, raw
            return PassdbResult.OK

        result = self._run_passdbs(request, ask)
        return CredentialsLookup(request, result, found.get("scheme", ""), found.get("raw"))

    def finish(self, lookup: CredentialsLookup, verified: bool) -> AuthResult:
        """End a credentials-based login: the mechanism says whether the response matched."""
        result = lookup.result
        if result is PassdbResult.OK and not verified:
            lookup.request.log_login_failure(schemes.PASSWORD_MISMATCH)
            result = PassdbResult.PASSWORD_MISMATCH
        return self._finish_auth(lookup.request, result)

    def authorize(self, request: AuthRequest, user: str) -> AuthResult:
        """A login the mechanism decided itself, no passdb asked (ANONYMOUS): userdbs only."""
        request.user = user
        return self._finish_auth(request, PassdbResult.OK)

    def _user_exists(self, request: AuthRequest) -> bool | None:
        """For a static userdb without allow_all_users: ask the passdbs (lookup, no auth)."""
        probe = self.new_request(service=request.service, local_ip=request.local_ip,
                                 remote_ip=request.remote_ip, session=request.session,
                                 mech="")
        probe.user = request.user
        probe.original_user = request.original_user
        supported = [e for e in self.passdbs if hasattr(e.driver, "lookup_credentials")]
        if not supported:
            return None
        for entry in supported:
            probe.db_name, probe.db_verbose = entry.name, entry.auth_verbose
            result, _ = entry.driver.lookup_credentials(probe)
            if result is PassdbResult.OK:
                request.log.extend(probe.log)
                return True
        request.log.extend(probe.log)
        return False


def _first_byte(ch: str) -> int:
    """The first byte of a character as the client sent it (a byte that was not UTF-8
    arrives as a surrogate escape)."""
    if 0xDC80 <= ord(ch) <= 0xDCFF:
        return ord(ch) - 0xDC00
    return ord(ch) if ord(ch) < 256 else ch.encode("utf-8", "surrogateescape")[0]


def _translation(spec: str) -> dict[str, str]:
    """auth_username_translation = "from to from to...": pairs of characters."""
    return {spec[i]: spec[i + 1] for i in range(0, len(spec) - 1, 2)}


def _username_accepted(filters: tuple[str, ...], username: str) -> bool:
    """auth_request_username_accepted(): ``!pattern`` excludes, any include must match."""
    have_includes = matched = False
    for pattern in filters:
        exclude = pattern.startswith("!")
        if not exclude:
            have_includes = True
        if fnmatch.fnmatchcase(username, pattern[1:] if exclude else pattern):
            if exclude:
                return False
            matched = True
    return matched or not have_includes


def build(config: Any, root: str | None = None) -> Authenticator:
    """An Authenticator for a parsed config, mapping paths into ``root``."""
    return Authenticator(config, PathResolver(root))


__all__ = ["AuthConfigError", "AuthResult", "Authenticator", "CredentialsLookup",
           "DbEntry", "build"]
