"""The PAM explorer: each line's result, the verdict and Dovecot's log line, headless."""

from __future__ import annotations

import pytest

from labserver.auth.pam import Pam
from labserver.jupyter import pam

PASSWORDS = {a.name: a.password or "anything" for a in pam.ACCOUNTS}


@pytest.mark.parametrize(("stack", "user", "admitted", "log"), [
    ("the chapter's file", "alice", True, None),
    ("the chapter's file", "bob", False, "pam_authenticate() failed: Authentication failure "
                                         "(Password mismatch?)"),
    ("the chapter's file", "carol", False, "pam_acct_mgmt() failed: User account has expired"),
    ("the chapter's file", "dave", True, None),  # nullok: no password asked
    ("the chapter's file", "nobody", False, "pam(nobody,192.0.2.10): unknown user"),
    ("Debian's stock file", "carol", False, "pam_acct_mgmt() failed: Authentication failure"),
    ("no account line", "alice", False, "pam_acct_mgmt() failed: Permission denied"),
    ("pam_permit first", "bob", True, None),  # sufficient pam_permit: no password check
    ("a misspelt module", "alice", False, "pam_authenticate() failed: Module is unknown"),
    ("an allow list", "bob", False, "Authentication failure"),
    ("an allow list", "root", False, "Authentication failure"),
    ("an allow list", "alice", True, None),
])
def test_verdicts_and_log_lines(stack: str, user: str, admitted: bool, log: str | None) -> None:
    run = pam.simulate(pam.STACKS[stack], user, PASSWORDS.get(user, "x"))
    assert run.admitted is admitted
    if log is None:
        assert not any("failed" in line or "unknown user" in line for line in run.log)
    else:
        assert any(log in line for line in run.log), run.log


def test_each_line_says_what_it_returned_and_what_its_control_did() -> None:
    run = pam.simulate(pam.STACKS["Debian's stock file"], "nobody", "x")
    auth = [line for line in run.lines if line.kind == "auth"]
    assert [(x.origin, x.code, x.action) for x in auth] == [
        ("common-auth:1", Pam.USER_UNKNOWN, "ignore"),
        ("common-auth:2", Pam.AUTH_ERR, "die"),
        ("common-auth:3", None, "not run: ended at common-auth:2 (die)")]
    assert auth[0].control == "[success=1 default=ignore]" and auth[0].module == (
        "pam_unix.so nullok")
    assert all(not x.ran and "auth failed first" in x.action
               for x in run.lines if x.kind == "account")
    assert run.verdict == "refused by pam_authenticate(): Authentication failure"


def test_a_jump_skips_lines() -> None:
    run = pam.simulate(pam.STACKS["Debian's stock file"], "alice", "wonderland")
    actions = [(x.origin, x.action) for x in run.lines]
    assert ("common-auth:1", "jump 1") in actions
    assert ("common-auth:2", "not run: jumped over") in actions
    assert run.admitted and run.auth == Pam.SUCCESS and run.account == Pam.SUCCESS


def test_sufficient_ends_the_auth_stack_but_not_the_account_stack() -> None:
    run = pam.simulate(pam.STACKS["pam_permit first"], "nobody", "x")
    assert [(x.kind, x.action) for x in run.lines] == [
        ("auth", "done"), ("auth", "not run: ended at dovecot:1 (done)"),
        ("account", "bad")]
    assert run.verdict.startswith("refused by pam_acct_mgmt(): User not known")


def test_nologin_and_substacks() -> None:
    files = pam.world_files(nologin=True)
    run = pam.simulate(pam.STACKS["nologin first"], "alice", "wonderland", files=files)
    assert not run.admitted and run.lines[0].code == Pam.AUTH_ERR
    assert "The mail server is down for maintenance." in run.messages
    run = pam.simulate(pam.STACKS["nologin first"], "root", "toor", files=files)
    assert run.admitted  # root is let in: pam_nologin answers PAM_IGNORE for uid 0
    run = pam.simulate("auth substack common-auth\naccount include common-account\n",
                       "alice", "wonderland")
    assert run.admitted and run.lines[3].module == "substack common-auth"


def test_the_flow_picture_follows_the_run() -> None:
    run = pam.simulate(pam.STACKS["Debian's stock file"], "nobody", "x")
    svg = str(pam.flow(run))
    assert svg.startswith("<svg") and "auth pam_deny.so" in svg
    assert "refused (nobody)" in svg
    assert "PAM_AUTH_ERR → die: auth stack ends" in svg and "[success=1 …]" in svg
    html = pam.table_html(pam.simulate(pam.STACKS["the chapter's file"], "alice", "<b>"))
    assert "&lt;b&gt;" not in html and "Password mismatch?" in html


def test_the_widget_runs_without_a_browser() -> None:
    explorer = pam.PamExplorer()
    run = explorer.run(user="carol", stack="the chapter's file")
    assert not run.admitted and "User account has expired" in explorer.out.value
    assert explorer.picture.value.startswith("<svg")
    explorer.user.value = "dave"
    assert explorer.password.value == "x"  # empty password field: anything will do
    explorer.nologin.value = True
    assert not explorer.run(user="alice", stack="nologin first").admitted
    edited = explorer.run(stack="auth required pam_permit.so\naccount required pam_permit.so\n",
                          user="nobody", password="x")
    assert edited.admitted
