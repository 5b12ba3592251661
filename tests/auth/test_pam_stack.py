"""PAM's control semantics, table-driven, against pam.conf(5)'s documented rules.

Each case is a stack written in real pam.d syntax over stand-in modules whose answer
is fixed: ``ok.so`` returns PAM_SUCCESS, ``fail.so`` PAM_AUTH_ERR, ``ign.so``
PAM_IGNORE, ``unk.so`` PAM_USER_UNKNOWN, ``exp.so`` PAM_NEW_AUTHTOK_REQD. The expected
code is what the rules in pam.conf(5) give (required: failure is remembered but the
stack goes on; requisite: stop at once; sufficient: success ends the stack unless a
required failed earlier; optional: matters only alone; ``[value=action]`` as written;
``N`` skips N lines; ``reset`` forgets; a stack that decides nothing gives
PAM_PERM_DENIED).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labserver.auth.pam import Pam, PamHandle
from labserver.auth.pam.conf import Loader
from labserver.auth.pam.dispatch import run_stack
from labserver.config.resolve import PathResolver

S, F, IGN, UNK, EXP, DENY = (Pam.SUCCESS, Pam.AUTH_ERR, Pam.IGNORE, Pam.USER_UNKNOWN,
                             Pam.NEW_AUTHTOK_REQD, Pam.PERM_DENIED)
FIXED = {"ok.so": S, "fail.so": F, "ign.so": IGN, "unk.so": UNK, "exp.so": EXP}

CASES = [
    # (stack, expected result, modules that must have run)
    ("required ok", S, "ok"),
    ("required fail", F, "fail"),
    ("required fail\nrequired ok", F, "fail ok"),
    ("required ok\nrequired fail\nrequired ok", F, "ok fail ok"),
    ("required unk\nrequired fail", UNK, "unk fail"),  # the first failure is kept
    ("requisite fail\nrequired ok", F, "fail"),
    ("requisite ok\nrequired ok", S, "ok ok"),
    ("required fail\nrequisite unk\nrequired ok", F, "fail unk"),
    ("sufficient ok\nrequired fail", S, "ok"),
    ("sufficient fail\nrequired ok", S, "fail ok"),
    # libpam: "done" stops the stack even after a failure; the failure stands
    ("required fail\nsufficient ok\nrequired ok", F, "fail ok"),
    ("sufficient fail", DENY, "fail"),
    ("optional ok", S, "ok"),
    ("optional fail", DENY, "fail"),
    ("optional fail\nrequired ok", S, "fail ok"),
    ("optional ign", DENY, "ign"),
    ("required ign", DENY, "ign"),
    ("required ign\nrequired ok", S, "ign ok"),
    ("required ok\noptional fail", S, "ok fail"),
    ("[success=1 default=ignore] ok\nrequisite fail\nrequired ok", S, "ok ok"),
    ("[success=1 default=ignore] fail\nrequisite fail\nrequired ok", F, "fail fail"),
    ("[success=2 default=ignore] ok\nrequired fail\nrequired fail\nrequired ok", S, "ok ok"),
    ("[success=ok default=bad] fail\nrequired ok", F, "fail ok"),
    ("[success=ok default=die] fail\nrequired ok", F, "fail"),
    ("[default=done] fail\nrequired ok", F, "fail"),  # done returns the failure as is
    ("[success=done default=ignore] ok\nrequired fail", S, "ok"),
    ("required fail\n[default=reset] ign\nrequired ok", S, "fail ign ok"),
    ("[user_unknown=ignore default=bad] unk\nrequired ok", S, "unk ok"),
    ("[user_unknown=die default=ok] unk\nrequired ok", UNK, "unk"),
    ("[success=ok new_authtok_reqd=done default=ignore] exp\nrequired fail", EXP, "exp"),
    ("required exp", EXP, "exp"),
    ("sufficient exp\nrequired fail", EXP, "exp"),
    ("[success=ok default=bad] ok\n[success=ok default=bad] ok", S, "ok ok"),
    ("optional ign\noptional ign", DENY, "ign ign"),
    ("[success=1 default=ignore] fail\n[success=done default=die] ok\nrequired fail", S,
     "fail ok"),
    ("[default=bad bogus=ok] ok\nrequired ok", DENY, "ok ok"),  # unparsable: all bad
    ("", DENY, ""),  # no modules at all
]


def _stack(lines: str) -> str:
    out = []
    for line in lines.splitlines():
        control, module = line.rsplit(" ", 1)
        out.append(f"auth {control} {module}.so")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(("stack", "expected", "ran"), CASES)
def test_control_semantics(tmp_path: Path, stack: str, expected: Pam, ran: str) -> None:
    (tmp_path / "etc/pam.d").mkdir(parents=True)
    (tmp_path / "etc/pam.d/svc").write_text(_stack(stack))
    service = Loader(PathResolver(tmp_path)).load("svc")
    calls: list[str] = []

    def call(rule):  # noqa: ANN001, ANN202
        calls.append(rule.module[:-3])
        return FIXED[rule.module]

    assert run_stack(service.stacks["auth"], call) == expected
    assert " ".join(calls) == ran


def test_at_least_25_cases() -> None:
    assert len(CASES) >= 25


def write(root: Path, files: dict[str, str]) -> PathResolver:
    for name, text in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return PathResolver(root)


def test_include_substack_and_at_include(tmp_path: Path) -> None:
    resolver = write(tmp_path, {
        "/etc/pam.d/common-auth": "auth sufficient pam_permit.so\nauth requisite pam_deny.so\n",
        "/etc/pam.d/inc": "auth include common-auth\nauth required pam_deny.so\n",
        "/etc/pam.d/sub": "auth substack common-auth\nauth required pam_deny.so\n",
        "/etc/pam.d/at": "@include common-auth\n",
        "/etc/passwd": "alice:x:1000:1000::/home/alice:/bin/sh\n",
    })
    # include: pam_permit's "sufficient" ends the whole stack
    assert PamHandle("inc", "alice", resolver).authenticate() == S
    # substack: "done" ends only the substack; the deny after it still runs
    assert PamHandle("sub", "alice", resolver).authenticate() == F
    assert PamHandle("at", "alice", resolver).authenticate() == S


def test_syntax_details(tmp_path: Path) -> None:
    resolver = write(tmp_path, {
        "/etc/pam.d/svc": (
            "# comment line\n"
            "AUTH   Required \\\n   pam_permit.so   # trailing comment\n"
            "-auth  required pam_not_installed.so\n"
            "account [success=ok default=bad] /lib/x86_64-linux-gnu/security/pam_permit.so\n"
            "session optional pam_systemd.so\n"),
        "/etc/passwd": "alice:x:1000:1000::/home/alice:/bin/sh\n",
    })
    handle = PamHandle("svc", "alice", resolver)
    assert handle.authenticate() == S  # "-auth" with a missing module says nothing
    assert handle.acct_mgmt() == S
    assert handle.config.path == "/etc/pam.d/svc"


def test_hostile_lines(tmp_path: Path) -> None:
    resolver = write(tmp_path, {
        "/etc/pam.d/typo": "auth requird pam_permit.so\n",
        "/etc/pam.d/badtype": "auht required pam_permit.so\nauth required pam_permit.so\n",
        "/etc/pam.d/nomod": "auth required\n",
        "/etc/pam.d/unknown": "auth required pam_ldap.so\n",
        "/etc/pam.d/brackets": "auth [success=ok default=bad pam_permit.so\n",
        "/etc/pam.d/loop": "auth include loop\n",
        "/etc/pam.d/missinginc": "auth include nowhere\n",
        "/etc/pam.d/binary": "\x00\x01\xff garbage [[[ ]]] \\\n",
    })
    from labserver.auth.pam import pam_start

    # a line PAM cannot understand must deny, never allow
    assert PamHandle("typo", "alice", resolver).authenticate() == DENY
    assert PamHandle("badtype", "alice", resolver).authenticate() == DENY
    assert PamHandle("nomod", "alice", resolver).authenticate() == DENY
    assert PamHandle("unknown", "alice", resolver).authenticate() == Pam.MODULE_UNKNOWN
    assert PamHandle("brackets", "alice", resolver).authenticate() != S
    assert PamHandle("binary", "alice", resolver).authenticate() != S
    assert pam_start("loop", "alice", resolver)[0] == Pam.ABORT
    assert pam_start("missinginc", "alice", resolver)[0] == Pam.ABORT
    # no file and no "other": nothing decides, so PAM denies
    assert PamHandle("absent", "alice", resolver).authenticate() == DENY
    # a service name cannot leave /etc/pam.d
    assert PamHandle("../../etc/passwd", "alice", resolver).config.path is None
