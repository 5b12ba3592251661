"""The config editor: validate() says what `labserver doveconf -n` says; the widget follows."""

from __future__ import annotations

import pytest

from labserver.jupyter import commands
from labserver.jupyter.editor import ConfigEditor, validate
from labserver.service.lab import Lab

from .conftest import CONFIG

CONFIGS = {
    "default": CONFIG,
    "obsolete": CONFIG + "ssl_protocols = !SSLv3 !TLSv1\nssl_dh_parameters_length = 2048\n",
    "filters": CONFIG + "protocol imap {\n  mail_max_userip_connections = 5\n}\n"
               "local 127.0.0.1 {\n  protocol pop3 {\n    pop3_uidl_format = %g\n  }\n}\n",
    "include_try": CONFIG + "!include_try conf.d/*.conf\n",
    "unknown setting": CONFIG + "bogus_setting = 1\n",
    "missing brace": "protocols = imap\nservice imap-login {\n  inet_listener imap {\n",
    "bad boolean": CONFIG + "verbose_ssl = maybe\n",
    "missing include": CONFIG + "!include /etc/dovecot/conf.d/10-ssl.conf\n",
    "bad mechanism": CONFIG + "auth_mechanisms = plain bogus\n",
    "auth v1 syntax": "auth default {\n  mechanisms = plain\n}\n",
    "bad ssl": CONFIG + "ssl = sometimes\n",
}


@pytest.fixture(scope="module")
def cli_lab():
    lab = Lab(root=None, ports="ephemeral")
    yield lab
    lab.cleanup()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_validate_matches_the_doveconf_command(name, cli_lab) -> None:
    text = CONFIGS[name]
    cli_lab.write_config(text)
    cli = commands.doveconf(cli_lab, ["-n"])
    result = validate(text)
    assert list(result.messages) == cli.stderr.splitlines()
    stdout = cli.text[:len(cli.text) - len(cli.stderr)] if cli.stderr else cli.text
    header, _, body = stdout.partition("\n# Hostname: ")
    assert header.startswith("# 2.3")
    assert result.settings == body.partition("\n")[2]
    assert result.exit_code == cli.code
    assert result.ok is (cli.code == 0)
    assert set(result.errors) | set(result.warnings) == set(result.messages)


def test_errors_warnings_and_the_line_they_name() -> None:
    result = validate(CONFIGS["unknown setting"])
    assert not result.ok and result.line == CONFIG.count("\n") + 1
    assert result.errors == [
        "doveconf: Fatal: Error in configuration file /etc/dovecot/dovecot.conf line "
        f"{result.line}: Unknown setting: bogus_setting"]
    assert validate(CONFIGS["missing brace"]).line == 3
    obsolete = validate(CONFIGS["obsolete"])
    assert obsolete.ok and not obsolete.errors and obsolete.line is None
    assert any("ssl_protocols has been replaced by ssl_min_protocol" in w
               for w in obsolete.warnings)
    assert "ssl_min_protocol = TLSv1.1" in obsolete.settings


def test_includes_resolve_in_the_given_root(tmp_path) -> None:
    (tmp_path / "etc/dovecot/conf.d").mkdir(parents=True)
    (tmp_path / "etc/dovecot/conf.d/10-mail.conf").write_text("mail_location = mbox:~/mail\n")
    text = CONFIG.replace("mail_location = maildir:~/Maildir\n", "") + \
        "!include conf.d/*.conf\n"
    assert "mail_location = mbox:~/mail" in validate(text, root=tmp_path).settings
    assert not validate(text).ok


def test_editor_widget_validates_on_every_change(shell, capsys) -> None:
    editor = ConfigEditor(CONFIG)
    assert editor.result.ok and "accepts" in editor.messages.value
    assert "mail_location = maildir:~/Maildir" in editor.settings.value
    editor.text = CONFIG + "verbose_ssl = <b>yes\n"
    assert not editor.result.ok
    assert "refuses" in editor.messages.value and "&lt;b&gt;" in editor.messages.value
    assert "<b>yes" not in editor.messages.value
    bundle = editor._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    with pytest.raises(ValueError):
        editor.apply()


def test_editor_applies_to_a_lab(shell) -> None:
    from labserver.jupyter import kernel

    lab = kernel.current()
    editor = ConfigEditor(CONFIG + "protocols = imap\n", lab=lab)
    out = editor.apply()
    assert out.ok and lab.running and "pop3-login" not in out.text
    editor.text = CONFIG + "bogus = 1\n"
    out = editor.apply()
    assert not out.ok and "Reload refused" in out.text and lab.running
    assert len(editor.output.outputs) == 1
