"""After login: every command, the UPDATE step, pipelining, logs."""

from __future__ import annotations

from labserver.pop3 import Pop3Settings, State

from .fakes import Driver, FakeMailbox, transcript

M1 = b"From: a@example.org\nSubject: one\n\nline 1\n.starts with a dot\nline 3\n"
M2 = b"From: b@example.org\r\nSubject: two\r\n\r\nbody\r\n"
M3 = b"Subject: three\n\nno newline at end"
LOGIN = ["C: USER alice", "S: +OK", "C: PASS secret", "S: +OK Logged in."]


def box(*messages: bytes, **kw) -> FakeMailbox:
    return FakeMailbox(messages or (M1, M2, M3), **kw)


def run(lines, settings=None, mailbox=None) -> Driver:
    d = Driver(settings, mailbox=mailbox if mailbox is not None else box())
    return transcript(LOGIN + lines, d)


def size(m: bytes) -> int:
    return len(m.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


S1, S2, S3 = size(M1), size(M2), size(M3)


def test_stat_list_with_crlf_sizes():
    assert (S1, S2, S3) == (len(M1) + 6, len(M2), len(M3) + 2)
    run(["C: STAT", f"S: +OK 3 {S1 + S2 + S3}",
         "C: LIST", "S: +OK 3 messages:", f"S: 1 {S1}", f"S: 2 {S2}", f"S: 3 {S3}", "S: .",
         "C: LIST 2", f"S: +OK 2 {S2}"])


def test_retr_dot_stuffing_and_final_crlf():
    run(["C: RETR 1", f"S: +OK {S1} octets", "S: From: a@example.org", "S: Subject: one",
         "S: ", "S: line 1", "S: ..starts with a dot", "S: line 3", "S: .",
         "C: RETR 3", f"S: +OK {S3} octets", "S: Subject: three", "S: ",
         "S: no newline at end", "S: ."])


def test_top():
    run(["C: TOP 1 0", "S: +OK", "S: From: a@example.org", "S: Subject: one", "S: ", "S: .",
         "C: TOP 1 2", "S: +OK", "S: From: a@example.org", "S: Subject: one", "S: ",
         "S: line 1", "S: ..starts with a dot", "S: .",
         "C: TOP 2 99", "S: +OK", "S: From: b@example.org", "S: Subject: two", "S: ",
         "S: body", "S: ."])


def test_argument_errors():
    run(["C: RETR", "S: -ERR Invalid message number: ",
         "C: RETR x", "S: -ERR Invalid message number: x",
         "C: RETR 1x", "S: -ERR Noise after message number: x",
         "C: LIST 1 ", "S: -ERR Noise after message number:  ",
         "C: RETR 0", "S: -ERR There's no message 0.",
         "C: RETR 4", "S: -ERR There's no message 4.",
         "C: RETR 4294967296", "S: -ERR Message number too large: ",
         "C: RETR 99999999999999999999", "S: -ERR Message number too large: "
         "99999999999999999999",
         "C: TOP 1", "S: -ERR Noise after message number: ",
         "C: TOP 1 x", "S: -ERR Invalid size: x",
         "C: TOP 1 1 1", "S: -ERR Noise after size:  1",
         "C: RETR   2", f"S: +OK {S2} octets", "S: *", "S: *", "S: ", "S: body", "S: ."])


def test_unknown_commands_after_login():
    run(["C: STLS", "S: -ERR Unknown command: STLS",
         "C: last", "S: -ERR Unknown command: LAST",
         "C: user alice", "S: -ERR Unknown command: USER",
         "C:", "S: -ERR Unknown command.",
         "C: capa", "S: +OK", "S: CAPA", "S: TOP", "S: UIDL", "S: RESP-CODES",
         "S: PIPELINING", "S: AUTH-RESP-CODE", "S: .",
         "C: NOOP", "S: +OK"])


def test_dele_rset_quit_keeps_messages():
    d = run(["C: DELE 1", "S: +OK Marked to be deleted.",
             "C: DELE 1", "S: -ERR Message is deleted.",
             "C: RETR 1", "S: -ERR Message is deleted.",
             "C: STAT", f"S: +OK 2 {S2 + S3}",
             "C: LIST", "S: +OK 2 messages:", f"S: 2 {S2}", f"S: 3 {S3}", "S: .",
             "C: RSET", "S: +OK",
             "C: STAT", f"S: +OK 3 {S1 + S2 + S3}",
             "C: QUIT", "S: +OK Logging out."])
    assert sorted(d.mailbox.data) == [1, 2, 3]
    assert d.logs[-1] == ("pop3(alice)<4242><SESSION>: Info: Disconnected: Logged out "
                          f"top=0/0, retr=0/0, del=0/3, size={S1 + S2 + S3}")


def test_dele_quit_expunges_and_retr_sets_seen():
    d = run(["C: RETR 2", f"S: +OK {S2} octets", "S: *", "S: *", "S: ", "S: body", "S: .",
             "C: DELE 1", "S: +OK Marked to be deleted.",
             "C: QUIT", "S: +OK Logging out, messages deleted."])
    assert sorted(d.mailbox.data) == [2, 3]
    assert d.mailbox.flags[2] == {"\\Seen"}
    retr = len(f"+OK {S2} octets\r\n") + S2
    assert d.logs[-1].endswith(f"Logged out top=0/0, retr=1/{retr}, del=1/3, "
                               f"size={S1 + S2 + S3}")
    assert d.closed and d.conn.state is State.CLOSED


def test_drop_without_quit_expunges_nothing_but_keeps_seen():
    d = run(["C: RETR 1", f"S: +OK {S1} octets", *["S: *"] * 6, "S: .",
             "C: DELE 2", "S: +OK Marked to be deleted.", "C: <close>"])
    assert sorted(d.mailbox.data) == [1, 2, 3]
    assert d.mailbox.flags[1] == {"\\Seen"}
    assert "Disconnected: Connection closed top=0/0" in d.logs[-1]
    assert "del=0/3" in d.logs[-1]


def test_no_flag_updates_and_readonly():
    d = run(["C: RETR 2", f"S: +OK {S2} octets", *["S: *"] * 4, "S: .", "C: QUIT",
             "S: +OK Logging out."], settings=Pop3Settings(pop3_no_flag_updates=True))
    assert d.mailbox.flags[2] == set() and d.mailbox.calls == []
    d = run(["C: DELE 1", "S: +OK Marked to be deleted.", "C: QUIT",
             "S: +OK Logging out, messages deleted."], mailbox=box(readonly=True))
    assert sorted(d.mailbox.data) == [1, 2, 3]


def test_delete_by_flag():
    s = Pop3Settings(pop3_deleted_flag="$POP3Deleted")
    d = run(["C: DELE 1", "S: +OK Marked to be deleted.", "C: QUIT",
             "S: +OK Logging out, messages deleted."], settings=s)
    assert sorted(d.mailbox.data) == [1, 2, 3]
    assert d.mailbox.flags[1] == {"$POP3Deleted"}
    # The next session does not see it.
    run(["C: STAT", f"S: +OK 2 {S2 + S3}", "C: UIDL 1", "S: +OK 1 000000026553f100"],
        settings=s, mailbox=d.mailbox)


def test_uidl_formats():
    run(["C: UIDL", "S: +OK", "S: 1 000000016553f100", "S: 2 000000026553f100",
         "S: 3 000000036553f100", "S: .", "C: UIDL 3", "S: +OK 3 000000036553f100"])
    run(["C: UIDL 2", "S: +OK 2 msg2.host"], settings=Pop3Settings(pop3_uidl_format="%f"))
    run(["C: UIDL 2", "S: +OK 2 msg2.host-1700000000-2"],
        settings=Pop3Settings(pop3_uidl_format="%g-%v-%u"))
    run(["C: UIDL 1", "S: +OK 1 6553f100.00000001"],
        settings=Pop3Settings(pop3_uidl_format="%08Xv.%08Xu"))


def test_uidl_md5_unsupported_disconnects():
    d = run(["C: UIDL", "S: +OK"], settings=Pop3Settings(pop3_uidl_format="%m"))
    assert d.closed
    assert d.logs[-2].endswith("Error: UIDL: Header MD5 not found "
                               "(pop3_uidl_format=%m not supported by storage?)")
    assert "Disconnected: POP3 UIDLs couldn't be listed" in d.logs[-1]


def test_uidl_skips_deleted_and_xuidl_and_duplicates():
    m = b"X-UIDL: same\n\nx\n"
    run(["C: DELE 2", "S: +OK Marked to be deleted.", "C: UIDL", "S: +OK",
         "S: 1 same", "S: 3 same", "S: ."],
        settings=Pop3Settings(pop3_reuse_xuidl=True), mailbox=box(m, m, m))
    run(["C: UIDL", "S: +OK", "S: 1 same", "S: 2 same-2", "S: 3 same-3", "S: ."],
        settings=Pop3Settings(pop3_reuse_xuidl=True, pop3_uidl_duplicates="rename"),
        mailbox=box(m, m, m))


def test_last_when_enabled():
    s = Pop3Settings(pop3_enable_last=True)
    mb = box()
    mb.flags[2].add("\\Seen")
    d = run(["C: LAST", "S: +OK 2", "C: RETR 3", f"S: +OK {S3} octets", *["S: *"] * 3,
             "S: .", "C: LAST", "S: +OK 3", "C: RSET", "S: +OK", "C: LAST", "S: +OK 0"],
            settings=s, mailbox=mb)
    assert d.mailbox.flags[2] == set()


def test_pipelining_one_packet():
    d = Driver(mailbox=box())
    out = d.send(b"USER alice\r\nPASS secret\r\nSTAT\r\nLIST 1\r\nNOOP\r\nQUIT\r\n")
    assert out == (b"+OK\r\n+OK Logged in.\r\n" + f"+OK 3 {S1 + S2 + S3}\r\n".encode()
                   + f"+OK 1 {S1}\r\n".encode() + b"+OK\r\n+OK Logging out.\r\n")
    assert d.closed


def test_byte_by_byte():
    d = Driver(mailbox=box())
    data = b"USER alice\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n"
    out = b"".join(d.send(data[i:i + 1]) for i in range(len(data)))
    whole = Driver(mailbox=box())
    assert out == whole.send(data)
    assert out.endswith(b"+OK Logging out.\r\n")


def test_bare_lf_commands_accepted():
    d = Driver(mailbox=box())
    assert d.send(b"USER alice\nPASS secret\nSTAT\n").endswith(
        f"+OK 3 {S1 + S2 + S3}\r\n".encode())


def test_too_many_bad_commands_after_login():
    lines = []
    for _ in range(20):
        lines += ["C: BOGUS", "S: -ERR Unknown command: BOGUS"]
    d = run(lines + ["C: BOGUS", "S: -ERR Unknown command: BOGUS",
                     "S: -ERR Too many bad commands."])
    assert d.closed and "Disconnected: Too many bad commands. top=" in d.logs[-1]


def test_input_line_too_long_after_login():
    d = run([])
    assert d.send(b"NOOP " + b"x" * 2041 + b"\r\n") == b"+OK\r\n"
    assert d.send(b"NOOP " + b"x" * 2042 + b"\r\n") == b"-ERR Input line too long.\r\n"
    assert d.closed


def test_expunged_message_on_read():
    mb = box()
    d = run([], mailbox=mb)
    del mb.data[1]
    assert d.send(b"RETR 1\r\n") == b"-ERR Message 1 expunged.\r\n"


def test_empty_mailbox():
    run(["C: STAT", "S: +OK 0 0", "C: LIST", "S: +OK 0 messages:", "S: .", "C: UIDL",
         "S: +OK", "S: .", "C: RETR 1", "S: -ERR There's no message 1.", "C: QUIT",
         "S: +OK Logging out."], mailbox=FakeMailbox())


def test_logout_format_variables():
    s = Pop3Settings(pop3_logout_format="in=%i out=%o bytes=%{deleted_bytes} %u %{user}")
    d = run(["C: UIDL 1", "S: +OK 1 000000016553f100", "C: QUIT", "S: +OK Logging out."],
            settings=s)
    assert d.logs[-1].endswith("Logged out in=14 out=58 bytes=0 3/" +
                               d.logs[-1].split("3/")[1].split(" ")[0] + " alice")
