"""The settings checks run after reading a configuration (labserver.config.checks).

The differential corpus compares these with real doveconf; here the parts that
doveconf's output does not show directly: merging filters, the order of the
structs, the load warnings, and the machine-dependent checks.
"""

from __future__ import annotations

import pytest

from labserver.config import checks, load
from labserver.config.config import Config


def _load(text: str) -> Config:
    return load("/etc/dovecot/dovecot.conf", text=text, expand_values=False, strict=False)


def _error(text: str) -> str | None:
    return checks.first_error(_load(text))


@pytest.mark.parametrize(("text", "error"), [
    ("", None),
    ("protocols = none\n", None),
    ("protocols = imap none\n", "protocols: Unknown protocol: none"),
    ("protocols = imap pop4\n", "protocols: Unknown protocol: pop4"),
    ("listen =\n", "listen can't be set empty"),
    ("first_valid_uid = 2000\nlast_valid_uid = 1000\n",
     "first_valid_uid can't be larger than last_valid_uid"),
    ("first_valid_uid = 2000\n", None),
    ("service imap {\n type = imap\n}\n", "Unknown service type: imap"),
    ("service auth {\n process_limit = 0\n}\n", "service(auth): process_limit must be 1"),
    ("protocols = imap\nservice imap-login {\n process_min_avail = 101\n}\n",
     "service(imap-login): process_min_avail is higher than process_limit"),
    ("protocols = pop3\nservice imap-login {\n process_min_avail = 101\n}\n", None),
    ("protocols = imap\nservice imap-login {\n inet_listener imaps {\n  port = 143\n }\n}\n",
     "duplicate listener: 143:"),
    ("protocols = imap\nservice imap-login {\n inet_listener imaps {\n  port = 143\n"
     "  address = 127.0.0.1\n }\n}\n", None),
    ("protocols = imap lmtp\nservice lmtp {\n unix_listener login/imap {\n  mode = 0600\n }\n}\n",
     "duplicate listener: /run/dovecot/login/imap"),
    ("protocols = imap lmtp\nservice lmtp {\n unix_listener login/imap {\n  mode = 0\n }\n}\n",
     None),
    ("ssl = required\n", None),
    ("ssl_verify_client_cert = yes\n", "ssl_verify_client_cert set, but ssl_ca not"),
    ("ssl = no\nssl_verify_client_cert = yes\n", None),
    ("ssl_options = no_compression no_sslv2\n", "ssl_options: unknown flag: 'no_sslv2'"),
    ("syslog_facility = local7\n", None),
    ("syslog_facility = LOCAL7\n", "Unknown syslog_facility: LOCAL7"),
    ("passdb {\n args = /etc/dovecot/users\n}\n", "passdb is missing driver"),
    ("userdb {\n args = uid=vmail\n}\n", "userdb is missing driver"),
    ("auth_verbose_passwords = sha1:8\n", None),
    ("auth_verbose_passwords = sha1:x\n",
     "auth_verbose_passwords: Invalid truncation number: 'x'"),
    ("imap_client_workarounds = Delay-Newmail, tb-lsub-flags\n", None),
    ("imap_client_workarounds = foo\n", "imap_client_workarounds: Unknown workaround: foo"),
    ("pop3_delete_type = flag\n", "pop3_delete_type=flag, but pop3_deleted_flag not set"),
    ("mail_nfs_index = yes\nmmap_disable = yes\n",
     "mail_nfs_index=yes requires mail_fsync=always"),
    ("namespace inbox {\n mailbox Spam {\n  special_use = \\Spam\n }\n}\n",
     "mailbox Spam: unknown special_use: \\Spam"),
    ("namespace inbox {\n mailbox Spam {\n  special_use = \\junk  \\ALL\n }\n}\n", None),
    ("namespace a {\n prefix = A/\n separator = //\n}\n",
     "Namespace 'A/': Hierarchy separator must be only one character long"),
    ("namespace a {\n prefix = A/\n}\nnamespace b {\n alias_for = a\n}\n",
     "Namespace '': alias_for points to unknown namespace: a"),
    ("namespace a {\n prefix = A/\n}\nnamespace b {\n alias_for = A/\n}\n", None),
    ("namespace a {\n prefix = A/\n alias_for =\n}\nnamespace b {\n alias_for = A/\n}\n",
     "Namespace 'A/': alias_for chaining isn't allowed:  -> A/"),
    ("namespace a {\n prefix = A/\n alias_for =\n}\nnamespace b {\n prefix = B/\n}\n",
     "Namespace 'A/': alias_for points to unknown namespace: "),
])
def test_first_error(text: str, error: str | None) -> None:
    assert _error(text) == error


