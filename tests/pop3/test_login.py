"""Before login: greeting, CAPA, USER/PASS, APOP, AUTH, STLS, QUIT, the policy."""

from __future__ import annotations

import base64
import hashlib
import ipaddress

import pytest

from labserver.pop3 import (
    NEED_DATA,
    PAUSED,
    AuthRequest,
    Close,
    LocalProtocolError,
    Pop3Connection,
    Pop3Settings,
    SendData,
    StartTLS,
    State,
)

from .fakes import Driver, FakeMailbox, transcript

CAPA_HEAD = ["S: +OK", "S: CAPA", "S: TOP", "S: UIDL", "S: RESP-CODES", "S: PIPELINING",
             "S: AUTH-RESP-CODE"]
PLAINTEXT_MSG = ("-ERR [AUTH] Plaintext authentication disallowed on non-secure "
                 "(SSL/TLS) connections.")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def remote(**settings) -> Driver:
    """A client from another address: not secured."""
    return Driver(Pop3Settings(**settings), remote_ip="192.0.2.7", local_ip="192.0.2.1")


def test_greeting_without_apop():
    transcript(["S: +OK Dovecot ready."])


def test_greeting_custom_and_apop_timestamp():
    d = Driver(Pop3Settings(login_greeting="Lab POP3 ready.",
                            auth_mechanisms=("PLAIN", "APOP")))
    greeting = d.output.decode()
    assert greeting.startswith("+OK Lab POP3 ready. <")
    stamp = greeting.split(" ")[-1].strip()
    assert stamp.endswith("@lab>") and stamp.count(".") >= 3


def test_greeting_xclient_for_trusted_network():
    d = Driver(remote_ip="10.0.0.5", local_ip="10.0.0.1")
    assert d.output == b"+OK Dovecot ready.\r\n" and not d.conn.secured
    d = Driver(Pop3Settings(login_trusted_networks=(ipaddress.ip_network("10.0.0.0/8"),)),
               remote_ip="10.0.0.5", local_ip="10.0.0.1")
    assert d.output == b"+OK [XCLIENT] Dovecot ready.\r\n"
    assert d.conn.secured


def test_capa_local_connection_lists_user_and_stls():
    transcript(["C: CAPA", *CAPA_HEAD, "S: STLS", "S: USER", "S: SASL PLAIN", "S: ."])


def test_capa_remote_hides_user_and_plaintext_mechs():
    d = remote(auth_mechanisms=("PLAIN", "LOGIN", "CRAM-MD5", "APOP"))
    transcript(["C: capa", *CAPA_HEAD, "S: STLS", "S: SASL CRAM-MD5", "S: ."], d)


def test_capa_remote_plaintext_allowed():
    d = remote(disable_plaintext_auth=False, auth_mechanisms=("PLAIN", "LOGIN"))
    transcript(["C: CAPA", *CAPA_HEAD, "S: STLS", "S: USER", "S: SASL PLAIN LOGIN", "S: ."],
               d)


def test_capa_ssl_required_remote_has_empty_sasl_and_ssl_no_hides_stls():
    d = remote(ssl="required", disable_plaintext_auth=False)
    transcript(["C: CAPA", *CAPA_HEAD, "S: STLS", "S: USER", "S: SASL", "S: ."], d)
    d = Driver(Pop3Settings(ssl="no"))
    transcript(["C: CAPA", *CAPA_HEAD, "S: USER", "S: SASL PLAIN", "S: ."], d)


def test_user_pass_login_and_log_line():
    d = transcript(["C: USER alice", "S: +OK", "C: PASS secret", "S: +OK Logged in."])
    assert d.conn.state is State.TRANSACTION
    assert d.logs == ["pop3-login: Info: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, "
                      "lip=127.0.0.1, mpid=4242, secured, session=<SESSION>"]


def test_wrong_password_then_retry():
    d = transcript(["C: USER alice", "S: +OK", "C: PASS nope",
                    "S: -ERR [AUTH] Authentication failed.",
                    "C: PASS secret", "S: -ERR No username given.",
                    "C: USER alice", "S: +OK", "C: PASS secret", "S: +OK Logged in."])
    assert d.conn.login.auth_attempts == 2


