"""Mechanism x passdb driver x stored scheme x password x connection, against Dovecot 2.3.

The same configuration runs in the lab and in real Dovecot (``Lab(engine="dovecot")``):
every SASL mechanism the lab has (and APOP over POP3) meets each passdb driver
(passwd-file, sql on SQLite, static) holding a user per stored scheme (PLAIN, CRAM-MD5,
SHA512-CRYPT, SSHA256, SCRAM-SHA-256, DIGEST-MD5; the static passdb has one password for
everyone, stored PLAIN), with the right password and a wrong one, over a plaintext
connection from 127.0.0.x (not 127.0.0.1, so not secured: ``disable_plaintext_auth`` at
its default refuses PLAIN and LOGIN there) and after STARTTLS/STLS. The protocol replies
must be the same once the random parts (nonces, salts, timestamps) are masked, and so must
the auth process's lines (``auth_verbose = yes``) and the login process's ``Disconnected``
and ``Login`` lines.

One Dovecot and one lab serve all cases of a driver, several cases at once. Each case
comes from its own source address (127.0.0.2 and up): Dovecot's auth penalty (which the
lab does not model) delays failures from an address that failed before, and the address
tells each case's log lines apart. The matrix size and the pass count are printed at the
end of the run; ``python -m tests.auth.test_mech_differential`` prints the failures.
"""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from labserver.auth import schemes
from labserver.service.lab import Lab
from tests.auth.sasl_client import imap_authenticate, pop3_authenticate
from tests.tls.harness import self_signed

