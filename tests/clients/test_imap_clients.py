"""curl, fetchmail, mbsync and mutt use the lab over IMAP."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from .conftest import MESSAGES, crlf_size, need, run_mutt


def _curl(*args: str) -> bytes:
    return subprocess.run([need("curl"), "-s", "--max-time", "20", "-u", "alice:secret", *args],
                          capture_output=True, timeout=60, check=True).stdout


def test_curl_lists_folders_and_fetches_by_uid(mail_lab) -> None:
    base = f"imap://127.0.0.1:{mail_lab.port('imap')}/"
    assert b'"INBOX"' in _curl(base) or b" INBOX" in _curl(base)
    assert _curl(base + "INBOX;UID=2") == MESSAGES[1]
    examine = _curl(base, "-X", "EXAMINE INBOX")
    assert b"* 2 EXISTS" in examine


def test_fetchmail_over_imap_with_matching_sizes(mail_lab, tmp_path: Path) -> None:
    fetchmail = need("fetchmail")
    out = tmp_path / "delivered.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f"poll 127.0.0.1 service {mail_lab.port('imap')} protocol imap "
                  f"auth password user alice password secret sslproto '' "
                  f"mda \"cat >> {out}\" keep fetchall\n")
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    proc = subprocess.run([fetchmail, "-f", str(rc), "-v", "--nodetach", "--nosyslog"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    text = proc.stdout + proc.stderr
    headers = [int(n) for n in re.findall(r"\((\d+) header octets\)", text)]
    bodies = [int(n) for n in re.findall(r"\((\d+) body octets\)", text)]
    # fetchmail fetches header and body separately; together they are RFC822.SIZE
    assert [h + b for h, b in zip(headers, bodies, strict=True)] == [
        crlf_size(m) for m in MESSAGES]
    delivered = out.read_bytes()
    assert b"Subject: first" in delivered and b"Subject: second" in delivered
    # "keep": still on the server, now \Seen
    storage = mail_lab.storage("alice")
    box = storage.open("INBOX")
    assert len(box.messages) == 2
    assert all("\\Seen" in m.flags for m in box.messages)


def test_mbsync_syncs_both_ways(mail_lab, tmp_path: Path) -> None:
    mbsync = need("mbsync")
    local = tmp_path / "local"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""\
IMAPAccount lab
Host 127.0.0.1
Port {mail_lab.port('imap')}
User alice
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account lab

MaildirStore near
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel lab
Far :remote:
Near :near:
Patterns *
Create Both
SyncState *
""")
    env = dict(os.environ, HOME=str(tmp_path))
    first = subprocess.run([mbsync, "-c", str(rc), "-a"], capture_output=True, text=True,
                           timeout=120, env=env)
    assert first.returncode == 0, first.stderr + first.stdout
    pulled = [p.read_bytes() for sub in ("cur", "new") for p in (local / "INBOX" / sub).iterdir()]
    assert len(pulled) == 2
    assert any(b"Subject: second" in data for data in pulled)
    new = local / "INBOX" / "new" / f"{int(time.time())}.local.lab"
    new.write_bytes(b"From: me@example.com\nSubject: written offline\n\nhello from mbsync\n")
    second = subprocess.run([mbsync, "-c", str(rc), "-a"], capture_output=True, text=True,
                            timeout=120, env=env)
    assert second.returncode == 0, second.stderr + second.stdout
    box = mail_lab.storage("alice").open("INBOX")
    assert len(box.messages) == 3
    assert b"written offline" in box.read(box.messages[-1].uid)


def test_mutt_reads_the_mailbox_in_batch(mail_lab, tmp_path: Path) -> None:
    saved = tmp_path / "saved.mbox"
    code, output = run_mutt(mail_lab.port("imap"), tmp_path, saved)
    assert code == 0, output.decode(errors="replace")
    data = saved.read_bytes()
    screen = output.decode(errors="replace")
    assert data.count(b"\nFrom ") + data.startswith(b"From ") == 2, screen
    assert b"Subject: first" in data and b"Subject: second" in data
