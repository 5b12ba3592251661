"""curl and fetchmail fetch mail over POP3 from the lab, with the sizes it announces."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .conftest import MESSAGES, crlf_size, need


def test_curl_lists_and_retrieves(mail_lab) -> None:
    curl = need("curl")
    url = f"pop3://127.0.0.1:{mail_lab.port('pop3')}/"
    listing = subprocess.run([curl, "-s", "--max-time", "20", "-u", "alice:secret", url],
                             capture_output=True, timeout=60, check=True).stdout
    sizes = [crlf_size(m) for m in MESSAGES]
    assert listing.splitlines() == [b"1 %d" % sizes[0], b"2 %d" % sizes[1]]
    body = subprocess.run([curl, "-s", "--max-time", "20", "-u", "alice:secret", url + "1"],
                          capture_output=True, timeout=60, check=True).stdout
    assert body == MESSAGES[0].replace(b"\n", b"\r\n")


def test_curl_is_refused_with_a_wrong_password(mail_lab) -> None:
    curl = need("curl")
    proc = subprocess.run([curl, "-s", "--max-time", "20", "-u", "alice:nope",
                           f"pop3://127.0.0.1:{mail_lab.port('pop3')}/"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 67  # CURLE_LOGIN_DENIED


def test_fetchmail_retrieves_everything_with_matching_sizes(mail_lab, tmp_path: Path) -> None:
    fetchmail = need("fetchmail")
    out = tmp_path / "delivered.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f"poll 127.0.0.1 service {mail_lab.port('pop3')} protocol pop3 "
                  f"auth password user alice password secret sslproto '' "
                  f"mda \"cat >> {out}\" fetchall\n")
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    proc = subprocess.run([fetchmail, "-f", str(rc), "-v", "--nodetach", "--nosyslog"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    announced = [int(n) for n in re.findall(r"reading message .* of \d+ \((\d+) octets\)",
                                            proc.stdout + proc.stderr)]
    assert announced == [crlf_size(m) for m in MESSAGES]
    delivered = out.read_bytes()
    assert b"Subject: first" in delivered and b"Subject: second" in delivered
    # without "keep", fetchmail deletes what it fetched: DELE, then QUIT's update state
    assert mail_lab.storage("alice").status("INBOX")["MESSAGES"] == 0