MECHS = ["PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "APOP"]
STORED = ["PLAIN", "CRAM-MD5", "SHA512-CRYPT", "SSHA256", "SCRAM-SHA-256", "DIGEST-MD5"]
DRIVERS = {"passwd-file": STORED, "sql": STORED, "static": ["PLAIN"]}
CONNECTIONS = ["plaintext", "tls"]
PASSWORD = "secret"
CERT, KEY = self_signed("mail.example.org")

BASE = """\
protocols = imap pop3
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = </etc/dovecot/cert.pem
ssl_key = </etc/dovecot/private/key.pem
auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 apop
auth_verbose = yes
auth_failure_delay = 0
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/home/%n
}
"""
PASSDBS = {
    "passwd-file": "passdb {\n  driver = passwd-file\n  args = /etc/dovecot/users\n}\n",
    "sql": "passdb {\n  driver = sql\n  args = /etc/dovecot/dovecot-sql.conf.ext\n}\n",
    "static": f"passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}\n",
}
SQL_CONF = """driver = sqlite
connect = {db}
default_pass_scheme = SHA512-CRYPT
password_query = SELECT username AS user, password FROM users WHERE username = '%u'
"""

# Which stored schemes can serve which mechanism: plaintext serves all, a hash only the
# plaintext mechanisms (which verify the password against it) and its own mechanism.
SERVES = {"PLAIN": set(STORED), "LOGIN": set(STORED), "CRAM-MD5": {"PLAIN", "CRAM-MD5"},
          "DIGEST-MD5": {"PLAIN", "DIGEST-MD5"}, "SCRAM-SHA-1": {"PLAIN"},
          "SCRAM-SHA-256": {"PLAIN", "SCRAM-SHA-256"}, "APOP": {"PLAIN"}}


@dataclass(frozen=True)
class Case:
    driver: str
    mech: str
    stored: str
    right: bool
    connection: str

    @property
    def id(self) -> str:
        return (f"{self.driver}/{self.mech}/{self.stored}/"
                f"{'right' if self.right else 'wrong'}/{self.connection}")

    @property
    def user(self) -> str:
        return "u-" + self.stored.lower()

    def expected_success(self) -> bool:
        plaintext_refused = self.connection == "plaintext" and self.mech in ("PLAIN", "LOGIN")
        return self.right and self.stored in SERVES[self.mech] and not plaintext_refused


CASES = [Case(driver, mech, stored, right, connection)
         for driver, stored_list in DRIVERS.items() for mech in MECHS
         for stored in stored_list for right in (True, False) for connection in CONNECTIONS]


# -- masking what is random -------------------------------------------------------------

def _mask_challenge(text: str) -> str:
    text = re.sub(r"<\d+\.\d+@[^>]*>", "<cram-challenge>", text)
    text = re.sub(r"^r=[^,]*,s=[^,]*,", "r=<nonce>,s=<salt>,", text)
    text = re.sub(r"^v=.*", "v=<server-signature>", text)
    text = re.sub(r'nonce="[^"]*"', 'nonce="<nonce>"', text)
    return re.sub(r"rspauth=[0-9a-f]{32}", "rspauth=<digest>", text)


def normalise(lines: list[bytes]) -> list[str]:
    """The replies after the greeting (which differs in capabilities and APOP stamp)."""
    out = []
    for raw in lines[1:]:
        line = raw.decode("utf-8", "replace")
        if line.startswith("+ "):
            try:
                line = "+ " + _mask_challenge(base64.b64decode(line[2:]).decode())
            except ValueError:
                pass
        line = re.sub(r"\[CAPABILITY [^\]]*\]", "[CAPABILITY]", line)
        out.append(line)
    return out


_LOG_LINE = re.compile(r"\b((?:auth|auth-worker\(\d+\)|imap-login|pop3-login)): (\w+): (.*)$")


def case_log(lines: list[str], source: str) -> list[str]:
    """The auth and login lines of one source address, session ids and times masked."""
    found = []
    for line in lines:
        m = _LOG_LINE.search(line)
        if not m or not re.search(rf"[,=]{re.escape(source)}[,)]", m.group(3)):
            continue
        process = re.sub(r"\(\d+\)", "(PID)", m.group(1))
        if "-login" in process and not m.group(3).startswith(("Disconnected", "Login:")):
            continue
        text = re.sub(r"(session=|,)<[^>]*>", r"\1<S>", m.group(3))
        text = re.sub(r"\(pid=\d+,uid=\d+\): auth-worker<\d+>", "(pid=P,uid=U): auth-worker<N>",
                      text)
        text = re.sub(r"in \d+ secs", "in N secs", text)
        text = re.sub(r", mpid=\d+", "", text)
        found.append(f"{process}: {m.group(2)}: {text}")
    return found


# -- the two servers ----------------------------------------------------------------------

def _stored(stored: str, user: str) -> str:
    return schemes.generate(PASSWORD, stored, user=user)


def make_lab(driver: str, engine: str) -> Lab:
    root = Path(tempfile.mkdtemp(prefix=f"lab-matrix-{engine}-"))
    # Dovecot's auth process runs as an unprivileged user and reads the SQL settings
    # file from the lab directory.
    os.chmod(root, 0o755)
    lab = Lab(BASE + PASSDBS[driver], root=root, ports="ephemeral", engine=engine)
    lab._own_root = True  # removed on cleanup(), as a lab that made its own directory
    lab.write_config(CERT.decode(), "/etc/dovecot/cert.pem")
    lab.write_config(KEY.decode(), "/etc/dovecot/private/key.pem")
    os.chmod(lab.path("/etc/dovecot/private/key.pem"), 0o600)
    users = [("u-" + s.lower(), s) for s in DRIVERS[driver]]
    if driver == "passwd-file":
        for user, stored in users:
            lab.add_user(user, PASSWORD, scheme=stored)
    elif driver == "sql":
        db_path = lab.path("/etc/dovecot/users.db")
        db = sqlite3.connect(db_path)
        db.execute("CREATE TABLE users (username TEXT, password TEXT)")
        db.executemany("INSERT INTO users VALUES (?, ?)",
                       [(user, _stored(stored, user)) for user, stored in users])
        db.commit()
        db.close()
        os.chmod(db_path, 0o644)
        # Real Dovecot opens the file by its real path; the lab maps the path in its root.
        db_name = str(db_path) if engine == "dovecot" else "/etc/dovecot/users.db"
        lab.write_config(SQL_CONF.format(db=db_name), "/etc/dovecot/dovecot-sql.conf.ext")
        os.chmod(lab.path("/etc/dovecot/dovecot-sql.conf.ext"), 0o644)
    for user, _ in users:
        lab.path(f"/home/{user}").mkdir(parents=True, exist_ok=True)
    try:
        return lab.start()
    except Exception:
        lab.cleanup()
        raise


def run_case(lab: Lab, case: Case, source: str) -> list[bytes]:
    host = lab.listeners()[0][0].address
    if host in ("*", "0.0.0.0", "", "::"):
        host = "127.0.0.1"
    password = PASSWORD if case.right else "wrong"
    tls = case.connection == "tls"
    try:
        if case.mech == "APOP":
            return pop3_authenticate(host, lab.port("pop3"), case.mech, case.user, password,
                                     source=source, tls=tls)
        return imap_authenticate(host, lab.port("imap"), case.mech, case.user, password,
                                 source=source, tls=tls)
    except OSError as exc:
        return [b"", f"connection failed: {exc}".encode()]


def _settled(lab: Lab, wanted: int, timeout: float = 10) -> list[str]:
    """The log once every case's login process has written its last line."""
    deadline = time.monotonic() + timeout
    lines = lab.logs()
    while time.monotonic() < deadline:
        lines = lab.logs()
        done = sum(1 for x in lines if "-login: " in x and ("Disconnected" in x or "Login:" in x))
        if done >= wanted:
            time.sleep(0.3)  # the auth process's lines of the last cases
            return lab.logs()
        time.sleep(0.1)
    return lines


@dataclass
class Outcome:
    ours: list[str]
    theirs: list[str]
    our_log: list[str]
    their_log: list[str]

    @property
    def same(self) -> bool:
        # Dovecot's auth and login processes log in either order: the lines must match
        return self.ours == self.theirs and sorted(self.our_log) == sorted(self.their_log)


def run_driver(driver: str) -> dict[str, Outcome]:
    cases = [c for c in CASES if c.driver == driver]
    sources = {c.id: f"127.0.0.{2 + i}" for i, c in enumerate(cases)}
    assert len(cases) <= 249
    labs = {}
    try:
        for engine in ("dovecot", "lab"):
            labs[engine] = make_lab(driver, engine)
        replies: dict[str, dict[str, list[str]]] = {}
        for engine, lab in labs.items():
            with ThreadPoolExecutor(6) as pool:
                done = pool.map(lambda c, lab=lab: normalise(run_case(lab, c, sources[c.id])),
                                cases)
                replies[engine] = dict(zip([c.id for c in cases], done, strict=True))
        logs = {engine: _settled(lab, len(cases)) for engine, lab in labs.items()}
    finally:
        for lab in labs.values():
            lab.cleanup()
    return {c.id: Outcome(replies["lab"][c.id], replies["dovecot"][c.id],
                          case_log(logs["lab"], sources[c.id]),
                          case_log(logs["dovecot"], sources[c.id])) for c in cases}


OUTCOMES: dict[str, Outcome] = {}


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> Iterator[dict[str, Outcome]]:
    yield OUTCOMES
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    passed = sum(o.same for o in OUTCOMES.values())
    line = (f"auth differential matrix: {len(OUTCOMES)} of {len(CASES)} cases run, "
            f"{passed} identical to Dovecot")
    if reporter is not None:
        reporter.write_line(line)
    print(line)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mechanism_matches_dovecot(outcomes: dict[str, Outcome], case: Case) -> None:
    if case.id not in outcomes:
        outcomes.update(run_driver(case.driver))
    outcome = outcomes[case.id]
    assert outcome.ours == outcome.theirs
    assert sorted(outcome.our_log) == sorted(outcome.their_log)
    last = outcome.theirs[-1] if outcome.theirs else ""
    assert last.startswith(("a OK", "+OK")) == case.expected_success(), outcome.theirs


def main() -> None:
    """Run the whole matrix and print the cases that differ."""
    for driver in DRIVERS:
        OUTCOMES.update(run_driver(driver))
    for case in CASES:
        o = OUTCOMES[case.id]
        if not o.same:
            print(case.id, "\n  lab:    ", o.ours, o.our_log, "\n  dovecot:", o.theirs,
                  o.their_log)
    print(f"{sum(o.same for o in OUTCOMES.values())} of {len(CASES)} cases identical")


if __name__ == "__main__":
    main()
