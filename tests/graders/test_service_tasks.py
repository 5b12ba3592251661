"""listeners-ports and listen-address, judged on the lab and on real Dovecot alike."""

from __future__ import annotations

from pathlib import Path

import pytest

import graders

BASE = """protocols = imap pop3
ssl = yes
ssl_cert = </etc/dovecot/private/dovecot.pem
ssl_key = </etc/dovecot/private/dovecot.key
"""
MASTER = """service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 1993
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 1110
  }
  inet_listener pop3s {
    port = 0
  }
}
"""
PORTS = {"imap": 0, "imaps": 1993, "pop3": 1110, "pop3s": 0}
PORTS_WRONG = {
    "defaults kept": (BASE, 3 / 7),
    "imap left open": (BASE + MASTER.replace("imap {\n    port = 0", "imap {\n    port = 143"),
                       6 / 7),
    # ssl = no: Dovecot opens no implicit-TLS listener at all
    "ssl off": (BASE.replace("ssl = yes", "ssl = no") + MASTER, 5 / 7),
    # the imaps listener turned into a plaintext one
    "imaps without TLS": (BASE + MASTER.replace("port = 1993", "port = 1993\n    ssl = no"),
                          6 / 7),
}


def _folder(tmp_path: Path) -> Path:
    """Debian's layout: dovecot.conf includes conf.d/10-master.conf."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "dovecot.conf").write_text(BASE + "!include conf.d/*.conf\n")
    (tmp_path / "conf.d" / "10-master.conf").write_text(MASTER)
    return tmp_path


@pytest.mark.parametrize("config", [BASE + MASTER, BASE + MASTER.replace(
    "port = 1993", "port = 1993\n    ssl = yes")], ids=["chapter style", "ssl = yes written"])
def test_ports_right(config: str, engine: str) -> None:
    verdict = graders.check("listeners-ports", config, ports=PORTS, engine=engine)
    assert verdict.passed, str(verdict)


def test_ports_from_an_included_file(tmp_path: Path, engine: str) -> None:
    verdict = graders.check("listeners-ports", _folder(tmp_path), ports=PORTS, engine=engine)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", PORTS_WRONG)
def test_ports_wrong_alike(case: str, engine: str) -> None:
    config, score = PORTS_WRONG[case]
    verdict = graders.check("listeners-ports", config, ports=PORTS, engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert "See: 07-listeners: Moving a listener" in str(verdict)


def test_ports_protocols_gate_the_listeners() -> None:
    verdict = graders.check("listeners-ports", BASE.replace("imap pop3", "imap") + MASTER,
                            ports=PORTS)
    assert not verdict.passed
    assert "[MISS] pop3 listens on port 1110: there is no open pop3 listener" in verdict.feedback


def test_ports_an_extra_listener_is_noticed() -> None:
    extra = MASTER.replace("  inet_listener imaps {", "  inet_listener imap-alt {\n"
                           "    port = 1143\n  }\n  inet_listener imaps {")
    verdict = graders.check("listeners-ports", BASE + extra, ports=PORTS)
    assert not verdict.passed and "also listening: imap-alt on 1143" in verdict.feedback


def test_ports_config_that_does_not_parse() -> None:
    verdict = graders.check("listeners-ports", BASE + "service imap-login {\n  inet_listener "
                            "imap {\n    prot = 0\n  }\n}\n", ports=PORTS)
    assert not verdict.passed and verdict.score == 0
    assert "line 7: Unknown setting:" in verdict.feedback and "prot" in verdict.feedback


LISTEN_RIGHT = {
    "global listen": BASE + "listen = 127.0.0.3\n",
    "per listener": BASE + "".join(
        f"service {p}-login {{\n" + "".join(
            f"  inet_listener {n} {{\n    address = 127.0.0.3\n  }}\n" for n in names) + "}\n"
        for p, names in (("imap", ("imap", "imaps")), ("pop3", ("pop3", "pop3s")))),
    "listen with closed ports": BASE + "listen = 127.0.0.3\n" + MASTER,
}
LISTEN_WRONG = {
    # the lab listens on 127.0.0.1 by default; Dovecot on every address
    "nothing said": (BASE, 0.0),
    "another address": (BASE + "listen = 127.0.0.4\n", 0.4),
    "only IMAP moved": (BASE + "service imap-login {\n  inet_listener imap {\n    address = "
                        "127.0.0.3\n  }\n  inet_listener imaps {\n    address = 127.0.0.3\n"
                        "  }\n}\n", 0.6),
    "both addresses": (BASE + "listen = 127.0.0.3, 127.0.0.1\n", 0.4),
}


@pytest.mark.parametrize("config", LISTEN_RIGHT.values(), ids=LISTEN_RIGHT)
def test_listen_right(config: str, engine: str) -> None:
    verdict = graders.check("listen-address", config, address="127.0.0.3", engine=engine)
    assert verdict.passed, str(verdict)


@pytest.mark.parametrize("case", LISTEN_WRONG)
def test_listen_wrong_alike(case: str, engine: str) -> None:
    config, score = LISTEN_WRONG[case]
    verdict = graders.check("listen-address", config, address="127.0.0.3", engine=engine)
    assert not verdict.passed and verdict.score == pytest.approx(score), str(verdict)
    assert "See: 07-listeners: Listening addresses" in str(verdict)


@pytest.mark.parametrize("listen", ["*", "*, ::", "::", "192.0.2.10"])
def test_listen_outside_loopback_is_judged_without_opening_it(listen: str) -> None:
    verdict = graders.check("listen-address", BASE + f"listen = {listen}\n",
                            address="127.0.0.3")
    assert not verdict.passed and "the check does not open sockets" in verdict.feedback
    assert verdict.evidence == ()


def test_listen_config_that_does_not_parse() -> None:
    verdict = graders.check("listen-address", BASE + "listen = 127.0.0.3\n}\n",
                            address="127.0.0.3")
    assert not verdict.passed and "Unexpected '}'" in verdict.feedback
