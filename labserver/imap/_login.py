"""Before login: what Dovecot's imap-login process does (src/imap-login, src/login-common).

Commands: CAPABILITY, NOOP, LOGOUT, STARTTLS, ENABLE, ID, LOGIN and AUTHENTICATE. Anything
else, and any command whose arguments do not parse, is answered
``BAD Error in IMAP command received by server.`` and counted; the third such command in a
row ends the connection with ``* BYE Too many invalid IMAP commands.``
(``client_invalid_command``; the counter is never reset in imap-login). A line whose tag
is ``LOGIN`` gets Dovecot's hint instead. Replies carry no timing suffix before login.

The plaintext policy is login-common's: ``client_check_plaintext_auth`` for LOGIN,
``sasl_server_get_advertised_mechs`` for the capability list and
``is_login_cmd_disabled`` for LOGINDISABLED.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from . import _commands as c
from ._events import AuthCancelled, AuthRequest, AuthResponse, StartTLS
from ._reader import PRELOGIN_BAD_TEXT
from ._settings import is_plaintext_mech, is_private_mech

if TYPE_CHECKING:
    from ._connection import ImapConnection

# src/imap-login/imap-login-client.c and .h
CLIENT_MAX_BAD_COMMANDS = 3
IMAP_LOGIN_MAX_LINE_LENGTH = 8192
CAPABILITY_BANNER = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE"

# src/login-common/client-common.h
AUTH_FAILED_MSG = "Authentication failed."
AUTH_TEMP_FAILED_MSG = "Temporary authentication failure."
AUTH_PLAINTEXT_DISABLED_MSG = (
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
PASSWORD_EXPOSED_MSG = ("Plaintext authentication not allowed without SSL/TLS, but your "
                        "client did it anyway. If anyone was listening, the password was "
                        "exposed.")
SSL_REQUIRED_MSG = "Authentication not allowed until SSL/TLS is enabled."
UNAUTHENTICATED_LOGOUT_MSG = "Aborted login by logging out"
LOGIN_AS_TAG_MSG = ("First parameter in line is IMAP's command tag, not the command name. "
                    "Add that before the command, like: a login user pass")

# login-common/client-common.c client_get_extra_disconnect_reason(): fail codes that
# replace the "(auth failed, N attempts in S secs)" text.
FAIL_REASONS = {
    "temp_fail": "(auth service reported temporary failure)",
    "user_disabled": "(user disabled)",
    "pass_expired": "(password expired)",
    "invalid_base64": "(sent invalid base64 in response)",
    "login_disabled": "(login disabled)",
    "auth_mech_invalid": "(tried to use unsupported auth mechanism)",
    "auth_mech_ssl_required": "(tried to use disallowed plaintext auth)",
}


class Login:
    """The imap-login half of a connection."""

    def __init__(self, conn: ImapConnection) -> None:
        self.conn = conn
        self.bad_counter = 0
        self.auth_attempts = 0
        self.auth_first_started = 0.0
        self.auth_try_aborted = False
        # login-common's auth_waiting: set while a challenge waits for the client's answer,
        # cleared only by an answer, so a "*" (cancel) leaves it set
        self.abort_left_waiting = False
        self.last_auth_fail: str | None = None
        self.tag = b"*"  # the tag of the command being authenticated
        # imap-login: a client that asked CAPABILITY itself gets the post-login
        # capabilities untagged, before a plain "OK Logged in".
        self.client_ignores_capability_resp_code = False
        self.commands = {
            c.Capability: self.cmd_capability, c.Noop: self.cmd_noop,
            c.Logout: self.cmd_logout, c.StartTLS: self.cmd_starttls,
            c.Enable: self.cmd_enable, c.Id: self.cmd_id, c.Login: self.cmd_login,
            c.Authenticate: self.cmd_authenticate,
        }

    # ---- capabilities and policy ----------------------------------------------

    def advertised_mechs(self) -> list[str]:
        """login-common ``sasl_server_get_advertised_mechs``."""
        conn = self.conn
        set_ = conn.settings
        if not conn.secured and set_.ssl == "required":
            return []
        # MECH_SEC_PRIVATE mechanisms (APOP) are never advertised.
        return [m for m in set_.auth_mechanisms if not is_private_mech(m)
                and (conn.secured or not set_.disable_plaintext_auth
                     or not is_plaintext_mech(m))]

    def login_cmd_disabled(self) -> bool:
        """imap-login ``is_login_cmd_disabled``."""
        conn = self.conn
        if conn.secured:
            return "PLAIN" not in conn.settings.auth_mechanisms
        return conn.settings.disable_plaintext_auth or conn.settings.ssl == "required"

    def capability(self) -> str:
        """imap-login ``get_capability``."""
        conn = self.conn
        set_ = conn.settings
        if set_.fixed_capabilities is not None:
            fixed = set_.fixed_capabilities
            return fixed.prelogin_tls if conn.tls else fixed.prelogin
        explicit = bool(set_.imap_capability) and not set_.imap_capability.startswith("+")
        if not set_.imap_capability:
            caps = CAPABILITY_BANNER
        elif explicit:
            caps = set_.imap_capability
        else:
            caps = CAPABILITY_BANNER + " " + set_.imap_capability[1:]
        if not explicit:
            caps += " LITERAL-" if set_.imap_literal_minus else " LITERAL+"
        if conn.tls_available and not conn.tls:
            caps += " STARTTLS"
        if self.login_cmd_disabled():
            caps += " LOGINDISABLED"
        return caps + "".join(f" AUTH={m}" for m in self.advertised_mechs())

    def greeting(self) -> bytes:
        return f"* OK [CAPABILITY {self.capability()}] {self.conn.settings.login_greeting}\r\n" \
            .encode("utf-8", "surrogateescape")

    # ---- replies -----------------------------------------------------------------

    def reply(self, status: str, text: str, code: str | None = None,
              tag: bytes | None = None) -> None:
        body = f"[{code}] {text}" if code else text
        line = self.conn.settings.replies(f"{status} {body}")
        self.conn._reply((tag if tag is not None else self.tag) + b" "
                         + line.encode("utf-8", "surrogateescape") + b"\r\n")

    def untagged(self, text: str) -> None:
        text = self.conn.settings.replies(text)
        self.conn._reply(b"* " + text.encode("utf-8", "surrogateescape") + b"\r\n")

    # ---- input -------------------------------------------------------------------

    def handle(self, event: c.Event) -> None:
        """One event of the command reader, in the not-authenticated state."""
        conn = self.conn
        if isinstance(event, c.LiteralPending):
            # imap-login's parser answers a synchronizing literal itself.
            if event.synchronizing:
                conn._reply(b"+ OK\r\n")
            conn.reader.accept_literal()
            return
        if isinstance(event, c.FatalError):
            self.untagged("BYE " + event.text)
            conn._login_destroy(event.text)
            return
        if isinstance(event, c.BadCommand):
            self.tag = event.tag or b"*"
            if event.tag.upper() == b"LOGIN" and event.reason == "Unknown command.":
                self.reply("BAD", LOGIN_AS_TAG_MSG)
                return
            self.invalid_command()
            return
        if isinstance(event, c.ContinuationLine):
            return  # handled by sasl_line()
        handler = self.commands.get(type(event))
        self.tag = getattr(event, "tag", b"*") or b"*"
        name = getattr(event, "name", "") or type(event).__name__.upper()
        if handler is None or name in conn.settings.disabled_commands:
            self.invalid_command()
            return
        handler(event)

    def invalid_command(self) -> None:
        """imap-login ``client_invalid_command``."""
        self.bad_counter += 1
        if self.bad_counter >= CLIENT_MAX_BAD_COMMANDS:
            self.untagged("BYE Too many invalid IMAP commands.")
            self.conn._login_destroy("Too many invalid commands")
            return
        self.reply("BAD", PRELOGIN_BAD_TEXT)

    def sasl_line(self, line: bytes) -> None:
        """A client line after ``+ challenge``."""
        if line == b"*":
            self.auth_try_aborted = True
            self.abort_left_waiting = True
            self.reply("BAD", "Authentication aborted by client.")
            self.conn._emit(AuthCancelled())
            return
        self.conn._emit(AuthResponse(line))

    # ---- commands ------------------------------------------------------------------

    def cmd_capability(self, cmd: c.Capability) -> None:
        if not self.conn.tls_started_once:
            self.client_ignores_capability_resp_code = True
        self.untagged("CAPABILITY " + self.capability())
        self.reply("OK", "Pre-login capabilities listed, post-login capabilities have more.")

    def cmd_noop(self, cmd: c.Noop) -> None:
        self.reply("OK", "NOOP completed.")

    def cmd_logout(self, cmd: c.Logout) -> None:
        self.untagged("BYE Logging out")
        self.reply("OK", "Logout completed.")
        self.conn._login_destroy(UNAUTHENTICATED_LOGOUT_MSG)

    def cmd_enable(self, cmd: c.Enable) -> None:
        self.untagged("ENABLED")
        self.reply("OK", "ENABLE ignored in non-authenticated state.")

    def cmd_id(self, cmd: c.Id) -> None:
        self.conn._reply(self.conn.id_reply())
        self.reply("OK", "ID completed.")

    def cmd_starttls(self, cmd: c.StartTLS) -> None:
        """login-common ``client_cmd_starttls``."""
        conn = self.conn
        if conn.tls:
            self.reply("BAD", "TLS is already active.")
            return
        if not conn.tls_available:
            self.reply("BAD", "TLS support isn't enabled.")
            return
        self.reply("OK", "Begin TLS negotiation now.")
        conn._emit(StartTLS())

    def cmd_login(self, cmd: c.Login) -> None:
        conn = self.conn
        user = cmd.user.decode("utf-8", "surrogateescape")
        if not self.plaintext_allowed():
            if conn.virtual_user is None:
                conn.virtual_user = user
            return
        ir = base64.b64encode(b"\0" + cmd.user + b"\0" + cmd.password)
        self.begin_auth("PLAIN", ir, command="LOGIN", username=user, password=cmd.password)

    def cmd_authenticate(self, cmd: c.Authenticate) -> None:
        ir = cmd.initial_response
        self.begin_auth(cmd.mechanism, ir if ir else None)

    # ---- authentication (login-common client-common-auth.c, sasl-server.c) ---------

    def plaintext_allowed(self) -> bool:
        """``client_check_plaintext_auth(client, pass_sent=TRUE)``."""
        conn = self.conn
        ssl_required = conn.settings.ssl == "required"
        if conn.secured or (not conn.settings.disable_plaintext_auth and not ssl_required):
            return True
        if conn.settings.auth_verbose:
            conn._log_login("Login failed: Plaintext authentication disabled")
        conn._reply(b"* BAD [ALERT] " + PASSWORD_EXPOSED_MSG.encode() + b"\r\n")
        self.reply("NO", AUTH_PLAINTEXT_DISABLED_MSG, "PRIVACYREQUIRED")
        self.auth_attempts += 1
        return False

    def begin_auth(self, mech: str, initial: bytes | None, *, command: str = "AUTHENTICATE",
                   username: str | None = None, password: bytes | None = None) -> None:
        conn = self.conn
        if not conn.secured and conn.settings.ssl == "required":
            if conn.settings.auth_verbose:
                conn._log_login("Login failed: SSL required for authentication")
            self.auth_attempts += 1
            self.reply("NO", SSL_REQUIRED_MSG, "PRIVACYREQUIRED")
            return
        self.auth_attempts += 1
        if not self.auth_first_started:
            self.auth_first_started = conn._now()
        conn.auth_mech_name = mech.upper()
        if mech.upper() not in conn.settings.auth_mechanisms or is_private_mech(mech):
            self.fail("auth_mech_invalid", "Unsupported authentication mechanism.")
            return
        if (not conn.secured and conn.settings.disable_plaintext_auth
                and is_plaintext_mech(mech)):
            self.fail("auth_mech_ssl_required", "Plaintext authentication disabled.")
            return
        conn._emit(AuthRequest(mechanism=mech.upper(), initial_response=initial,
                               command=command, username=username, password=password,
                               secured=conn.secured, tls=conn.tls,
                               session_id=conn.session_id))

    def fail(self, code: str | None, reason: str | None) -> None:
        """imap-login ``imap_client_auth_result`` for a failure."""
        conn = self.conn
        self.last_auth_fail = code
        if conn.settings.auth_verbose and reason:
            conn._log_login(f"Authenticate {conn.auth_mech_name} failed: {reason}")
        if code in ("invalid_base64", "aborted"):
            self.reply("BAD", reason or AUTH_FAILED_MSG)
        elif code in ("auth_mech_invalid", "authfailed_reason"):
            text = reason or "Unsupported authentication mechanism."
            if text.startswith("["):
                self.reply("NO", text)
            else:
                self.reply("NO", text, "ALERT")
        elif code in ("auth_mech_ssl_required", "ssl_required"):
            self.reply("NO", reason or AUTH_PLAINTEXT_DISABLED_MSG, "PRIVACYREQUIRED")
        elif code == "temp_fail":
            stamp = conn._local_time("%Y-%m-%d %H:%M:%S")
            self.reply("NO", f"{AUTH_TEMP_FAILED_MSG} [{conn.hostname}:{stamp}]",
                       "UNAVAILABLE")
        elif code == "pass_expired":
            self.reply("NO", reason or AUTH_FAILED_MSG, "EXPIRED")
        elif code in ("login_disabled", "user_disabled", "anonymous_denied"):
            self.reply("NO", reason or AUTH_FAILED_MSG, "CONTACTADMIN")
        elif code == "authz_fail":
            self.reply("NO", reason or "Authorization failed", "AUTHORIZATIONFAILED")
        else:
            self.reply("NO", AUTH_FAILED_MSG, "AUTHENTICATIONFAILED")

    def extra_disconnect_reason(self) -> str:
        """login-common ``client_get_extra_disconnect_reason`` (the parts that apply)."""
        conn = self.conn
        now = conn._now()
        secs = int(now - conn.created)
        auth_secs = 0 if not self.auth_first_started else int(now - self.auth_first_started)
        if self.auth_attempts == 0:
            return f"(no auth attempts in {secs} secs)"
        state = conn.state.name
        if (state == "SASL_CONTINUE" or self.abort_left_waiting) and self.auth_attempts == 1:
            return f"(client didn't finish SASL auth, waited {auth_secs} secs)"
        if state == "AUTHENTICATING" and self.auth_attempts == 1:
            return f"(disconnected while authenticating, waited {auth_secs} secs)"
        if self.auth_try_aborted and self.auth_attempts == 1:
            return "(aborted authentication)"
        if self.last_auth_fail == "authz_fail":
            return (f"(authorization failed, {self.auth_attempts} attempts "
                    f"in {auth_secs} secs)")
        if self.last_auth_fail in FAIL_REASONS:
            return FAIL_REASONS[self.last_auth_fail]
        return f"(auth failed, {self.auth_attempts} attempts in {auth_secs} secs)"