def test_pass_request_carries_plain_initial_response():
    conn = Pop3Connection(Pop3Settings(), session_id="S")
    conn.start()
    conn.receive_data(b"USER bob\r\nPASS pw\r\n")
    assert conn.next_event() == SendData(b"+OK\r\n")
    req = conn.next_event()
    assert isinstance(req, AuthRequest)
    assert req.mechanism == "PLAIN" and req.command == "USER/PASS"
    assert base64.b64decode(req.initial_response) == b"\0bob\0pw"
    assert (req.username, req.password, req.secured) == ("bob", b"pw", True)
    assert conn.next_event() is PAUSED
    assert conn.auth_failed() == b"-ERR [AUTH] Authentication failed.\r\n"
    assert conn.next_event() is NEED_DATA


def test_plaintext_disallowed_remote():
    d = remote()
    transcript(["C: USER alice", f"S: {PLAINTEXT_MSG}",
                "C: PASS secret", f"S: {PLAINTEXT_MSG}",
                "C: AUTH PLAIN " + b64(b"\0alice\0secret"),
                "S: -ERR [AUTH] Plaintext authentication disabled."], d)
    assert d.conn.state is State.AUTHORIZATION


def test_ssl_required_blocks_every_auth_until_tls():
    d = remote(ssl="required", disable_plaintext_auth=False,
               auth_mechanisms=("PLAIN", "CRAM-MD5"))
    transcript(["C: USER alice", f"S: {PLAINTEXT_MSG}",
                "C: AUTH CRAM-MD5",
                "S: -ERR [AUTH] Authentication not allowed until SSL/TLS is enabled.",
                "C: STLS", "S: +OK Begin TLS negotiation now.",
                "C: USER alice", "S: +OK", "C: PASS secret", "S: +OK Logged in."], d)
    assert d.tls_requests == 1
    assert "TLS" in d.logs[-1]


def test_stls_states():
    transcript(["C: STLS", "S: +OK Begin TLS negotiation now.",
                "C: STLS", "S: -ERR TLS is already active.",
                "C: CAPA", *CAPA_HEAD, "S: USER", "S: SASL PLAIN", "S: ."])
    transcript(["C: STLS", "S: -ERR TLS support isn't enabled."],
               Driver(Pop3Settings(ssl="no")))


def test_stls_event_and_plaintext_after_it_is_dropped():
    conn = Pop3Connection(Pop3Settings(), session_id="S")
    conn.start()
    conn.receive_data(b"STLS\r\nUSER injected\r\n")
    assert conn.next_event() == SendData(b"+OK Begin TLS negotiation now.\r\n")
    assert conn.next_event() == StartTLS()
    assert conn.next_event() is PAUSED
    assert conn.tls_started() == b""
    assert conn.next_event() is NEED_DATA
    assert conn.login.last_user is None


def test_auth_plain_initial_response_and_continuation():
    transcript(["C: AUTH PLAIN " + b64(b"\0alice\0secret"), "S: +OK Logged in."])
    transcript(["C: AUTH PLAIN", "S: + ", "C: " + b64(b"\0alice\0secret"),
                "S: +OK Logged in."])
    transcript(["C: auth plain =", "S: -ERR [AUTH] Authentication failed."])


def test_auth_login_two_steps_and_cancel():
    s = Pop3Settings(auth_mechanisms=("PLAIN", "LOGIN"))
    transcript(["C: AUTH LOGIN", "S: + VXNlcm5hbWU6", "C: " + b64(b"alice"),
                "S: + UGFzc3dvcmQ6", "C: " + b64(b"secret"), "S: +OK Logged in."],
               settings=s)
    d = transcript(["C: AUTH LOGIN", "S: + VXNlcm5hbWU6", "C: *",
                    "S: -ERR Authentication aborted by client.",
                    "C: QUIT", "S: +OK Logging out"], settings=s)
    # as Dovecot 2.3.19: a cancel leaves login-common's auth_waiting set
    assert d.logs[-1].startswith("pop3-login: Info: Disconnected: Aborted login by logging "
                                 "out (client didn't finish SASL auth, waited 0 secs): "
                                 "user=<>, method=LOGIN")


