"""Listeners: which ports the server really opens, and what answers on them.

The lab opens every listener on an ephemeral port but remembers the port the
configuration asked for, so "only 993 and 995" is judged on what the server bound after
reading the configuration (the same for real Dovecot started by the lab), and then each
secure port is tried with a TLS handshake and a login.
"""

from __future__ import annotations

from .probe import Submission, close, evidence, fresh_user, imap_client, judge, lab_for, pop3_client
from .verdict import Verdict

SEE = "07-listeners: Closing the plaintext ports"


def _logs_in(make, user: str, password: str) -> tuple[bool, str]:  # noqa: ANN001
    try:
        client = make()
    except OSError as exc:
        return False, f"the TLS connection failed ({exc})"
    try:
        if hasattr(client, "login"):
            client.login(user, password)
        else:
            client.user(user)
            client.pass_(password)
        return True, ""
    except Exception as exc:  # noqa: BLE001 - any failure is the observation
        return False, f"login failed ({exc})"
    finally:
        close(client)


def secure_listeners_only(submission: Submission, *, engine: str = "lab") -> Verdict:
    """Only IMAPS (993) and POP3S (995) listen; both accept TLS and logins."""
    task = "secure-listeners-only"
    user, password = fresh_user()
    with lab_for(task, submission, engine=engine, users=[(user, password)],
                 default_auth=True, see=SEE) as lab:
        bound = {(spec.name, spec.configured_port, spec.ssl) for spec, _ in lab.listeners()}
        ports = sorted({port for _, port, _ in bound})
        plain = sorted(f"{name} on {port}" for name, port, ssl in bound if not ssl)
        names = {name for name, _, _ in bound}
        imaps = pop3s = (False, "no such listener")
        if "imaps" in names:
            imaps = _logs_in(lambda: imap_client(lab, "imaps"), user, password)
        if "pop3s" in names:
            pop3s = _logs_in(lambda: pop3_client(lab, "pop3s"), user, password)
        parts = [
            (not plain, "no plaintext listener (143 and 110 closed)",
             "still listening: " + ", ".join(plain)),
            (ports == [993, 995], "exactly the ports 993 and 995",
             f"the server listens on {', '.join(map(str, ports)) or 'nothing'}"),
            (imaps[0], "IMAPS on 993 completes a TLS handshake and a login", imaps[1]),
            (pop3s[0], "POP3S on 995 completes a TLS handshake and a login", pop3s[1]),
        ]
        return judge(task, parts, see=SEE,
                     evidence=[*lab.table().splitlines(), *evidence(lab, "Error")],
                     hint="In service imap-login and pop3-login, set port = 0 on the "
                          "plaintext inet_listener and keep imaps/pop3s with ssl = yes; "
                          "`protocols` must still name imap and pop3.")


CHECKS = {"secure-listeners-only": secure_listeners_only}
