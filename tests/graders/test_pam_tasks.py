"""PAM graders: correct stacks written several ways pass, the usual mistakes fail.

PAM is the lab's simulation here: real Dovecot would consult the host's PAM and the
host's accounts, so these verdicts are not compared with real Dovecot (the control-flag
rules themselves are checked in tests/auth/test_pam_stack.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import graders
from graders.pam_tasks import DEBIAN_DOVECOT, PAM_CONFIG, make_world

CHAPTER = "auth    required        pam_unix.so nullok\naccount required        pam_unix.so\n"
LISTED = ("auth required pam_listfile.so item=user sense=allow "
          "file=/etc/dovecot/allowed-users onerr=fail\n")


@pytest.mark.parametrize("stack", [
    CHAPTER,
    DEBIAN_DOVECOT,
    "#%PAM-1.0\nauth [success=1 default=ignore] pam_unix.so nullok\nauth requisite "
    "pam_deny.so\nauth required pam_permit.so\naccount include common-account\n",
    "auth substack common-auth\naccount requisite pam_unix.so\n",
    "auth requisite pam_nologin.so\n" + CHAPTER,  # no /etc/nologin: PAM_IGNORE
], ids=["chapter", "debian-includes", "bracket-form", "substack", "with-nologin"])
def test_working_stacks_pass(stack: str) -> None:
    verdict = graders.check("pam-dovecot", stack)
    assert verdict.passed, verdict


@pytest.mark.parametrize(("stack", "missed", "hint"), [
    ("auth required pam_unix.so nullok\n", "right password logs in",
     "account required pam_unix.so"),
    ("auth required pam_unix.so nullok\naccount required pam_permit.so\n",
     "expiry date has passed", "account module"),
    ("auth sufficient pam_permit.so\n" + CHAPTER, "wrong password is refused", "pam_permit"),
    ("auth optional pam_unix.so nullok\nauth optional pam_permit.so\n"
     "account required pam_unix.so\n", "wrong password is refused", "pam_permit"),
    ("auth required pam_unx.so nullok\naccount required pam_unix.so\n",
     "right password logs in", "Module is unknown"),
    ("auth required pam_unix.so\naccount required pam_unix.so\n", "empty password", "nullok"),
], ids=["no-account-stack", "account-permit", "sufficient-permit", "all-optional", "typo",
        "no-nullok"])
def test_broken_stacks_fail_with_a_useful_hint(stack: str, missed: str, hint: str) -> None:
    verdict = graders.check("pam-dovecot", stack)
    assert not verdict.passed and 0 < verdict.score < 1
    assert any("[MISS]" in line and missed in line for line in verdict.feedback.splitlines())
    assert hint in verdict.feedback
    assert "See: 02-pam-auth" in str(verdict)


def test_users_are_new_each_time() -> None:
    first, second = make_world(("good", "expired")), make_world(("good", "expired"))
    assert {a.password for a in first.accounts}.isdisjoint(
        {a.password for a in second.accounts})
    verdict = graders.check("pam-dovecot", "auth required pam_deny.so\n")
    assert not verdict.passed and re.search(r"good\d{4} was refused", verdict.feedback)


def test_nullok_can_be_forbidden() -> None:
    strict = "auth required pam_unix.so\naccount required pam_unix.so\n"
    assert graders.check("pam-dovecot", strict, nullok=False).passed
    assert not graders.check("pam-dovecot", CHAPTER, nullok=False).passed


def test_allow_file_policy() -> None:
    assert graders.check("pam-dovecot", LISTED + CHAPTER, policy="allow-file").passed
    verdict = graders.check("pam-dovecot", CHAPTER, policy="allow-file")
    assert not verdict.passed and "missing from /etc/dovecot/allowed-users" in verdict.feedback
    # sense=deny is the opposite of what is asked
    deny = LISTED.replace("sense=allow", "sense=deny")
    assert not graders.check("pam-dovecot", deny + CHAPTER, policy="allow-file").passed


def test_nologin_policy() -> None:
    assert graders.check("pam-dovecot", "auth requisite pam_nologin.so\n" + CHAPTER,
                         nologin=True).passed
    verdict = graders.check("pam-dovecot", CHAPTER, nologin=True)
    assert not verdict.passed and "pam_nologin.so" in verdict.feedback


def test_a_folder_of_pam_files(tmp_path: Path) -> None:
    (tmp_path / "mail-auth").write_text("auth required pam_unix.so nullok\n"
                                        "account required pam_unix.so\n")
    (tmp_path / "dovecot").write_text("@include mail-auth\n")
    assert graders.check("pam-dovecot", tmp_path).passed
    (tmp_path / "dovecot").unlink()
    verdict = graders.check("pam-dovecot", tmp_path)
    assert not verdict.passed and "no file named dovecot" in verdict.feedback


def test_missing_include_aborts_pam_start() -> None:
    verdict = graders.check("pam-dovecot", "@include common-mail\n")
    assert not verdict.passed
    assert any("pam_start() failed" in line for line in verdict.evidence) or (
        "refused" in verdict.feedback)


def test_garbage_gets_a_verdict() -> None:
    assert not graders.check("pam-dovecot", b"\xff\x00").passed
    assert not graders.check("pam-dovecot", "\x00\n[[[ ]]] ???\n").passed


STATIC = PAM_CONFIG.replace("userdb {\n  driver = passwd\n}",
                            "userdb {\n  driver = static\n  args = uid=vmail gid=vmail "
                            "home=/home/%u\n}")


@pytest.mark.parametrize("config", [
    PAM_CONFIG,
    STATIC,
    PAM_CONFIG.replace("driver = pam\n", "driver = pam\n  args = session=yes dovecot\n"),
], ids=["passwd-userdb", "static-userdb", "explicit-service"])
def test_pam_passdb_configs_that_work(config: str) -> None:
    verdict = graders.check("pam-passdb", config)
    assert verdict.passed, verdict


def test_pam_passdb_mistakes() -> None:
    wrong_home = STATIC.replace("home=/home/%u", "home=/var/vmail/%u")
    verdict = graders.check("pam-passdb", wrong_home)
    assert not verdict.passed and "[MISS] after login the user sees the mail" in verdict.feedback
    verdict = graders.check("pam-passdb", PAM_CONFIG.replace("driver = pam\n",
                                                             "driver = pam\n  args = %s\n"))
    assert not verdict.passed
    assert any("(/etc/pam.d/imap missing?)" in line for line in verdict.evidence)
    verdict = graders.check("pam-passdb", PAM_CONFIG.replace("driver = pam\n",
                                                             "driver = pam\n  args = bogus x\n"))
    assert not verdict.passed and "pam: Unknown setting: bogus" in verdict.feedback
    verdict = graders.check("pam-passdb", PAM_CONFIG.replace("driver = pam", "drivr = pam"))
    assert not verdict.passed and "drivr" in verdict.feedback


@pytest.mark.parametrize(("args", "passed"), [
    ("%s", True), ("*", True), ("session=yes %Ls", True), ("imap", False), ("", False),
])
def test_pam_service_per_protocol(args: str, passed: bool) -> None:
    config = PAM_CONFIG.replace("driver = pam\n", f"driver = pam\n  args = {args}\n")
    verdict = graders.check("pam-passdb", config, per_protocol=True)
    assert verdict.passed is passed, verdict
