"""Before login: what Dovecot's pop3-login process does (src/pop3-login, src/login-common).

Input is read as pop3-login reads it: first a command name of at most eight
characters (``client_read_cmd_name``: it ends at a space, LF or NUL, CRs are
skipped, longer names are cut after eight bytes and the rest becomes the
arguments), then the rest of the line; ``AUTH`` reads its mechanism name and
initial response itself. The input buffer holds ``LOGIN_MAX_INBUF_SIZE`` bytes;
a SASL line may be up to ``LOGIN_MAX_AUTH_BUF_SIZE``.

Only unknown commands count as bad (``client_command_execute`` returns FALSE);
after ``CLIENT_MAX_BAD_COMMANDS`` of them in a row the client is disconnected.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._events import AuthCancelled, AuthRequest, AuthResponse, StartTLS
from ._settings import MECHANISMS, MechFlag

if TYPE_CHECKING:
    from ._connection import Pop3Connection

# src/pop3-login/client.c
CLIENT_MAX_BAD_COMMANDS = 3
CLIENT_MAX_CMD_LEN = 8
# src/login-common/client-common.h: MASTER_AUTH_MAX_DATA_SIZE - 128 - 64
LOGIN_MAX_INBUF_SIZE = (1024 + 128 + 64 + 2) - 128 - 64
LOGIN_MAX_AUTH_BUF_SIZE = 8192

# src/pop3/pop3-capability.h; pop3-login appends STLS, USER and SASL.
CAPABILITY_REPLY = b"CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"

# src/login-common/login-common.h and client-common.h
AUTH_FAILED_MSG = "Authentication failed."
AUTH_TEMP_FAILED_MSG = "Temporary authentication failure."
AUTH_PLAINTEXT_DISABLED_MSG = (
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
UNAUTHENTICATED_LOGOUT_MSG = "Aborted login by logging out"

# Reply prefixes of pop3-login's client_send_reply().
OK, ERROR, AUTH_ERROR, TEMPFAIL = "OK", "ERROR", "AUTH_ERROR", "TEMPFAIL"

# login-common/client-common-auth.c client_auth_handle_reply(): auth service fail
# codes -> (reply kind, default text, reason given in the disconnect log line).
FAIL_CODES: dict[str, tuple[str, str | None, str]] = {
    "authz_fail": (AUTH_ERROR, "Authorization failed", "authorization failed"),
    "temp_fail": (TEMPFAIL, None, "(auth service reported temporary failure)"),
    "user_disabled": (AUTH_ERROR, None, "(user disabled)"),
    "pass_expired": (AUTH_ERROR, None, "(password expired)"),
    "invalid_base64": (AUTH_ERROR, None, "(sent invalid base64 in response)"),
    "login_disabled": (AUTH_ERROR, "Login disabled for this user", "(login disabled)"),
    "auth_mech_invalid": (AUTH_ERROR, None, "(tried to use unsupported auth mechanism)"),
    "auth_mech_ssl_required": (AUTH_ERROR, None,
                               "(tried to use disallowed plaintext auth)"),
    "anonymous_denied": (ERROR, None, ""),
}


def capa_reply(text: bytes, tls: bool) -> bytes:
    """A personality's fixed CAPA reply; STLS is not offered on a TLS connection."""
    return text.replace(b"\r\nSTLS\r\n", b"\r\n") if tls else text


def format_reply(kind: str, text: str) -> bytes:
    """pop3-login ``client_send_reply``: the prefix depends on the kind of reply."""
    if kind == OK:
        prefix = "+OK"
    elif kind == TEMPFAIL:
        prefix = "-ERR [SYS/TEMP]"
    elif kind == AUTH_ERROR:
        prefix = "-ERR" if text.startswith("[") else "-ERR [AUTH]"
    else:
        prefix = "-ERR"
    return f"{prefix} {text}\r\n".encode("utf-8", "surrogateescape")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


