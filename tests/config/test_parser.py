"""The parser on its own: includes, filters, variables, sandbox paths and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labserver.config import ConfigError, load, parse_text


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_effective_values_per_protocol() -> None:
    cfg = parse_text("mail_max_userip_connections = 5\n"
                     "protocol imap {\n  mail_max_userip_connections = 20\n}\n")
    assert cfg.get("mail_max_userip_connections") == 5
    assert cfg.get("mail_max_userip_connections", protocol="imap") == 20
    assert cfg.get("mail_max_userip_connections", protocol="pop3") == 5


def test_remote_filter_applies_only_inside_its_network() -> None:
    cfg = parse_text("remote 10.0.0.0/8 {\n  login_greeting = inside\n}\n")
    assert cfg.get("login_greeting", remote="10.1.2.3") == "inside"
    assert cfg.get("login_greeting", remote="192.0.2.1") != "inside"


def test_typed_values_and_sections() -> None:
    cfg = parse_text("auth_failure_delay = 0\nssl = required\n"
                     "service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n}\n"
                     "passdb {\n  driver = passwd-file\n  args = /etc/dovecot/users\n}\n")
    assert cfg.get("auth_failure_delay") == 0
    assert cfg.get("ssl") == "required"
    (passdb,) = cfg.sections("passdb")
    assert passdb.get("driver") == "passwd-file"
    services = {s.get("name"): s for s in cfg.sections("service")}
    listeners = {x.get("name"): x for x in services["imap-login"].children("inet_listener")}
    assert listeners["imap"].get("port") == 0
    assert listeners["imaps"].get("port") == 993


def test_sandbox_root_maps_includes_and_files(tmp_path: Path) -> None:
    write(tmp_path, "/etc/dovecot/dovecot.conf", "!include conf.d/*.conf\n")
    write(tmp_path, "/etc/dovecot/conf.d/10-ssl.conf",
          "ssl_cert = </etc/dovecot/private/cert.pem\n")
    write(tmp_path, "/etc/dovecot/private/cert.pem", "PEM DATA\n")
    cfg = load("/etc/dovecot/dovecot.conf", root=str(tmp_path))
    assert cfg.get("ssl_cert") == "PEM DATA\n"


def test_sandbox_root_cannot_be_escaped(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    write(lab, "/etc/dovecot/dovecot.conf",
          "ssl_cert = <../../../../outside.txt\nssl_key = </etc/dovecot/link/secret\n")
    (tmp_path / "outside.txt").write_text("outside")
    (lab / "etc" / "dovecot" / "link").symlink_to("/")
    (tmp_path / "secret").write_text("host secret")
    with pytest.raises(ConfigError) as err:
        load("/etc/dovecot/dovecot.conf", root=str(lab))
    # '..' stops at the lab root; the symlink to '/' means the lab root, not the host's
    assert str(err.value).endswith("line 1: ssl_cert: Can't open file "
                                   "/etc/dovecot/../../../../outside.txt: "
                                   "No such file or directory")
    write(lab, "/outside.txt", "inside copy")
    write(lab, "/secret", "lab secret")
    cfg = load("/etc/dovecot/dovecot.conf", root=str(lab))
    assert cfg.get("ssl_cert") == "inside copy"
    assert cfg.get("ssl_key") == "lab secret"


def test_variables_expand_when_values_are_expanded() -> None:
    text = "mail_plugins = quota\nmail_plugins = $mail_plugins acl\nlogin_greeting = $ssl x\n"
    assert parse_text(text).get("mail_plugins") == "quota acl"
    assert parse_text(text).get("login_greeting") == "yes x"
    assert parse_text(text, expand_values=False).get("login_greeting") == "$ssl x"
    with pytest.raises(ConfigError, match=r"line 1: Unknown variable: \$nosuch$"):
        parse_text("mail_plugins = $nosuch\n")


@pytest.mark.parametrize("text,error", [
    ("foo = 1\n", "line 1: Unknown setting: foo"),
    ("ssl = maybe\n", "line 1: Invalid value: maybe"),
    ("}\n", "line 1: Unexpected '}'"),
    ("service imap {\n", "Missing '}' (section started at /etc/dovecot/dovecot.conf:1)"),
    ("protocol imap {\n  protocol pop3 {\n", "line 2: Nested protocol { protocol { .. } } "
     "block not allowed"),
    ("local 10.0.0.1 {\n  auth_verbose = yes\n}\n", "line 2: Auth settings not supported "
     "inside local/remote blocks: auth_verbose"),
    ("!include /nonexistent/*.conf\n", "line 1: No matches"),
    ("plugin {\n  x {\n", "line 2: Section not allowed here"),
])
def test_errors_name_file_and_line(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_text(text)
    sep = ": " if error.startswith("Missing") else " "
    assert str(err.value) == f"Error in configuration file /etc/dovecot/dovecot.conf{sep}{error}"


def test_include_loop_is_refused(tmp_path: Path) -> None:
    a = write(tmp_path, "a.conf", "!include b.conf\n")
    write(tmp_path, "b.conf", "!include a.conf\n")
    with pytest.raises(ConfigError, match="Recursive include file"):
        load(str(a))


def test_obsolete_settings_are_converted_with_warnings() -> None:
    cfg = parse_text("protocols = imap imaps pop3s\nssl_dh_parameters_length = 2048\n"
                     "auth default {\n  mechanisms = plain cram-md5\n}\n")
    assert cfg.get("protocols") == "imap pop3"
    assert cfg.get("auth_mechanisms") == "plain cram-md5"
    assert cfg.warnings[0].startswith("NOTE: You can get a new clean config file")
    assert any("ssl_dh_parameters_length is no longer needed" in w for w in cfg.warnings)
    (svc,) = [s for s in cfg.sections("service") if s.get("name") == "pop3-login"]
    (pop3,) = [x for x in svc.children("inet_listener") if x.get("name") == "pop3"]
    assert pop3.get("port") == 0


@pytest.mark.timeout(60)
def test_binary_garbage_is_an_error_not_a_crash() -> None:
    data = bytes(range(256)) * 64
    with pytest.raises(ConfigError):
        parse_text(data.decode("latin-1"))


@pytest.mark.timeout(60)
def test_ten_megabytes_of_config(tmp_path: Path) -> None:
    path = tmp_path / "big.conf"
    with open(path, "w") as fh:
        fh.write("# padding\n" * 500_000)
        fh.write("login_greeting = " + "x" * 5_000_000 + "\n")
    assert os.path.getsize(path) > 10_000_000
    assert len(load(str(path)).get("login_greeting")) == 5_000_000


@pytest.mark.timeout(60)
def test_ten_thousand_nested_sections() -> None:
    deep = "local 10.0.0.0/8 {\n" * 10_000 + "}\n" * 10_000
    assert parse_text(deep).get("ssl") == "yes"
    with pytest.raises(ConfigError, match="Missing '}'"):
        parse_text("local 10.0.0.0/8 {\n" * 10_000)
    with pytest.raises(ConfigError, match="Unknown setting: service { service"):
        parse_text("service a {\n" * 10_000)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("abc_ =<>${}\"'#\\!\n\t/%0123456789") +
                                ["ssl", "service", "protocol imap", "namespace", "!include",
                                 "plugin", "passdb", "auth", "local ", "\x00", "\r"]),
                max_size=120).map("".join))
def test_any_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_text(text)
    except ConfigError as exc:
        assert str(exc)
