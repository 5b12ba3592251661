"""The magics through a real IPython shell, as a notebook cell runs them."""

from __future__ import annotations

import imaplib
import os
import poplib
import socket
import subprocess
import sys

import pytest

from labserver.jupyter import kernel
from labserver.service.lab import LabError
from tests.tools import require_program

from .conftest import CONFIG, processes_mentioning

INCLUDE = CONFIG + "!include_try conf.d/*.conf\n"


def dovecot(shell, capsys, text: str, line: str = "") -> str:
    capsys.readouterr()
    shell.run_cell_magic("dovecot", line, text)
    return capsys.readouterr().out


def magic(shell, capsys, name: str, line: str) -> str:
    capsys.readouterr()
    shell.run_line_magic(name, line)
    return capsys.readouterr().out


def login_imap(port: int) -> None:
    with imaplib.IMAP4("127.0.0.1", port, timeout=5) as client:
        client.login("alice", "secret")
        client.logout()


def test_dovecot_cell_starts_the_lab_and_prints_its_listeners(shell, capsys) -> None:
    out = dovecot(shell, capsys, CONFIG)
    lab = shell.user_ns["lab"]
    assert lab is kernel.existing() and lab.running
    assert out.strip() == lab.table()
    assert "imap-login" in out and "pop3-login" in out
    lab.add_user("alice", "secret")
    login_imap(lab.port("imap"))
    assert lab.path("/etc/dovecot/dovecot.conf").read_text() == CONFIG


def test_refused_config_prints_doveconfs_error_and_leaves_the_lab_as_it_was(shell,
                                                                             capsys) -> None:
    out = dovecot(shell, capsys, CONFIG + "bogus_setting = 1\n")
    assert "Traceback" not in out
    assert "doveconf: Fatal: Error in configuration file /etc/dovecot/dovecot.conf line" in out
    assert "Unknown setting: bogus_setting" in out
    assert "[exit code 89]" in out
    lab = shell.user_ns["lab"]
    assert not lab.running
    assert "bogus_setting" not in lab.path("/etc/dovecot/dovecot.conf").read_text()
    out = dovecot(shell, capsys, CONFIG + "ssl = yes\nssl_cert = </etc/ssl/none.pem\n")
    assert "doveconf: Fatal:" in out and "Can't open file /etc/ssl/none.pem" in out
    assert "The lab did not start" in out and "[exit code 89]" in out and not lab.running


def test_reload_applies_a_new_config_and_a_refused_one_keeps_the_old(shell, capsys) -> None:
    dovecot(shell, capsys, CONFIG)
    lab = shell.user_ns["lab"]
    lab.add_user("alice", "secret")
    out = dovecot(shell, capsys, CONFIG + "protocols = imap\n")
    assert "imap-login" in out and "pop3-login" not in out
    with pytest.raises(LabError):
        lab.port("pop3")
    out = dovecot(shell, capsys, CONFIG + "protocols = imap\nbogus_setting = 1\n")
    assert "Unknown setting: bogus_setting" in out and "Reload refused" in out
    missing = "ssl = yes\nssl_cert = </etc/dovecot/missing.pem\nssl_key = </etc/dovecot/x.key\n"
    out = dovecot(shell, capsys, CONFIG + "protocols = imap\n" + missing)
    assert "Fatal:" in out and "missing.pem" in out and "Reload refused" in out
    assert "Traceback" not in out and lab.running
    login_imap(lab.port("imap"))
    assert lab.path("/etc/dovecot/dovecot.conf").read_text() == CONFIG + "protocols = imap\n"


def test_included_file_waits_for_restart(shell, capsys) -> None:
    dovecot(shell, capsys, INCLUDE)
    lab = shell.user_ns["lab"]
    path = "/etc/dovecot/conf.d/10-master.conf"
    out = dovecot(shell, capsys, "protocols = imap\n", f"--path {path}")
    assert out.startswith(f"Wrote {path}")
    assert lab.port("pop3")
    out = dovecot(shell, capsys, "protocols = imap\n", f"--path {path} --restart")
    assert "pop3-login" not in out
    out = dovecot(shell, capsys, "protocols = imap\nbogus = 1\n", f"--path {path} --restart")
    assert "Unknown setting: bogus" in out and "Reload refused" in out
    assert lab.path(path).read_text() == "protocols = imap\n"
    out = dovecot(shell, capsys, "protocols = imap pop3\n", "--path ../../conf.d/20.conf")
    assert out.startswith("Wrote /conf.d/20.conf")
    assert lab.path("/conf.d/20.conf").parent.parent == lab.root
    out = dovecot(shell, capsys, "protocols = imap pop3\n", "--path conf.d/10-master.conf")
    assert out.startswith(f"Wrote {path}")
    assert lab.path(path).read_text() == "protocols = imap pop3\n"


