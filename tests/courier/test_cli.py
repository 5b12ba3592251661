"""Courier's tools as labserver subcommands, and ``labserver serve --flavor courier``."""

from __future__ import annotations

import imaplib
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from labserver.cli import main


def test_maildirmake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maildirmake", "/home/alice/Maildir", "--root", str(tmp_path)]) == 1
    (tmp_path / "home/alice").mkdir(parents=True)
    assert main(["maildirmake", "/home/alice/Maildir", "--root", str(tmp_path)]) == 0
    assert main(["maildirmake", "-f", "Sent", "/home/alice/Maildir", "--root",
                 str(tmp_path)]) == 0
    assert main(["maildirmake", "-q", "100S", "/home/alice/Maildir", "--root",
                 str(tmp_path)]) == 0
    assert main(["maildirmake", "/home/alice/Maildir", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == ("maildirmake: /home/alice/Maildir: No such file or directory\n"
                   "maildirmake: /home/alice/Maildir: File exists\n")
    assert (tmp_path / "home/alice/Maildir/.Sent/maildirfolder").exists()
    assert (tmp_path / "home/alice/Maildir/maildirsize").read_text().startswith("100S\n")


def test_userdb_makeuserdb_authtest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--root", str(tmp_path)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("secret\n"))
    assert main(["userdbpw", "-md5"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("$1$")
    assert main(["userdb", "alice", "set", "uid=1000", "gid=1000", "home=/home/alice",
                 f"systempw={hashed}", *root]) == 0
    assert main(["authtest", "alice", "secret", *root]) == 1
    assert "authdaemonrc does not exist" in capsys.readouterr().err
    (tmp_path / "etc/courier/authdaemonrc").write_text('authmodulelist="authuserdb"\n')
    assert main(["authtest", "alice", "secret", *root]) == 1  # not compiled yet
    assert capsys.readouterr().err == "Authentication FAILED: Operation not permitted\n"
    assert main(["makeuserdb", *root]) == 0
    assert main(["authtest", "-s", "imap", "alice", "secret", *root]) == 0
    out = capsys.readouterr().out
    assert "     Authenticated: alice  (uid 1000, gid 1000)\n" in out
    assert main(["userdb", "alice", "del", *root]) == 0
    assert main(["userdb", "alice", "set", "uid", *root]) == 1
    assert main(["makeuserdb"]) == 1
    assert "--root DIR is required" in capsys.readouterr().err


def test_mkimapdcert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mkimapdcert", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out.endswith("/etc/courier/imapd.pem written.\n")
    pem = tmp_path / "etc/courier/imapd.pem"
    assert oct(pem.stat().st_mode & 0o777) == "0o600"
    text = pem.read_text()
    assert "PRIVATE KEY" in text and "BEGIN CERTIFICATE" in text
    assert main(["mkimapdcert", "--root", str(tmp_path)]) == 1
    assert main(["mkpop3dcert", "--root", str(tmp_path)]) == 0
    assert "OU = Automatically-generated POP3 SSL key" in capsys.readouterr().out


def test_serve_flavor_courier(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "labserver", "serve", "--flavor", "courier", "--root",
         str(tmp_path), "--ports", "ephemeral"], stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        assert lines[1] == "Flavor: courier\n"
        port = int(re.split(r"\s+", lines[3].strip())[5])
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        assert b"Courier-IMAP ready." in imap.welcome
        imap.logout()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == 0
    assert main(["serve", "--flavor", "courier", "-c", "x"]) == 89
