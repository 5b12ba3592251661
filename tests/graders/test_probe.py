"""The graders' probing kit: labs from submissions, clients, time limits, partial credit."""

from __future__ import annotations

import imaplib
import stat
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import graders
from graders import probe
from labserver.service.lab import DEFAULT_CONFIG

TLS = DEFAULT_CONFIG.replace("ssl = no", "ssl = required\n"
                             "ssl_cert = </etc/dovecot/private/dovecot.pem\n"
                             "ssl_key = </etc/dovecot/private/dovecot.key\n")


def test_text_submission_runs_on_ephemeral_ports_and_is_removed() -> None:
    user, password = probe.fresh_user()
    with probe.lab_for("t", DEFAULT_CONFIG, users=[(user, password)]) as lab:
        root = lab.root
        assert {s.name for s, _ in lab.listeners()} == {"imap", "pop3"}
        assert all(port != s.port for s, port in lab.listeners())
        client = probe.imap_client(lab)
        assert client.login(user, password)[0] == "OK"
        probe.close(client)
    assert not root.exists()


def test_two_labs_at_once_share_nothing() -> None:
    with probe.lab_for("a", DEFAULT_CONFIG) as one, probe.lab_for("b", DEFAULT_CONFIG) as two:
        assert one.root != two.root
        assert {p for _, p in one.listeners()}.isdisjoint({p for _, p in two.listeners()})


def test_folder_submissions_in_both_shapes(tmp_path: Path) -> None:
    etc = tmp_path / "a"
    (etc / "conf.d").mkdir(parents=True)
    (etc / "dovecot.conf").write_text(DEFAULT_CONFIG + "!include conf.d/*.conf\n")
    (etc / "conf.d" / "10-pop3.conf").write_text("protocols = pop3\n")
    with probe.lab_for("t", etc) as lab:
        assert {s.name for s, _ in lab.listeners()} == {"pop3"}
    whole = tmp_path / "b" / "etc" / "dovecot"
    whole.mkdir(parents=True)
    (whole / "dovecot.conf").write_text(DEFAULT_CONFIG.replace("imap pop3", "imap"))
    with probe.lab_for("t", tmp_path / "b") as lab:
        assert {s.name for s, _ in lab.listeners()} == {"imap"}


def test_a_refused_config_stops_with_doveconfs_words() -> None:
    with pytest.raises(probe.Rejected) as stop, probe.lab_for("t", "ssl = maybe\n"):
        pass
    verdict = stop.value.verdict
    assert not verdict.passed and verdict.score == 0
    assert "Invalid value: maybe" in verdict.feedback
    assert "line 1" in verdict.feedback


def test_certificates_are_provided_where_the_config_reads_them() -> None:
    text = TLS + "ssl_key_password = s3cret\n"
    with probe.lab_for("t", text) as lab:
        key = lab.path("/etc/dovecot/private/dovecot.key")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(key.read_bytes(), None)
        assert serialization.load_pem_private_key(key.read_bytes(), b"s3cret")
        assert {"imaps", "pop3s"} <= {s.name for s, _ in lab.listeners()}


def test_probes_come_from_an_address_that_is_not_secured() -> None:
    user, password = probe.fresh_user()
    with probe.lab_for("t", TLS, users=[(user, password)]) as lab:
        client = probe.imap_client(lab)
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            client.login(user, password)
        probe.close(client)
        client = probe.imap_client(lab, starttls=True)
        assert client.login(user, password)[0] == "OK"
        probe.close(client)
        local = probe.imap_client(lab, source=None)
        assert local.login(user, password)[0] == "OK"
        probe.close(local)


def test_judge_gives_partial_credit_and_lists_what_is_missing() -> None:
    verdict = probe.judge("t", [(True, "IMAPS works", ""), (False, "no POP3 on 110",
                                                           "port 110 answered")],
                          hint="set port = 0", see="07-listeners")
    assert (verdict.passed, verdict.score) == (False, 0.5)
    assert "[MISS] no POP3 on 110: port 110 answered" in verdict.feedback
    assert "Hint: set port = 0" in verdict.feedback
    assert "See: 07-listeners" in str(verdict)
    with pytest.raises(AssertionError, match="See: 07-listeners"):
        verdict.assert_passed()


def test_a_check_that_hangs_gets_a_verdict_in_time(monkeypatch) -> None:
    def hangs(submission: str) -> graders.Verdict:
        time.sleep(30)
        raise AssertionError("not reached")

    monkeypatch.setitem(graders._CHECKS, "hangs", hangs)
    started = time.monotonic()
    verdict = graders.check("hangs", "", timeout=0.5)
    assert time.monotonic() - started < 5
    assert not verdict.passed and "ran out of time" in verdict.feedback


def test_every_task_has_a_description() -> None:
    assert graders.TASKS and all(graders.TASKS.values())
    with pytest.raises(KeyError, match="unknown task"):
        graders.check("no-such-task", "")