def test_auth_unknown_and_private_mechanisms():
    s = Pop3Settings(auth_mechanisms=("PLAIN", "APOP"))
    transcript(["C: AUTH CRAM-MD5", "S: -ERR [AUTH] Unsupported authentication mechanism.",
                "C: AUTH APOP", "S: -ERR [AUTH] Unsupported authentication mechanism."],
               settings=s)


def test_auth_discovery_without_mechanism():
    transcript(["C: AUTH", "S: +OK", "S: PLAIN", "S: LOGIN", "S: ."],
               settings=Pop3Settings(auth_mechanisms=("PLAIN", "LOGIN")))


def test_auth_invalid_base64_reported_by_auth_layer():
    transcript(["C: AUTH PLAIN !!!",
                "S: -ERR [AUTH] Invalid base64 data in initial response"])


def test_auth_fail_codes():
    conn = Pop3Connection(Pop3Settings(), session_id="S", hostname="h",
                          clock=lambda: 0.0)
    conn.start()
    expected = {
        "temp_fail": b"-ERR [SYS/TEMP] Temporary authentication failure. [h:",
        "authz_fail": b"-ERR [AUTH] Authorization failed\r\n",
        "user_disabled": b"-ERR [AUTH] Authentication failed.\r\n",
        "anonymous_denied": b"-ERR Authentication failed.\r\n",
    }
    for code, want in expected.items():
        conn.receive_data(b"AUTH PLAIN AGEAYg==\r\n")
        assert isinstance(conn.next_event(), AuthRequest)
        assert conn.auth_failed(code=code).startswith(want)
    conn.receive_data(b"AUTH PLAIN AGEAYg==\r\n")
    conn.next_event()
    assert conn.auth_failed("[ALERT] go away") == b"-ERR [ALERT] go away\r\n"


def test_apop():
    s = Pop3Settings(auth_mechanisms=("PLAIN", "APOP"))
    d = Driver(s, apop_challenge="<1.2.3.abc@lab>")
    assert d.output == b"+OK Dovecot ready. <1.2.3.abc@lab>\r\n"
    digest = hashlib.md5(b"<1.2.3.abc@lab>secret").hexdigest()
    transcript(["C: APOP alice", "S: -ERR Invalid parameters.",
                "C: APOP alice " + "z" * 32, "S: -ERR Invalid characters in MD5 response.",
                "C: APOP alice " + "0" * 32, "S: -ERR [AUTH] Authentication failed.",
                "C: APOP alice " + digest, "S: +OK Logged in."], d)
    assert d.logs[0].startswith("pop3-login: Info: Login: user=<alice>, method=APOP")


def test_apop_not_enabled():
    transcript(["C: APOP alice " + "0" * 32, "S: -ERR APOP not enabled."])


def test_quit_before_login_and_log():
    d = transcript(["C: QUIT", "S: +OK Logging out"])
    assert d.closed
    assert d.logs == ["pop3-login: Info: Disconnected: Aborted login by logging out "
                      "(no auth attempts in 0 secs): user=<>, rip=127.0.0.1, lip=127.0.0.1, "
                      "secured, session=<SESSION>"]


def test_three_unknown_commands_disconnect():
    d = transcript(["C: NOOP", "S: -ERR Unknown command.",
                    "C: STAT", "S: -ERR Unknown command.",
                    "C: LIST", "S: -ERR Unknown command.",
                    "S: -ERR Too many invalid bad commands."])
    assert d.closed
    assert "Disconnected: Disconnected: Too many bad commands (no auth attempts" in d.logs[0]


def test_good_command_resets_bad_counter():
    d = transcript(["C: X", "S: -ERR Unknown command.", "C: Y", "S: -ERR Unknown command.",
                    "C: CAPA", *CAPA_HEAD, "S: STLS", "S: USER", "S: SASL PLAIN", "S: .",
                    "C: Z", "S: -ERR Unknown command.", "C: W", "S: -ERR Unknown command."])
    assert not d.closed


