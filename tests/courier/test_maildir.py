"""Maildir as Courier keeps it, and maildirmake against Courier's own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labserver.courier.maildir import (
    CourierUiddb,
    MaildirMakeError,
    Quota,
    maildirmake,
    read_maildirsize,
    usage,
)
from tests.courier.conftest import MESSAGES, imap_login


def _tree(path: Path) -> list[tuple[str, str]]:
    out = []
    for root, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            full = Path(root, name)
            out.append((str(full.relative_to(path)), oct(full.stat().st_mode & 0o777)))
    return sorted(out)


def test_maildirmake(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    assert maildirmake(str(md)) == str(md)
    assert maildirmake(str(md), folder="Sent") == str(md / ".Sent")
    assert _tree(md) == [
        (".Sent", "0o700"), (".Sent/cur", "0o700"), (".Sent/maildirfolder", "0o600"),
        (".Sent/new", "0o700"), (".Sent/tmp", "0o700"),
        ("cur", "0o700"), ("new", "0o700"), ("tmp", "0o700")]
    for args, message in [((), f"maildirmake: {md}: File exists"),
                          (("Sent",), f"maildirmake: {md}/.Sent: File exists"),
                          ((".x",), "Invalid folder name: .x"),
                          (("a/../../x",), "Invalid folder name: a/../../x")]:
        with pytest.raises(MaildirMakeError) as err:
            maildirmake(str(md), *args)
        assert str(err.value) == message


def test_quota_and_maildirsize(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    maildirmake(str(md))
    maildirmake(str(md), folder="Trash")
    (md / "new/1.a").write_bytes(b"12345")
    (md / "cur/2.b,S=100:2,S").write_bytes(b"x")
    (md / ".Trash/cur/3.c:2,S").write_bytes(b"not counted")
    assert usage(str(md)) == (105, 2)
    maildirmake(str(md), quota="10000000S,1000C")
    assert (md / "maildirsize").read_text() == \
        "10000000S,1000C\n         105            2\n"
    assert read_maildirsize(str(md)) == (Quota(10000000, 1000, "10000000S,1000C"), 105, 2)
    with pytest.raises(MaildirMakeError, match="No such file or directory"):
        maildirmake(str(tmp_path / "nope"), quota="1S")


def test_uiddb_format() -> None:
    db = CourierUiddb.parse("1 795619889 4\n1 1000.M1P1.lab\n3 1001.M2P1.lab:2,S\n")
    assert (db.uidvalidity, db.next_uid) == (795619889, 4)
    assert [(r.uid, r.base) for r in db.records] == [(1, "1000.M1P1.lab"), (3, "1001.M2P1.lab")]
    assert db.format() == "1 795619889 4\n1 1000.M1P1.lab\n3 1001.M2P1.lab\n"
    for broken in ("3 V1 N2\n", "1 x 2\n", "1 5 6\n2 a\n2 b\n", "1 5 6\nx a\n"):
        with pytest.raises(ValueError):
            CourierUiddb.parse(broken)


def test_the_lab_keeps_courier_files(courier_lab) -> None:  # noqa: ANN001
    imap = imap_login(courier_lab)
    assert imap.create("INBOX.Sent")[0] == "OK"
    assert imap.subscribe("INBOX.Sent")[0] == "OK"
    assert imap.append("INBOX.Sent", "(\\Seen)", None, MESSAGES[0])[0] == "OK"
    imap.select("INBOX")
    imap.uid("STORE", "2", "+FLAGS", "(\\Flagged)")
    imap.logout()
    md = courier_lab.path("/home/alice/Maildir")
    head, *lines = (md / "courierimapuiddb").read_text().splitlines()
    assert head.startswith("1 ") and head.endswith(" 3")
    assert [x.split()[0] for x in lines] == ["1", "2"]
    assert (md / "courierimapsubscribed").read_text() == "INBOX.Sent\n"
    assert (md / ".Sent/maildirfolder").exists()
    assert (md / ".Sent/courierimapuiddb").read_text().count("\n") == 2
    assert not list(md.rglob("dovecot-uidlist")) and not (md / "subscriptions").exists()
    flagged = [n for n in os.listdir(md / "cur") if n.endswith(":2,F")]
    assert len(flagged) == 1 and flagged[0].split(":")[0] == lines[1].split()[1]


def test_same_tree_as_courier_maildirmake(courier_tree: Path, tmp_path: Path) -> None:
    """Courier's maildirmake and the lab's make the same files, modes and messages."""
    libs = ":".join(str(courier_tree / p) for p in ("usr/lib/x86_64-linux-gnu",
                                                    "lib/x86_64-linux-gnu", "usr/lib"))
    tool = str(courier_tree / "usr/bin/maildirmake.courier")

    def real(*args: str) -> tuple[int, str]:
        proc = subprocess.run([tool, *args], capture_output=True, text=True, timeout=30,
                              env={"LD_LIBRARY_PATH": libs, "PATH": "/usr/bin:/bin"})
        return proc.returncode, (proc.stdout + proc.stderr).replace(str(tmp_path), "")

    def lab(*args: str) -> tuple[int, str]:
        folder = quota = None
        rest = list(args)
        while rest[0] in ("-f", "-q"):
            flag, value = rest.pop(0), rest.pop(0)
            folder, quota = (value, quota) if flag == "-f" else (folder, value)
        try:
            maildirmake(rest[0], folder, quota)
        except MaildirMakeError as exc:
            return 1, (str(exc) + "\n").replace(str(tmp_path), "")
        return 0, ""

    for name, run in (("real", real), ("lab", lab)):
        md = str(tmp_path / name)
        results = [run(md), run(md), run("-f", "Sent", md), run("-f", "Sent", md),
                   run("-f", ".x", md), run("-q", "5000S,10C", md)]
        results = [(code, text.replace(f"/{name}", "/MD")) for code, text in results]
        if name == "real":
            expected = results
        else:
            assert results == expected
    assert _tree(tmp_path / "lab") == _tree(tmp_path / "real")
    assert (tmp_path / "lab/maildirsize").read_text() == \
        (tmp_path / "real/maildirsize").read_text()


def test_maildirsize_follows_append_and_expunge(courier_lab) -> None:  # noqa: ANN001
    # As real Courier-IMAP 5 wrote it for the same session: a line per APPEND (the size
    # as stored, LF line ends) and a negative one per EXPUNGE.
    md = courier_lab.path("/home/alice/Maildir")
    (md / "maildirsize").write_text("100000S,10C\n           0            0\n")
    imap = imap_login(courier_lab)
    typ, data = imap.append("INBOX", None, None, b"Subject: y\r\n\r\nworld\r\n")
    assert typ == "OK" and data[0].endswith(b"] APPEND Ok.")
    imap.select("INBOX")
    imap.store("3", "+FLAGS", "(\\Deleted)")
    assert imap.expunge() == ("OK", [b"3"])
    imap.logout()
    assert (md / "maildirsize").read_text() == (
        "100000S,10C\n           0            0\n          18            1\n"
        "         -18           -1\n")
