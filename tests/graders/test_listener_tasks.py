"""secure-listeners-only, judged on the lab and on real Dovecot with the same configs."""

from __future__ import annotations

import pytest

import graders

BASE = """protocols = imap pop3
ssl = required
ssl_cert = </etc/dovecot/private/dovecot.pem
ssl_key = </etc/dovecot/private/dovecot.key
"""
CLOSED = """service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
"""
RIGHT = {
    "chapter style": BASE + CLOSED,
    "defaults kept for the secure ones": BASE + "service imap-login {\n  inet_listener imap {\n"
    "    port = 0\n  }\n}\nservice pop3-login {\n  inet_listener pop3 {\n    port = 0\n  }\n}\n",
    "ssl = yes is enough": BASE.replace("required", "yes") + CLOSED,
}
WRONG = {
    "nothing closed": (BASE, 0.5),
    "pop3 left open": (BASE + CLOSED.replace("pop3 {\n    port = 0", "pop3 {\n    port = 110"),
                       0.5),
    "imaps on 143": (BASE + CLOSED.replace("port = 993", "port = 143"), 0.75),
    # with ssl = no, Dovecot opens no ssl = yes listener at all
    "ssl off": (BASE.replace("required", "no") + CLOSED, 0.25),
}


@pytest.mark.parametrize("config", RIGHT.values(), ids=RIGHT)
def test_right_configs_pass(config, engine) -> None:
    verdict = graders.check("secure-listeners-only", config, engine=engine)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", WRONG)
def test_wrong_configs_fail_alike(case, engine) -> None:
    config, score = WRONG[case]
    verdict = graders.check("secure-listeners-only", config, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert "See: 07-listeners" in str(verdict)


def test_protocols_without_pop3_fails() -> None:
    verdict = graders.check("secure-listeners-only", BASE.replace("imap pop3", "imap") + CLOSED)
    assert not verdict.passed and "POP3S on 995" in verdict.feedback
