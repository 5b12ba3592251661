"""What a client reads when a passdb that failed set a ``reason`` (PAM's failure_show_msg).

``failure_show_msg=yes`` makes Dovecot's PAM passdb store the module's prompt as the
request's ``reason`` field. The PAM lookup runs in an auth-worker, whose FAIL reply
carries the fields back; the auth process then rolls back every field a failed passdb
set (auth_fields_rollback() in auth-request.c), so in 2.3.19 the client still reads
"Authentication failed.". Real PAM cannot run in a test (it would read the host's
/etc/pam.d), so the comparison with Dovecot uses an SQL passdb, which takes the same
auth-worker path, and a passwd-file, which does not; the lab's PAM passdb is then shown
to end the same way over the wire.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

from labserver.service.lab import Lab
from tests.auth.sasl_client import imap_authenticate, pop3_authenticate

from .test_mech_differential import case_log, normalise
from .test_unix_drivers import FILES

CONFIG = """\
protocols = imap pop3
mail_location = maildir:~/Maildir
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
passdb {
  driver = sql
  args = /etc/dovecot/sql.conf
}
passdb {
  driver = passwd-file
  args = /etc/dovecot/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/home/%n
}
"""
SQL = ("driver = sqlite\nconnect = {db}\npassword_query = SELECT username AS user, password, "
       "reason FROM users WHERE username = '%u'\n")


def _lab(engine: str) -> Lab:
    root = Path(tempfile.mkdtemp(prefix=f"lab-reason-{engine}-"))
    os.chmod(root, 0o755)  # Dovecot's auth process reads the SQL settings file here
    lab = Lab(CONFIG, root=root, ports="ephemeral", engine=engine)
    lab._own_root = True
    db = lab.path("/etc/dovecot/users.db")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (username TEXT, password TEXT, reason TEXT)")
        conn.execute("INSERT INTO users VALUES ('sam', '{PLAIN}pw', 'Ask the help desk')")
    os.chmod(db, 0o644)
    lab.write_config(SQL.format(db=db if engine == "dovecot" else "/etc/dovecot/users.db"),
                     "/etc/dovecot/sql.conf")
    os.chmod(lab.path("/etc/dovecot/sql.conf"), 0o644)
    lab.write_config("fay:{PLAIN}pw::::::reason=Ask_the_help_desk\n", "/etc/dovecot/users")
    try:
        return lab.start()
    except Exception:
        lab.cleanup()
        raise


def _observe(engine: str) -> tuple[list[list[str]], list[list[str]]]:
    lab = _lab(engine)
    try:
        replies, sources = [], []
        for number, (user, password) in enumerate([("sam", "wrong"), ("fay", "wrong"),
                                                   ("sam", "pw")]):
            source = f"127.0.0.{10 + number}"
            sources.append(source)
            replies.append(normalise(imap_authenticate(
                "127.0.0.1", lab.port("imap"), "PLAIN", user, password, source=source)))
        replies.append(normalise(pop3_authenticate("127.0.0.1", lab.port("pop3"), "PLAIN",
                                                   "sam", "wrong", source="127.0.0.20")))
        sources.append("127.0.0.20")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(
                "-login: Info: " in x for x in lab.logs()) < len(sources):
            time.sleep(0.05)
        time.sleep(0.2)
        return replies, [case_log(lab.logs(), s) for s in sources]
    finally:
        lab.cleanup()


def test_a_failed_passdbs_reason_does_not_reach_the_client_as_in_dovecot() -> None:
    ours, our_logs = _observe("lab")
    theirs, their_logs = _observe("dovecot")
    assert ours == theirs
    assert our_logs == their_logs
    assert ours[0][-1] == "a NO [AUTHENTICATIONFAILED] Authentication failed."
    assert ours[1][-1] == "a NO [AUTHENTICATIONFAILED] Authentication failed."
    assert ours[2][-1] == "a OK [CAPABILITY] Logged in"
    assert ours[3][-1] == "-ERR [AUTH] Authentication failed."
    assert "sql(sam,127.0.0.10,<S>): Password mismatch" in our_logs[0][0]


def test_pam_failure_show_msg_over_the_wire() -> None:
    config = CONFIG.split("passdb {")[0] + (
        "passdb {\n  driver = pam\n  args = failure_show_msg=yes dovecot\n}\n"
        "userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=/home/%n\n}\n")
    lab = Lab(config, ports="ephemeral")
    try:
        for name, text in FILES.items():
            lab.write_config(text, name)
        lab.start()
        reply = imap_authenticate("127.0.0.1", lab.port("imap"), "PLAIN", "alice", "wrong",
                                  source="127.0.0.2")
        assert reply[-1] == b"a NO [AUTHENTICATIONFAILED] Authentication failed."
        time.sleep(0.2)
        assert lab.logs("pam(alice,127.0.0.2,<")[0].endswith(
            "pam_authenticate() failed: Authentication failure (Password mismatch?)")
        good = imap_authenticate("127.0.0.1", lab.port("imap"), "PLAIN", "alice", "secret",
                                 source="127.0.0.3")
        assert good[-1].startswith(b"a OK")
    finally:
        lab.cleanup()
