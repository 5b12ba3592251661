"""Courier's configuration files: shell syntax, the variables that matter, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from labserver.config.resolve import PathResolver
from labserver.courier import settings
from labserver.courier.personality import dovecot_config, imap_capabilities, pop3_capa
from labserver.courier.shellconf import CourierConfigError, assign, parse


def test_quoting_and_expansion_as_sh_does() -> None:
    text = """\
# a comment
##NAME: A:0
A=plain
B="two words $A"
C='single $A'
D="${A}x"\\
"more"
E=glued"$A"'$A'
F="esc \\" \\$A"
G=
"""
    found, env = parse(text, "/etc/courier/test")
    assert env == {"A": "plain", "B": "two words plain", "C": "single $A", "D": "plainxmore",
                   "E": "gluedplain$A", "F": 'esc " $A', "G": ""}
    assert [(a.name, a.line) for a in found][:4] == [("A", 3), ("B", 4), ("C", 5), ("D", 6)]


def test_earlier_files_are_seen_by_later_ones() -> None:
    _, env = parse('IMAP_CAPABILITY="IMAP4rev1 IDLE"\n', "imapd")
    _, env = parse('IMAP_CAPABILITY_TLS="$IMAP_CAPABILITY AUTH=PLAIN"\n', "imapd-ssl", env)
    assert env["IMAP_CAPABILITY_TLS"] == "IMAP4rev1 IDLE AUTH=PLAIN"


@pytest.mark.parametrize(("line", "message"), [
    ("PORT 143", "not a NAME=value assignment: PORT 143"),
    ("echo hello", "not a NAME=value assignment: echo hello"),
    ('PORT="143', 'unterminated " quote'),
    ("PORT='143", "unterminated ' quote"),
    ("IMAP_CAPABILITY=IMAP4rev1 IDLE", "unquoted space in value (quote it): IMAP4rev1 IDLE"),
    ("PORT=`echo 143`", "unexpected '`': only assignments are read"),
    ("PORTS=143", "unknown variable PORTS"),
])
def test_malformed_lines_name_file_and_line(line: str, message: str) -> None:
    with pytest.raises(CourierConfigError) as err:
        parse(f"# Courier\nADDRESS=0\n{line}\n", "/etc/courier/imapd",
              known=settings.KNOWN["imapd"])
    assert str(err.value) == f"/etc/courier/imapd line 3: {message}"
    assert (err.value.path, err.value.line) == ("/etc/courier/imapd", 3)


def test_shipped_defaults(tmp_path: Path) -> None:
    resolver = PathResolver(tmp_path)
    settings.write_defaults(resolver)
    cs = settings.load(resolver)
    imap, pop3 = cs.imap, cs.pop3
    assert (imap.start, imap.port, imap.address, imap.maxdaemons, imap.maxperip) == \
        (True, 143, "0", 40, 20)
    assert (imap.ssl_start, imap.ssl_port, imap.starttls, imap.tls_required) == \
        (True, 993, True, False)
    assert imap.capability == ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
                               "THREAD=REFERENCES SORT QUOTA IDLE")
    assert imap.capability_tls == imap.capability + " AUTH=PLAIN"
    assert imap.tls_certfile == "/etc/courier/imapd.pem"
    assert (imap.tls_protocol, imap.tls_cipher_list, imap.maildirpath) == ("", "", "Maildir")
    assert (pop3.start, pop3.port, pop3.maxperip, pop3.auth) == (True, 110, 4, "")
    assert (pop3.ssl_port, pop3.starttls, pop3.tls_certfile) == \
        (995, True, "/etc/courier/pop3d.pem")
    assert cs.authmodulelist == ("authuserdb",)


@pytest.mark.parametrize(("name", "line", "message"), [
    ("imapd", "PORT=imap", "/etc/courier/imapd line 2: PORT: not a number: 'imap'"),
    ("imapd", "PORT=70000", "/etc/courier/imapd line 2: PORT: not a port number: 70000"),
    ("imapd", "IMAPDSTART=maybe",
     "/etc/courier/imapd line 2: IMAPDSTART: expected YES or NO, not 'maybe'"),
    ("imapd-ssl", "IMAP_TLS_REQUIRED=yes",
     "/etc/courier/imapd-ssl line 2: IMAP_TLS_REQUIRED: expected 1 or 0, not 'yes'"),
    ("imapd-ssl", "TLS_PROTOCOL=SSL3",
     "/etc/courier/imapd-ssl line 2: TLS_PROTOCOL: unknown protocol 'SSL3' (the lab knows "
     "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, each optionally with +)"),
    # pop3d-ssl is read after pop3d, so its MAILDIRPATH is the one that counts.
    ("pop3d-ssl", "MAILDIRPATH=../x",
     "/etc/courier/pop3d-ssl line 2: MAILDIRPATH: not a usable maildir path: '../x'"),
    ("authdaemonrc", 'authmodulelist="authuserdb authldap"',
     "/etc/courier/authdaemonrc line 2: authmodulelist: authldap is not available in the "
     "lab (the lab has authuserdb, authpam, authshadow)"),
    ("authdaemonrc", 'authmodulelist="authfoo"',
     "/etc/courier/authdaemonrc line 2: authmodulelist: authfoo is unknown (the lab has "
     "authuserdb, authpam, authshadow)"),
])
def test_values_that_cannot_be_used(tmp_path: Path, name: str, line: str,
                                    message: str) -> None:
    resolver = PathResolver(tmp_path)
    settings.write_defaults(resolver)
    (tmp_path / f"etc/courier/{name}").write_text(f"# edited\n{line}\n")
    with pytest.raises(CourierConfigError) as err:
        settings.load(resolver)
    assert str(err.value) == message


def test_a_missing_file(tmp_path: Path) -> None:
    resolver = PathResolver(tmp_path)
    settings.write_defaults(resolver)
    (tmp_path / "etc/courier/pop3d-ssl").unlink()
    with pytest.raises(CourierConfigError, match="^/etc/courier/pop3d-ssl does not exist, "
                                                 "forgot make install-configure\\?$"):
        settings.load(resolver)


def test_assign_edits_the_last_assignment(tmp_path: Path) -> None:
    text = 'PORT=143\nPORT=144\nADDRESS=0\n'
    assert assign(text, "PORT", "10143") == 'PORT=143\nPORT="10143"\nADDRESS=0\n'
    assert assign(text, "MAXPERIP", 'a"$b') == text + 'MAXPERIP="a\\"\\$b"\n'
    _, env = parse(assign(text, "MAXPERIP", 'a"$b'), "x")
    assert env["MAXPERIP"] == 'a"$b'


def test_capabilities_follow_the_settings(tmp_path: Path) -> None:
    resolver = PathResolver(tmp_path)
    settings.write_defaults(resolver)
    cs = settings.load(resolver)
    caps = imap_capabilities(cs.imap, dict(cs.env["imap"]))
    assert caps.prelogin.endswith("IDLE ACL ACL2=UNION STARTTLS ENABLE UTF8=ACCEPT")
    assert caps.prelogin_tls.endswith("IDLE AUTH=PLAIN ACL ACL2=UNION ENABLE UTF8=ACCEPT")
    assert caps.postlogin.endswith("IDLE ACL ACL2=UNION ENABLE UTF8=ACCEPT")
    path = tmp_path / "etc/courier/imapd-ssl"
    path.write_text(assign(path.read_text(), "IMAP_TLS_REQUIRED", "1"))
    path = tmp_path / "etc/courier/imapd"
    path.write_text(assign(path.read_text(), "IMAP_ACL", "0"))
    cs = settings.load(resolver)
    caps = imap_capabilities(cs.imap, dict(cs.env["imap"]))
    assert caps.prelogin.endswith("IDLE STARTTLS LOGINDISABLED ENABLE UTF8=ACCEPT")
    path = tmp_path / "etc/courier/pop3d"
    path.write_text(assign(path.read_text(), "POP3AUTH", "PLAIN LOGIN"))
    assert b"\r\nSASL PLAIN LOGIN\r\nPIPELINING\r\n" in pop3_capa(settings.load(resolver).pop3)


def test_what_the_engines_get(tmp_path: Path) -> None:
    resolver = PathResolver(tmp_path)
    settings.write_defaults(resolver)
    path = tmp_path / "etc/courier/imapd"
    text = assign(assign(path.read_text(), "PORT", "1143"), "ADDRESS", "127.0.0.2")
    path.write_text(assign(assign(text, "MAXPERIP", "3"), "IMAPDSTART", "NO"))
    config, warnings = dovecot_config(settings.load(resolver), resolver)
    assert "  prefix = INBOX.\n  separator = .\n" in config
    assert "pop3_uidl_format = UID%u-%v\n" in config
    assert "inet_listener imap {\n    port = 0\n    address = 127.0.0.2\n" in config
    assert "  mail_max_userip_connections = 3\n" in config
    assert "ssl = no\n" in config
    assert warnings == [
        "imap: TLS_CERTFILE /etc/courier/imapd.pem does not exist: no TLS (make it with "
        "mkimapdcert)",
        "pop3: TLS_CERTFILE /etc/courier/pop3d.pem does not exist: no TLS (make it with "
        "mkpop3dcert)"]


@settings_hypothesis(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("AB_=\"'$\\{}` \t\n#x1;")), max_size=60))
def test_any_text_parses_or_names_its_line(text: str) -> None:
    try:
        parse(text, "/etc/courier/imapd")
    except CourierConfigError as exc:
        assert exc.path == "/etc/courier/imapd" and 1 <= exc.line <= text.count("\n") + 1