def test_no_start_only_writes(shell, capsys) -> None:
    out = dovecot(shell, capsys, CONFIG + "bogus = 1\n", "--no-start")
    lab = shell.user_ns["lab"]
    assert not lab.running and out.startswith("Wrote /etc/dovecot/dovecot.conf")
    out = magic(shell, capsys, "lab", "start")
    assert "Unknown setting: bogus" in out and not lab.running


def test_doveconf_magic_prints_what_the_command_line_prints(shell, capsys) -> None:
    dovecot(shell, capsys, CONFIG + "ssl_protocols = !SSLv3\n", "--no-start")
    lab = shell.user_ns["lab"]
    out = magic(shell, capsys, "doveconf", "-n")
    cli = subprocess.run([sys.executable, "-m", "labserver", "doveconf", "-n", "--root",
                          str(lab.root)], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0
    assert out == cli.stdout + cli.stderr
    assert "Obsolete setting" in out and "mail_location = maildir:~/Maildir" in out
    assert magic(shell, capsys, "doveconf", "ssl").splitlines()[0] == "ssl = no"
    out = magic(shell, capsys, "doveconf", "-c /etc/dovecot/missing.conf -n")
    assert "doveconf: Fatal:" in out and "[exit code 89]" in out


def test_doveadm_magic_answers_and_never_waits_for_a_password(shell, capsys) -> None:
    dovecot(shell, capsys, CONFIG, "--no-start")
    shell.user_ns["lab"].add_user("alice", "secret")
    assert "passdb: alice auth succeeded" in magic(shell, capsys, "doveadm",
                                                   "auth test alice secret")
    out = magic(shell, capsys, "doveadm", "auth test alice")
    assert "give it on the line" in out and "[exit code 64]" in out
    assert magic(shell, capsys, "doveadm", "pw -s PLAIN -p x").strip() == "{PLAIN}x"


def test_lab_status_logs_transcript_and_stop(shell, capsys) -> None:
    assert "Lab: stopped (engine lab)" in magic(shell, capsys, "lab", "status")
    dovecot(shell, capsys, CONFIG)
    lab = shell.user_ns["lab"]
    lab.add_user("alice", "secret")
    out = magic(shell, capsys, "lab", "status")
    assert "Lab: running (engine lab)" in out and lab.table() in out
    login_imap(lab.port("imap"))
    client = poplib.POP3("127.0.0.1", lab.port("pop3"), timeout=5)
    client.user("alice")
    client.pass_("secret")
    client.quit()
    assert "starting up for imap, pop3" in magic(shell, capsys, "lab", "logs")
    logins = magic(shell, capsys, "lab", "logs Login:").splitlines()
    assert len(logins) == 2 and all("user=<alice>" in x for x in logins)
    out = magic(shell, capsys, "lab", "transcript imap")
    assert out.startswith("# imap session") and "C: " in out and "LOGIN alice" in out
    out = magic(shell, capsys, "lab", "transcript 2")
    assert "# imap session" in out and "# pop3 session" in out and "C: PASS" in out
    assert "usage: %lab" in magic(shell, capsys, "lab", "transcript smtp")
    port = lab.port("imap")
    assert magic(shell, capsys, "lab", "stop").strip() == "Lab stopped."
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_kernel_exit_removes_the_lab(shell, capsys) -> None:
    dovecot(shell, capsys, CONFIG)
    lab = shell.user_ns["lab"]
    port, root = lab.port("imap"), lab.root
    kernel.shutdown()
    assert not root.exists() and not lab.running
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_dovecot_engine(shell, capsys) -> None:
    require_program("dovecot", "dovecot-core")
    dovecot(shell, capsys, CONFIG)
    shell.user_ns["lab"].add_user("alice", "secret")
    out = dovecot(shell, capsys, CONFIG, "--engine dovecot")
    lab = shell.user_ns["lab"]
    assert lab.engine == "dovecot" and lab.running and "imap-login" in out
    login_imap(lab.port("imap"))
    out = dovecot(shell, capsys, CONFIG + "bogus_setting = 1\n")
    assert "bogus_setting" in out and "Reload refused" in out and lab.running
    assert processes_mentioning(str(lab.root))
    out = dovecot(shell, capsys, CONFIG, "--engine lab")
    assert shell.user_ns["lab"].engine == "lab" and not lab.running
    assert processes_mentioning(str(lab.root)) == []
    login_imap(shell.user_ns["lab"].port("imap"))


def test_import_labserver_needs_no_ipython() -> None:
    code = ("import sys, labserver, labserver.jupyter; "
            "assert 'IPython' not in sys.modules, 'IPython imported'")
    env = dict(os.environ)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)
