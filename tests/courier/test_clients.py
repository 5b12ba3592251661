"""Real clients against the Courier personality: imapclient, curl, fetchmail, mbsync."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from imapclient import IMAPClient

from labserver.courier.lab import CourierLab
from tests.courier.conftest import MESSAGES
from tests.tools import require_program


def _crlf(message: bytes) -> bytes:
    return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_imapclient_sees_the_courier_namespace(courier_lab: CourierLab) -> None:
    with IMAPClient("127.0.0.1", port=courier_lab.port("imap"), ssl=False,
                    timeout=30) as client:
        client.login("alice", "secret")
        namespace = client.namespace()
        assert namespace.personal == (("INBOX.", "."),)
        assert namespace.shared == (("#shared.", "."), ("shared.", "."))
        client.create_folder("INBOX.Sent")
        client.subscribe_folder("INBOX.Sent")
        assert [f[2] for f in client.list_folders()] == ["INBOX", "INBOX.Sent"]
        assert [f[2] for f in client.list_sub_folders()] == ["INBOX.Sent"]
        client.select_folder("INBOX")
        fetched = client.fetch(client.search(), ["RFC822", "FLAGS"])
        assert [fetched[uid][b"RFC822"] for uid in sorted(fetched)] == \
            [_crlf(m) for m in MESSAGES]
        client.add_flags([1], [b"\\Flagged"])
        assert b"\\Flagged" in client.get_flags([1])[1]


def test_curl_over_imap_and_pop3(courier_lab: CourierLab) -> None:
    curl = require_program("curl")

    def run(url: str, *args: str) -> bytes:
        return subprocess.run([curl, "-s", "--max-time", "20", "-u", "alice:secret", *args,
                               url], capture_output=True, timeout=60, check=True).stdout

    imap = f"imap://127.0.0.1:{courier_lab.port('imap')}/"
    assert b'"." "INBOX"' in run(imap) or b'"." INBOX' in run(imap)
    assert run(imap + "INBOX;UID=2") == _crlf(MESSAGES[1])
    pop3 = f"pop3://127.0.0.1:{courier_lab.port('pop3')}/"
    listing = run(pop3).decode().split("\r\n")
    assert listing[:2] == [f"1 {len(_crlf(MESSAGES[0]))}", f"2 {len(_crlf(MESSAGES[1]))}"]
    assert run(pop3 + "1") == _crlf(MESSAGES[0])


def test_fetchmail_over_pop3_and_imap(courier_lab: CourierLab, tmp_path: Path) -> None:
    fetchmail = require_program("fetchmail")
    for protocol in ("imap", "pop3"):
        out = tmp_path / f"{protocol}.mbox"
        rc = tmp_path / f"fetchmailrc-{protocol}"
        rc.write_text(f"poll 127.0.0.1 service {courier_lab.port(protocol)} protocol "
                      f"{protocol} auth password user alice password secret sslproto '' "
                      f"mda \"cat >> {out}\" keep fetchall\n")
        rc.chmod(0o600)
        env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
        proc = subprocess.run([fetchmail, "-f", str(rc), "-v", "--nodetach", "--nosyslog"],
                              capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        delivered = out.read_bytes()
        assert b"Subject: first" in delivered and b"Subject: second" in delivered
        assert "2 messages for alice" in proc.stdout + proc.stderr


def test_mbsync_both_ways_with_the_inbox_namespace(courier_lab: CourierLab,
                                                   tmp_path: Path) -> None:
    mbsync = require_program("mbsync", "isync")
    with IMAPClient("127.0.0.1", port=courier_lab.port("imap"), ssl=False,
                    timeout=30) as client:
        client.login("alice", "secret")
        client.create_folder("INBOX.Archive")
        client.append("INBOX.Archive", MESSAGES[0])
    local = tmp_path / "local"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""\
IMAPAccount lab
Host 127.0.0.1
Port {courier_lab.port('imap')}
User alice
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account lab
PathDelimiter .

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
    inbox = [p for sub in ("cur", "new") for p in (local / "INBOX" / sub).iterdir()]
    assert len(inbox) == 2
    archive = list((local / "Archive").rglob("*,U=1*"))
    assert len(archive) == 1, sorted(str(p) for p in local.rglob("*"))
    new = local / "INBOX" / "new" / f"{int(time.time())}.local.lab"
    new.write_bytes(b"From: me@example.com\nSubject: written offline\n\nhello from mbsync\n")
    second = subprocess.run([mbsync, "-c", str(rc), "-a"], capture_output=True, text=True,
                            timeout=120, env=env)
    assert second.returncode == 0, second.stderr + second.stdout
    box = courier_lab.storage("alice").open("INBOX")
    assert len(box.messages) == 3
    assert b"written offline" in box.read(box.messages[-1].uid)
    md = courier_lab.path("/home/alice/Maildir")
    assert (md / "courierimapuiddb").read_text().splitlines()[0].endswith(" 4")