class Login:
    """The pop3-login half of a connection; the facade feeds it the input buffer."""

    def __init__(self, conn: Pop3Connection) -> None:
        self.conn = conn
        self.current_cmd: bytes | None = None
        self.mech_name: bytes | None = None  # AUTH: mechanism parsed, IR pending
        self.auth_line = bytearray()  # AUTH initial response or SASL line so far
        self.last_user: str | None = None
        self.apop_challenge: str | None = None
        self.bad_counter = 0
        self.auth_attempts = 0
        self.auth_first_started = 0.0
        self.auth_try_aborted = False
        # login-common's auth_waiting: set while a challenge waits for the client's answer,
        # cleared only by an answer, so a "*" (cancel) leaves it set
        self.abort_left_waiting = False
        self.last_auth_fail: str | None = None
        self.commands: dict[bytes, Callable[[bytes], bool]] = {
            b"CAPA": self.cmd_capa, b"USER": self.cmd_user, b"PASS": self.cmd_pass,
            b"APOP": self.cmd_apop, b"STLS": self.cmd_stls, b"QUIT": self.cmd_quit,
            b"XCLIENT": self.cmd_xclient, b"XOIP": self.cmd_xoip,
        }

    # ---- input ----------------------------------------------------------------

    def step(self) -> bool:
        """Handle at most one command (or SASL line); False when input is lacking."""
        conn = self.conn
        buf = conn._inbuf
        if self.current_cmd is None:
            name = self._read_cmd_name(buf)
            if name is None:
                return self._check_full(buf)
            self.current_cmd = name
        if self.current_cmd == b"AUTH":
            return self._auth_input(buf)
        end = buf.find(b"\n")
        if end < 0 or end >= LOGIN_MAX_INBUF_SIZE:
            return self._check_full(buf)
        line = bytes(buf[:end])
        del buf[:end + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        args = line.split(b"\0", 1)[0]
        cmd, self.current_cmd = self.current_cmd, None
        handler = self.commands.get(cmd)
        conn.reply_command = cmd.decode("ascii", "replace") if handler is not None else ""
        if handler is not None:
            handler(args)
            self.bad_counter = 0
            return True
        conn._reply(format_reply(ERROR, "Unknown command."))
        self.bad_counter += 1
        if self.bad_counter >= CLIENT_MAX_BAD_COMMANDS:
            conn._reply(format_reply(ERROR, "Too many invalid bad commands."))
            conn._login_destroy("Disconnected: Too many bad commands")
        return True

    def _check_full(self, buf: bytearray) -> bool:
        if len(buf) > LOGIN_MAX_INBUF_SIZE:
            # login-common client_read(): i_stream_read() == -2
            self.conn._reply(format_reply(ERROR, "Input buffer full, aborting"))
            self.conn._login_destroy("Input buffer full")
            return True
        return False

    @staticmethod
    def _read_cmd_name(buf: bytearray) -> bytes | None:
        """pop3-login ``client_read_cmd_name``, quirks included."""
        name = bytearray()
        for i, c in enumerate(buf):
            if c == 0x0D:
                continue
            if c in (0x20, 0x0A, 0x00) or i >= CLIENT_MAX_CMD_LEN:
                del buf[:i + (1 if c == 0x20 else 0)]
                return bytes(name)
            name.append(c - 32 if 0x61 <= c <= 0x7A else c)
        return None

    def _read_auth_line(self, buf: bytearray) -> bytes | None:
        """login-common ``client_auth_read_line``; None: need more (or destroyed)."""
        end = buf.find(b"\n")
        take = len(buf) if end < 0 else end
        if len(self.auth_line) + take > LOGIN_MAX_AUTH_BUF_SIZE:
            self.conn._login_destroy("Authentication response too large")
            return None
        self.auth_line += buf[:take]
        del buf[:take if end < 0 else end + 1]
        if end < 0:
            return None
        line = bytes(self.auth_line)
        self.auth_line.clear()
        return line[:-1] if line.endswith(b"\r") else line

    def _auth_input(self, buf: bytearray) -> bool:
        """pop3-login ``cmd_auth``: ``AUTH [mech [initial-response]]``."""
        conn = self.conn
        if self.mech_name is None:
            i = next((k for k, c in enumerate(buf) if c in (0x20, 0x0D, 0x0A)), None)
            if i is None:
                return self._check_full(buf)
            if i == 0:
                # Old-style SASL discovery, used by MS Outlook.
                out = b"+OK\r\n" + b"".join(m.encode() + b"\r\n"
                                            for m in self.advertised_mechs())
                conn._reply(out + b".\r\n")
                end = buf.find(b"\n")
                if end >= 0:
                    del buf[:end + 1]
                else:
                    buf.clear()
                self.current_cmd = None  # AUTH leaves the bad command counter alone
                return True
            self.mech_name = bytes(buf[:i])
            del buf[:i + (1 if buf[i] == 0x20 else 0)]
        had = len(buf)
        line = self._read_auth_line(buf)
        if line is None:
            return conn.state.name == "CLOSED" or len(buf) != had
        mech = _text(self.mech_name)
        self.mech_name = None
        self.current_cmd = None
        self.begin_auth(mech, line or None, command="AUTH")
        return True

    def sasl_step(self) -> bool:
        """A client line after ``+ challenge``."""
        buf = self.conn._inbuf
        had = len(buf)
        line = self._read_auth_line(buf)
        if line is None:
            return self.conn.state.name == "CLOSED" or len(buf) != had
        if line == b"*":
            # login-common sasl_server_auth_abort(); reply as pop3-login's default.
            self.auth_try_aborted = True
            self.abort_left_waiting = True
            self.conn._reply(format_reply(ERROR, "Authentication aborted by client."))
            self.conn._emit(AuthCancelled())
            return True
        self.conn._emit(AuthResponse(line))
        return True

    # ---- policy ---------------------------------------------------------------

    def mech_flags(self, name: str) -> MechFlag | None:
        """``sasl_server_find_available_mech``: None when the auth service lacks it."""
        name = name.upper()
        if name not in self.conn.settings.auth_mechanisms:
            return None
        return MECHANISMS.get(name, MechFlag.NONE)

    def advertised_mechs(self) -> list[str]:
        """login-common ``sasl_server_get_advertised_mechs``."""
        conn = self.conn
        set_ = conn.settings
        if not conn.secured and set_.ssl == "required":
            return []
        result = []
        for name in set_.auth_mechanisms:
            flags = MECHANISMS.get(name, MechFlag.NONE)
            if MechFlag.PRIVATE in flags:
                continue
            if (conn.secured or not set_.disable_plaintext_auth
                    or MechFlag.PLAINTEXT not in flags):
                result.append(name)
        return result

    def plaintext_allowed(self) -> bool:
        """login-common ``client_check_plaintext_auth``; replies when it is not."""
        conn = self.conn
        ssl_required = conn.settings.ssl == "required"
        if conn.secured or (not conn.settings.disable_plaintext_auth and not ssl_required):
            return True
        if conn.settings.auth_verbose:
            conn._log_login("Login failed: Plaintext authentication disabled")
        conn._reply(format_reply(AUTH_ERROR, AUTH_PLAINTEXT_DISABLED_MSG))
        self.auth_attempts += 1
        return False

    def begin_auth(self, mech: str, initial: bytes | None, *, command: str,
                   private: bool = False, **fields: object) -> None:
        """``client_auth_begin_common`` + ``sasl_server_auth_begin``."""
        conn = self.conn
        if not conn.secured and conn.settings.ssl == "required":
            if conn.settings.auth_verbose:
                conn._log_login("Login failed: SSL required for authentication")
            self.auth_attempts += 1
            conn._reply(format_reply(
                AUTH_ERROR, "Authentication not allowed until SSL/TLS is enabled."))
            return
        self.auth_attempts += 1
        if not self.auth_first_started:
            self.auth_first_started = conn._now()
        conn.auth_mech_name = mech.upper()
        flags = self.mech_flags(mech)
        if flags is None or (MechFlag.PRIVATE in flags and not private):
            self.fail("auth_mech_invalid", "Unsupported authentication mechanism.")
            return
        if (not conn.secured and conn.settings.disable_plaintext_auth
                and MechFlag.PLAINTEXT in flags):
            self.fail("auth_mech_ssl_required", "Plaintext authentication disabled.")
            return
        conn._emit(AuthRequest(mechanism=mech.upper(), initial_response=initial,
                               command=command, secured=conn.secured, tls=conn.tls,
                               session_id=conn.session_id, **fields))  # type: ignore[arg-type]

    def fail(self, code: str | None, reason: str | None) -> None:
        """A failed authentication: reply as ``client_auth_handle_reply`` does."""
        conn = self.conn
        self.last_auth_fail = code
        if conn.settings.auth_verbose and reason:
            conn._log_login(f"Authenticate {conn.auth_mech_name} failed: {reason}")
        kind, default, _ = FAIL_CODES.get(code or "", (AUTH_ERROR, None, ""))
        if code == "temp_fail":
            stamp = conn._local_time("%Y-%m-%d %H:%M:%S")
            text = f"{AUTH_TEMP_FAILED_MSG} [{conn.hostname}:{stamp}]"
        else:
            text = reason or default or AUTH_FAILED_MSG
        conn._reply(format_reply(kind, text))

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
        if self.last_auth_fail in FAIL_CODES and FAIL_CODES[self.last_auth_fail][2] \
                and self.last_auth_fail != "authz_fail":
            return FAIL_CODES[self.last_auth_fail][2]
        return f"(auth failed, {self.auth_attempts} attempts in {auth_secs} secs)"

    # ---- commands (src/pop3-login/client.c, client-authenticate.c) ----------------

    def cmd_capa(self, args: bytes) -> bool:
        conn = self.conn
        if conn.settings.capa_reply:
            conn._reply(capa_reply(conn.settings.capa_reply, conn.tls))
            return True
        out = b"+OK\r\n" + CAPABILITY_REPLY
        if conn.tls_available and not conn.tls:
            out += b"STLS\r\n"
        if not conn.settings.disable_plaintext_auth or conn.secured:
            out += b"USER\r\n"
        out += b"SASL" + b"".join(b" " + m.encode() for m in self.advertised_mechs())
        conn._reply(out + b"\r\n.\r\n")
        return True

    def cmd_user(self, args: bytes) -> bool:
        if not self.plaintext_allowed():
            if self.conn.virtual_user is None:
                self.conn.virtual_user = _text(args)
            return True
        self.last_user = _text(args)
        self.conn._reply(b"+OK\r\n")
        return True

    def cmd_pass(self, args: bytes) -> bool:
        if self.last_user is None:
            # The client may ignore USER's reply and show only PASS's error.
            if self.plaintext_allowed():
                self.conn._reply(format_reply(ERROR, "No username given."))
            return True
        user, self.last_user = self.last_user, None
        plain = b"\0" + user.encode("utf-8", "surrogateescape") + b"\0" + args
        self.begin_auth("PLAIN", base64.b64encode(plain), command="USER/PASS",
                        username=user, password=bytes(args))
        return True

    def cmd_apop(self, args: bytes) -> bool:
        conn = self.conn
        if self.apop_challenge is None:
            if conn.settings.auth_verbose:
                conn._log_login("APOP failed: APOP not enabled")
            conn._reply(format_reply(ERROR, "APOP not enabled."))
            return True
        user, sep, digest = args.partition(b" ")
        if not sep or len(digest) != 32:
            if conn.settings.auth_verbose:
                conn._log_login("APOP failed: Invalid parameters")
            conn._reply(format_reply(ERROR, "Invalid parameters."))
            return True
        try:
            raw = bytes.fromhex(digest.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            if conn.settings.auth_verbose:
                conn._log_login("APOP failed: Invalid characters in MD5 response")
            conn._reply(format_reply(ERROR, "Invalid characters in MD5 response."))
            return True
        data = self.apop_challenge.encode() + b"\0" + user + b"\0" + raw
        self.begin_auth("APOP", base64.b64encode(data), command="APOP", private=True,
                        username=_text(user), apop_challenge=self.apop_challenge,
                        apop_digest=digest.decode("ascii").lower())
        return True

    def cmd_stls(self, args: bytes) -> bool:
        """login-common ``client_cmd_starttls``."""
        conn = self.conn
        if conn.tls:
            conn._reply(format_reply(ERROR, "TLS is already active."))
        elif not conn.tls_available:
            conn._reply(format_reply(ERROR, "TLS support isn't enabled."))
        else:
            conn._reply(format_reply(OK, "Begin TLS negotiation now."))
            conn._emit(StartTLS())
        return True

    def cmd_quit(self, args: bytes) -> bool:
        self.conn._reply(format_reply(OK, "Logging out"))
        self.conn._login_destroy(UNAUTHENTICATED_LOGOUT_MSG)
        return True

    def cmd_xclient(self, args: bytes) -> bool:
        conn = self.conn
        if not conn.trusted:
            conn._reply(format_reply(OK, "You are not from trusted IP - ignoring"))
            return True
        ok = True
        for item in _text(args).split(" "):
            key, _, value = item.partition("=")
            key = key.upper()
            if key == "ADDR":
                ok = conn._set_remote_ip(value) and ok
            elif key == "PORT":
                if value.isdigit() and 0 < int(value) < 65536:
                    conn.remote_port = int(value)
                else:
                    ok = False
            elif key == "SESSION":
                if len(value) <= 64:
                    conn.session_id = value
            elif key == "TTL" and not value.isdigit():
                ok = False
        if not ok:
            conn._reply(format_reply(ERROR, "Invalid parameters"))
            return True
        conn._reply(format_reply(OK, "Updated"))
        return True

    def cmd_xoip(self, args: bytes) -> bool:
        # Compatibility with Zimbra's patched nginx.
        return self.cmd_xclient(b"ADDR=" + args)
