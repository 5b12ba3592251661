"""Mechanism graders: challenge-response logins that work, and plaintext kept behind TLS.

The learner's configuration is the whole answer. For ``mechanisms-cram-md5`` the check
puts a made-up user into the passwd-file the configuration's passdb reads, hashed in
that passdb's default scheme (``args = scheme=X /path``; passwd-file's default is
CRYPT) and without a ``{SCHEME}`` prefix, so the scheme the learner chose decides
whether CRAM-MD5 can work: PLAIN and CRAM-MD5 can serve it, SHA512-CRYPT cannot (the
auth log then says ``Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT``).

Every probe connects from 127.0.0.2, an address Dovecot does not count as secured, and
every check runs the same way on real Dovecot (``engine="dovecot"``), which the tests
use to confirm the verdicts.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import imaplib
import poplib
import secrets
import time
from collections.abc import Callable

from labserver.auth import schemes
from labserver.auth.sasl import cram_md5, digest_md5
from labserver.auth.sasl.scram import ScramClient
from labserver.config import Config, ConfigError
from labserver.service.lab import Lab, LabError

from . import probe
from .pam_tasks import fresh_source, imap_login, pop3_login
from .verdict import Verdict

SEE = "03-mechanisms: What the passdb must store"
SEE_TLS = "03-mechanisms: What TLS changes"
SEE_CLIENT = "03-mechanisms: Challenge-response mechanisms"
CHALLENGE_RESPONSE = ("CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")


class Responder:
    """A SASL client for one exchange: called with each challenge, returns the answer."""

    def __init__(self, mechanism: str, user: str, password: str) -> None:
        self.mechanism = mechanism.upper()
        self.user, self.password = user, password
        self.scram: ScramClient | None = None
        self.steps = 0

    def __call__(self, challenge: bytes) -> bytes:
        step, self.steps = self.steps, self.steps + 1
        if self.mechanism == "CRAM-MD5":
            return cram_md5.response(self.user, self.password, challenge)
        if self.mechanism == "DIGEST-MD5":
            if step == 0:
                return digest_md5.client_response(self.user, self.password, challenge,
                                                  secrets.token_hex(12))
            return b""
        if self.mechanism.startswith("SCRAM-"):
            if self.scram is None:
                self.scram = ScramClient("sha256" if self.mechanism.endswith("256") else
                                         "sha1", self.user, self.password,
                                         secrets.token_urlsafe(18))
                return self.scram.first()
            if challenge.startswith(b"r="):
                return self.scram.final(challenge)
            return b""
        raise ValueError(f"no client for {self.mechanism}")


def imap_sasl(lab: Lab, mechanism: str, answer: Callable[[bytes], bytes | str],
              listener: str = "imap", starttls: bool = False) -> tuple[bool, str]:
    """(logged in?, the server's words) for IMAP AUTHENTICATE with ``answer`` as client."""
    try:
        client = probe.imap_client(lab, listener, starttls=starttls, source=fresh_source())
    except (OSError, imaplib.IMAP4.error) as exc:
        return False, f"cannot connect: {_words(exc)}"
    try:
        typ, data = client.authenticate(mechanism, answer)
        return typ == "OK", f"{typ} {data[0].decode(errors='replace') if data else ''}"
    except imaplib.IMAP4.error as exc:
        return False, "NO " + _words(exc)
    except OSError as exc:
        return False, f"connection failed: {exc}"
    finally:
        probe.close(client)


def pop3_sasl(lab: Lab, mechanism: str, answer: Callable[[bytes], bytes | str],
              listener: str = "pop3") -> tuple[bool, str]:
    """(logged in?, the server's words) for POP3 AUTH (RFC 5034) with ``answer``."""
    try:
        client = probe.pop3_client(lab, listener, source=fresh_source())
    except OSError as exc:
        return False, f"cannot connect: {exc}"
    try:
        line = client._shortcmd(f"AUTH {mechanism}")  # noqa: SLF001 (poplib has no AUTH)
        for _ in range(6):
            if not line.startswith(b"+ ") and line != b"+":
                break
            challenge = base64.b64decode(line[2:]) if len(line) > 2 else b""
            reply = answer(challenge)
            reply = reply.encode() if isinstance(reply, str) else reply
            line = client._shortcmd(base64.b64encode(reply).decode())  # noqa: SLF001
        return line.startswith(b"+OK"), line.decode(errors="replace")
    except poplib.error_proto as exc:
        return False, _words(exc)
    except (OSError, binascii.Error) as exc:
        return False, f"connection failed: {exc}"
    finally:
        probe.close(client)


def imap_capabilities(lab: Lab, starttls: bool = False) -> tuple[str, ...]:
    """The pre-login CAPABILITY list (after STARTTLS when asked), as the server sends it."""
    try:
        client = probe.imap_client(lab, starttls=starttls, source=fresh_source())
    except (OSError, imaplib.IMAP4.error) as exc:
        return (f"(no capabilities: {_words(exc)})",)
    try:
        return tuple(client.capabilities)
    finally:
        probe.close(client)


def pop3_capabilities(lab: Lab, stls: bool = False) -> dict[str, list[str]]:
    """POP3 CAPA before login (after STLS when asked)."""
    try:
        client = probe.pop3_client(lab, starttls=stls, source=fresh_source())
    except (OSError, poplib.error_proto) as exc:
        return {f"(no CAPA: {_words(exc)})": []}
    try:
        return client.capa()
    except (OSError, poplib.error_proto):
        return {}
    finally:
        probe.close(client)


def _words(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


def passwd_files(config: Config) -> list[tuple[str, str]]:
    """(path, default scheme) of every passwd-file passdb, in order."""
    out = []
    for section in config.sections("passdb"):
        if str(section.get("driver") or "") != "passwd-file":
            continue
        scheme, path = "CRYPT", ""
        for word in str(section.get("args") or "").split():
            key, eq, value = word.partition("=")
            if eq and key == "scheme":
                scheme = value
            elif not eq:
                path = word
        if path:
            out.append((path, scheme))
    return out


def start_with_user(task: str, lab: Lab, user: str, password: str) -> str:
    """Put ``user`` into the first passwd-file passdb, hashed in its default scheme, and
    start the lab; returns the scheme used. Raises ``Rejected`` when that is impossible."""
    config = probe.read_config(task, lab.root, see=SEE)
    files = passwd_files(config)
    if not files or "%" in files[0][0]:
        _start(task, lab)  # a configuration Dovecot cannot run says so first
        raise probe.Rejected(Verdict(
            task, False, 0.0,
            "This exercise keeps its users in a passwd-file: give the configuration a "
            "'passdb { driver = passwd-file  args = scheme=... /etc/dovecot/users }' (a "
            "fixed path, no %variables) and a userdb.", see=SEE))
    path, scheme = files[0]
    try:
        stored = lab.add_user(user, password, scheme=scheme, path=path)
    except schemes.SchemeError as exc:
        raise probe.Rejected(Verdict(task, False, 0.0, f"The passdb's scheme={scheme} cannot "
                                     f"be used: {exc}", see=SEE)) from None
    # without its {SCHEME} prefix: the passdb's default scheme must be the right one
    real = lab.path(path)
    real.write_text(real.read_text().replace(f"{user}:{stored}:",
                                             f"{user}:{stored.split('}', 1)[1]}:", 1))
    _start(task, lab)
    return scheme


def _start(task: str, lab: Lab) -> None:
    try:
        lab.start()
    except (LabError, ConfigError, OSError) as exc:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise probe.Rejected(Verdict(
            task, False, 0.0, f"Dovecot reads this configuration but cannot start with it:"
            f"\n  {message}", tuple(lab.logs()[-10:]), see=SEE)) from None
    fatal = _auth_fatal(lab)
    if fatal:
        raise probe.Rejected(Verdict(
            task, False, 0.0, "Dovecot starts with this configuration, but its auth process "
            f"does not: every client is told \"Auth process broken\". The log says:\n  {fatal}",
            tuple(lab.logs()[-10:]), see=SEE))


def _auth_fatal(lab: Lab) -> str | None:
    """Why the auth process dies (auth_mechanisms it cannot run), found as a learner
    would: the first client's greeting says "Auth process broken", the log says why."""
    listeners = [s.name for s, _ in lab.listeners() if not s.ssl]
    if not listeners:
        return None
    _, host, port = probe._target(lab, listeners[0])  # noqa: SLF001 - the probe's own address
    try:
        with probe._connect(host, port, probe.TIMEOUT, fresh_source()) as sock:  # noqa: SLF001
            greeting = sock.recv(200)
    except OSError:
        return None
    if b"Auth process broken" not in greeting:
        return None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        fatal = lab.logs("auth: Fatal: ")
        if fatal:
            return fatal[-1].split("auth: Fatal: ", 1)[1]
        time.sleep(0.05)
    return "Auth process broken"


def _protocols(lab: Lab) -> list[str]:
    config = lab.config
    return str(config.get("protocols") if config else "imap pop3").split()


def mechanisms_cram_md5(submission: probe.Submission, *, mechanism: str = "CRAM-MD5",
                        refuse_plaintext: bool = False, engine: str = "lab") -> Verdict:
    """CRAM-MD5 (or another challenge-response mechanism) is advertised and logs a user in
    without TLS; optionally plaintext logins are refused there."""
    task = "mechanisms-cram-md5"
    mechanism = mechanism.upper()
    if mechanism not in CHALLENGE_RESPONSE:
        raise ValueError(f"mechanism must be one of {', '.join(CHALLENGE_RESPONSE)}")
    user, password = probe.fresh_user()
    wrong = secrets.token_urlsafe(8)
    parts: list[tuple[bool, str, str]] = []
    with probe.lab_for(task, submission, engine=engine, start=False, see=SEE) as lab:
        scheme = start_with_user(task, lab, user, password)
        protocols = _protocols(lab)
        if "imap" in protocols:
            caps = imap_capabilities(lab)
            parts.append((f"AUTH={mechanism}" in caps,
                          f"IMAP CAPABILITY (no TLS) advertises AUTH={mechanism}",
                          "it lists " + " ".join(caps)))
            ok, said = imap_sasl(lab, mechanism, Responder(mechanism, user, password))
            parts.append((ok, f"AUTHENTICATE {mechanism} with the right password logs in",
                          said))
            ok, said = imap_sasl(lab, mechanism, Responder(mechanism, user, wrong))
            parts.append((not ok, "... and with a wrong password fails", said))
            if refuse_plaintext:
                parts.append(("LOGINDISABLED" in caps and "AUTH=PLAIN" not in caps,
                              "without TLS, CAPABILITY says LOGINDISABLED and hides "
                              "AUTH=PLAIN", "it lists " + " ".join(caps)))
                ok, said = imap_login(lab, user, password)
                parts.append((not ok, "without TLS, IMAP LOGIN is refused", said))
        if "pop3" in protocols:
            sasl = pop3_capabilities(lab).get("SASL", [])
            parts.append((mechanism in sasl, f"POP3 CAPA's SASL line offers {mechanism}",
                          f"SASL {' '.join(sasl) or '(no SASL line)'}"))
            ok, said = pop3_sasl(lab, mechanism, Responder(mechanism, user, password))
            parts.append((ok, f"POP3 AUTH {mechanism} logs in", said))
            if refuse_plaintext:
                ok, said = pop3_login(lab, user, password)
                parts.append((not ok, "without TLS, POP3 USER/PASS is refused", said))
        evidence = probe.evidence(lab, "auth", last=8)
    return probe.judge(task, parts, see=SEE, evidence=evidence,
                       hint=_mech_hint(mechanism, scheme, parts, evidence))


def _mech_hint(mechanism: str, scheme: str, parts: list[tuple[bool, str, str]],
               evidence: tuple[str, ...]) -> str:
    log = " ".join(evidence)
    if "scheme, but we have only" in log:
        return (f"the passdb stores {scheme}, from which {mechanism} cannot compute its "
                f"answer. Store PLAIN or {mechanism} hashes (scheme={mechanism} in the "
                f"passdb args; make them with doveadm pw -s {mechanism}).")
    missed = " ".join(expected for ok, expected, _ in parts if not ok)
    if "advertises" in missed or "offers" in missed:
        return (f"auth_mechanisms lists what clients may use: add {mechanism.lower()} "
                "(and keep plain login for clients that need them).")
    if "refused" in missed or "LOGINDISABLED" in missed:
        return ("disable_plaintext_auth = yes (the default) keeps PLAIN and LOGIN off "
                "connections without TLS.")
    return "read the auth lines in the evidence: they say why the login failed."


def _tls_login(lab: Lab, protocol: str, user: str, password: str) -> tuple[bool, str]:
    """A plaintext login after STARTTLS (IMAP LOGIN) or STLS (POP3 USER/PASS)."""
    try:
        client = (probe.imap_client(lab, starttls=True, source=fresh_source())
                  if protocol == "imap" else
                  probe.pop3_client(lab, starttls=True, source=fresh_source()))
    except (OSError, imaplib.IMAP4.error, poplib.error_proto) as exc:
        return False, f"TLS could not start: {exc}"
    try:
        if isinstance(client, imaplib.IMAP4):
            client.login(user, password)
            return True, "OK Logged in"
        client.user(user)
        client.pass_(password)
        return True, "+OK Logged in."
    except (imaplib.IMAP4.error, poplib.error_proto, OSError) as exc:
        return False, str(exc)
    finally:
        probe.close(client)


def plaintext_only_with_tls(submission: probe.Submission, *, engine: str = "lab") -> Verdict:
    """PLAIN and LOGIN are hidden and refused before STARTTLS/STLS and work after it."""
    task = "plaintext-only-with-tls"
    user, password = probe.fresh_user()
    parts: list[tuple[bool, str, str]] = []
    shown: list[str] = []
    with probe.lab_for(task, submission, engine=engine, start=False, see=SEE_TLS) as lab:
        start_with_user(task, lab, user, password)
        names = {spec.name for spec, _ in lab.listeners()}
        if "imap" in names:
            before = imap_capabilities(lab)
            shown.append("IMAP before STARTTLS: " + " ".join(before))
            parts.append(("STARTTLS" in before, "IMAP offers STARTTLS",
                           "no STARTTLS in CAPABILITY: TLS is off (ssl = no?)"))
            parts.append(("LOGINDISABLED" in before and "AUTH=PLAIN" not in before,
                          "before STARTTLS, CAPABILITY has LOGINDISABLED and no AUTH=PLAIN",
                          "it lists " + " ".join(before)))
            ok, said = imap_login(lab, user, password)
            parts.append((not ok, "before STARTTLS, LOGIN is refused", "the login worked"))
            try:
                after = imap_capabilities(lab, starttls=True)
            except (OSError, imaplib.IMAP4.error) as exc:
                after = (f"(STARTTLS failed: {exc})",)
            shown.append("IMAP after STARTTLS:  " + " ".join(after))
            parts.append(("LOGINDISABLED" not in after and "AUTH=PLAIN" in after,
                          "after STARTTLS, AUTH=PLAIN is offered and LOGINDISABLED is gone",
                          "it lists " + " ".join(after)))
            ok, said = _tls_login(lab, "imap", user, password)
            parts.append((ok, "after STARTTLS, LOGIN works", said))
        if "pop3" in names:
            before_capa = pop3_capabilities(lab)
            shown.append("POP3 before STLS: " + _capa_text(before_capa))
            parts.append(("STLS" in before_capa, "POP3 offers STLS", "no STLS in CAPA"))
            ok, said = pop3_login(lab, user, password)
            parts.append((not ok, "before STLS, USER/PASS is refused", "the login worked"))
            try:
                after_capa = pop3_capabilities(lab, stls=True)
            except (OSError, poplib.error_proto) as exc:
                after_capa = {f"(STLS failed: {exc})": []}
            shown.append("POP3 after STLS:  " + _capa_text(after_capa))
            parts.append(("PLAIN" in after_capa.get("SASL", []),
                          "after STLS, the SASL line offers PLAIN", _capa_text(after_capa)))
            ok, said = _tls_login(lab, "pop3", user, password)
            parts.append((ok, "after STLS, USER/PASS works", said))
        for name, protocol in (("imaps", "imap"), ("pop3s", "pop3")):
            if name in names:
                ok, said = (imap_login if protocol == "imap" else pop3_login)(
                    lab, user, password, name)
                parts.append((ok, f"{name} (TLS from the start) accepts a plaintext login",
                              said))
        if not parts:
            parts.append((False, "an IMAP or POP3 listener", "none is open"))
        evidence = tuple(shown) + probe.evidence(lab, "Login", last=4)
    return probe.judge(task, parts, see=SEE_TLS, evidence=evidence, hint=(
        "TLS must be on (ssl = yes or required, with ssl_cert and ssl_key) and "
        "disable_plaintext_auth = yes (the default): then PLAIN and LOGIN wait for TLS."))


def _capa_text(capa: dict[str, list[str]]) -> str:
    return " | ".join(" ".join([k, *v]) for k, v in capa.items()) or "(nothing)"


CRAM_CONFIG = """protocols = imap pop3
mail_location = maildir:~/Maildir
ssl = no
auth_mechanisms = cram-md5
auth_verbose = yes
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=CRAM-MD5 /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = /etc/dovecot/users
  default_fields = home=/home/%u
}
"""

ClientFunction = Callable[[str, str, str], "str | bytes"]


def cram_md5_client(submission: ClientFunction, *, engine: str = "lab") -> Verdict:
    """A function that computes a CRAM-MD5 answer logs in to a real server."""
    task = "cram-md5-client"
    if not callable(submission):
        raise TypeError("hand in the function itself: cram_md5_response(user, password, "
                        "challenge) -> 'user hexdigest'")
    user, password = probe.fresh_user()
    parts: list[tuple[bool, str, str]] = []
    challenge = f"<{secrets.randbelow(10**16):016d}.{secrets.randbelow(10**9)}@grader>"
    expected = cram_md5.response(user, password, challenge).decode()
    got = _call(submission, user, password, challenge)
    parts.append((got == expected, f"for {challenge} your function answers the RFC 2195 "
                  "'user hexdigest'", f"it gave {got!r}{_b64_note(got, expected)}"))

    def answer(challenge: bytes) -> bytes:
        return _call(submission, user, password, challenge.decode()).encode()

    with probe.lab_for(task, CRAM_CONFIG, engine=engine, start=False, see=SEE_CLIENT) as lab:
        start_with_user(task, lab, user, password)
        ok, said = imap_sasl(lab, "CRAM-MD5", answer)
        parts.append((ok, "with it, IMAP AUTHENTICATE CRAM-MD5 logs in", said))
        ok, said = pop3_sasl(lab, "CRAM-MD5", answer)
        parts.append((ok, "with it, POP3 AUTH CRAM-MD5 logs in", said))
        evidence = probe.evidence(lab, "CRAM-MD5", last=4)
    return probe.judge(task, parts, see=SEE_CLIENT, evidence=evidence, hint=(
        "RFC 2195: the user name, one space, then the HMAC-MD5 of the challenge keyed "
        "with the password, as 32 lower-case hex digits. Return that text; the client "
        "base64-encodes it."))


def _call(fn: ClientFunction, user: str, password: str, challenge: str) -> str:
    try:
        out = fn(user, password, challenge)
    except Exception as exc:  # the learner's code: report, never crash
        return f"(it raised {type(exc).__name__}: {exc})"
    if isinstance(out, bytes):
        out = out.decode(errors="replace")
    return str(out).strip()


def _b64_note(got: str, expected: str) -> str:
    try:
        decoded = base64.b64decode(got, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded and hmac.compare_digest(decoded, expected):
        return " (that is the base64 form: return the text before encoding)"
    return f", expected {expected!r}"


CHECKS = {
    "mechanisms-cram-md5": mechanisms_cram_md5,
    "plaintext-only-with-tls": plaintext_only_with_tls,
    "cram-md5-client": cram_md5_client,
}