@pytest.mark.parametrize(("fmt", "error"), [
    ("%08Xu%08Xv", None),
    ("%v.%u", None),
    ("%%%u", None),
    ("%Mf", None),
    ("uidl", "pop3_uidl_format setting doesn't contain any %% variables."),
    ("%%u", "pop3_uidl_format setting doesn't contain any %% variables."),
    ("%n", "Unknown pop3_uidl_format variable: %n"),
    ("%{uid}", "Unknown pop3_uidl_format variable: %{"),
    ("%08", "Unknown pop3_uidl_format variable: %"),
])
def test_pop3_uidl_format(fmt: str, error: str | None) -> None:
    assert _error(f"pop3_uidl_format = {fmt}\n") == error


def test_filter_sees_global_settings() -> None:
    # the protocol block's own value, checked with the global services
    text = ("protocols = imap\nservice imap-login {\n process_limit = 10\n}\n"
            "protocol imap {\n service imap-login {\n  process_min_avail = 20\n }\n}\n")
    config = _load(text)
    assert checks.global_errors(config) == []
    assert checks.first_error(config) == (
        "service(imap-login): process_min_avail is higher than process_limit")


def test_filter_value_wins_over_global() -> None:
    text = "imap_client_workarounds = foo\nprotocol imap {\n imap_client_workarounds =\n}\n"
    config = _load(text)
    imap = checks.merged(config, config.filter_parsers[1])
    assert imap["imap_client_workarounds"] == ""
    assert checks.first_error(config) == "imap_client_workarounds: Unknown workaround: foo"


def test_global_settings_are_checked_first() -> None:
    text = ("protocol imap {\n imap_client_workarounds = foo\n}\n"
            "service auth {\n process_limit = 2\n}\n")
    assert _error(text) == "service(auth): process_limit must be 1"


def test_global_errors_one_per_struct_in_order() -> None:
    text = ("service auth {\n process_limit = 5\n}\npop3_uidl_format = x\n"
            "imap_client_workarounds = foo\nimap_client_workarounds = bar\n"
            "syslog_facility = x\npassdb {\n args = x\n}\n"
            "submission_client_workarounds = bad\n")
    assert checks.global_errors(_load(text)) == [
        "Unknown syslog_facility: x",
        "passdb is missing driver",
        "imap_client_workarounds: Unknown workaround: bar",
        "pop3_uidl_format setting doesn't contain any %% variables.",
        "service(auth): process_limit must be 1",
        "submission_client_workarounds: Unknown workaround: bad",
        "submission_client_workarounds: Unknown workaround: bad",
    ]


def test_builtin_services_in_dovecot_order() -> None:
    text = ("service imap-login {\n type = bad1\n}\nservice pop3-login {\n type = bad2\n}\n"
            "service aaa {\n type = bad3\n}\n")
    assert _error(text) == "Unknown service type: bad2"
    assert _error("service zz {\n type = b1\n}\nservice aa {\n type = b2\n}\n") == (
        "Unknown service type: b1")


def test_load_warnings() -> None:
    text = "protocols = imap\nservice imap-login {\n process_limit = 2000\n}\n"
    reading, printing = checks.warnings(_load(text))
    assert reading == [
        "service auth { client_limit=1000 } is lower than required under max. load (2100). "
        "Counted for protocol services with service_count != 1: service imap-urlauth-login "
        "{ process_limit=100 } + service imap-login { process_limit=2000 }",
        "service anvil { client_limit=1000 } is lower than required under max. load (2103). "
        "Counted with: service imap-urlauth-login { process_limit=100 } + service imap-login "
        "{ process_limit=2000 } + service auth { process_limit=1 }",
    ]
    assert printing == []


def test_base_dir_prefix_warning_every_check() -> None:
    text = ("protocols = lmtp\nservice lmtp {\n unix_listener /run/dovecot/lmtp2 {\n"
            "  mode = 0600\n }\n}\nprotocol lmtp {\n ssl = no\n}\n")
    reading, printing = checks.warnings(_load(text))
    warning = "You should remove base_dir prefix from unix_listener: /run/dovecot/lmtp2"
    assert reading == [warning, warning]
    assert printing == [warning]


def test_machine_checks_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "_user_exists", lambda name: False)
    assert _error("default_login_user = dovenull\n") == (
        "default_login_user doesn't exist: dovenull")
    assert _error("") is None
    assert _error("mail_plugins = quota\n") is None


def test_mail_plugin_dir(tmp_path: object) -> None:
    assert _error("mail_plugins = quota\nmail_plugin_dir = /nonexistent/plugins\n") == (
        "mail_plugin_dir: access(/nonexistent/plugins) failed: No such file or directory")
    assert _error(f"mail_plugins = quota\nmail_plugin_dir = {tmp_path}\n") is None
    assert _error("mail_plugin_dir = /nonexistent/plugins\n") is None