def test_long_command_names_are_cut_after_eight_bytes():
    # CAPABILITY is read as CAPABILI with "TY" as its arguments.
    transcript(["C: CAPABILITY", "S: -ERR Unknown command.",
                "C: USERNAMEalice", "S: -ERR Unknown command."])


def test_user_with_empty_line_and_nul():
    transcript(["C:", "S: -ERR Unknown command.",
                "C: USER al\0ice", "S: +OK"])


def test_input_buffer_full():
    d = Driver()
    out = d.send(b"USER " + b"a" * 1100)
    assert out == b"-ERR Input buffer full, aborting\r\n"
    assert d.closed and "Disconnected: Input buffer full" in d.logs[0]
    d = Driver()
    assert d.send(b"USER " + b"a" * 1024 + b"\r\n") == b"+OK\r\n"


def test_sasl_line_too_long_closes_silently():
    d = Driver()
    assert d.send(b"AUTH PLAIN " + b"A" * 9000) == b""
    assert d.closed and "Authentication response too large" in d.logs[0]


def test_peer_close_before_login_logs_connection_closed():
    d = Driver()
    d.send(b"USER alice\r\nPA")
    d.send(b"")
    assert d.closed
    assert d.logs[0].startswith("pop3-login: Info: Disconnected: Connection closed "
                                "(no auth attempts in 0 secs)")


def test_peer_close_during_sasl():
    d = Driver()
    d.send(b"AUTH PLAIN\r\n")
    d.send(b"")
    assert "(client didn't finish SASL auth, waited 0 secs)" in d.logs[0]


def test_failed_auth_log_reason():
    d = transcript(["C: USER alice", "S: +OK", "C: PASS x",
                    "S: -ERR [AUTH] Authentication failed.", "C: QUIT",
                    "S: +OK Logging out"])
    assert "(auth failed, 1 attempts in 0 secs): user=<alice>, method=PLAIN" in d.logs[0]


def test_xclient_untrusted():
    transcript(["C: XCLIENT ADDR=10.1.1.1", "S: +OK You are not from trusted IP - ignoring"])


def test_api_misuse_is_local_error():
    conn = Pop3Connection(Pop3Settings())
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    conn.start()
    with pytest.raises(LocalProtocolError):
        conn.auth_succeeded("alice", FakeMailbox())
    conn.receive_data(b"QUIT\r\n")
    assert isinstance(conn.next_event(), SendData)
    assert conn.next_event().__class__.__name__ == "LogLine"
    assert isinstance(conn.next_event(), Close)
    with pytest.raises(LocalProtocolError):
        conn.next_event()


def test_too_many_connections_and_lock_failure():
    from labserver.pop3 import SessionFailure

    conn = Pop3Connection(Pop3Settings(), session_id="S", pid=7)
    conn.start()
    conn.receive_data(b"AUTH PLAIN AGEAYg==\r\n")
    conn.next_event()
    assert conn.too_many_connections() == (
        b"-ERR [IN-USE] Maximum number of connections from user+IP exceeded "
        b"(mail_max_userip_connections=10)\r\n")
    conn = Pop3Connection(Pop3Settings(pop3_lock_session=True), session_id="S", pid=7)
    conn.start()
    conn.receive_data(b"AUTH PLAIN AGEAYg==\r\n")
    conn.next_event()
    assert conn.session_failed(SessionFailure.LOCKED, user="a") == (
        b"-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n")
    events = [conn.next_event() for _ in range(3)]
    assert events[1].text == ("pop3(a)<7><S>: Info: Disconnected: Couldn't lock POP3 session "
                              "top=0/0, retr=0/0, del=0/0, size=0")
    assert isinstance(events[2], Close)


def test_settings_from_config():
    from labserver.config import parse_text

    cfg = parse_text("protocols = pop3\nauth_mechanisms = plain login apop\n"
                     "protocol pop3 {\n  pop3_uidl_format = %08Xv%08Xu\n}\n")
    s = Pop3Settings.from_config(cfg)
    assert s.auth_mechanisms == ("PLAIN", "LOGIN", "APOP")
    assert s.pop3_uidl_format == "%08Xv%08Xu"
    assert s.login_greeting == "Dovecot (Debian) ready."
