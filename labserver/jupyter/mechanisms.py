"""Challenge-response mechanisms in the notebooks: every value of an exchange, step by step.

- ``cram_md5_values(user, password, challenge)`` and ``scram_values(...)`` compute what a
  client computes (RFC 2195; RFC 5802 and RFC 7677), labelled, so a learner can follow the
  arithmetic; the values are the ones the lab's own client code sends.
- ``Exchange`` plays one SASL exchange a message at a time. Without a lab, the server
  side is the lab's mechanism implementation (``labserver.auth.sasl``) with the password
  stored in a scheme of your choice, so a ``{SHA512-CRYPT}`` store fails exactly as
  Dovecot's auth process fails, with its log line. With a lab, the messages go over a
  real IMAP connection (from 127.0.0.2, with a time limit on every read).
- ``MechanismStepper`` is the widget: pick a mechanism, a user and a password (and the
  stored scheme), press Start, then Next; ``start()`` and ``next()`` work headless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..auth import schemes
from ..auth.hmac_md5 import hmac_from_context
from ..auth.sasl import MECHANISMS, Challenge, Failure
from ..auth.sasl.mech import MechParams, NeedCredentials, Verdict
from ..service.lab import Lab, LabError

MECHS = ("CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")
STORED = ("PLAIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "SHA512-CRYPT")
REMOTE = "127.0.0.2"
TIMEOUT = 5.0
HOSTNAME = "mail.example.org"
AUTH_FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed."


@dataclass(frozen=True)
class Value:
    """One computed value: what it is called, its value, how it was made."""

    label: str
    value: str
    how: str = ""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def cram_md5_values(user: str, password: str, challenge: str | bytes) -> list[Value]:
    """What a CRAM-MD5 client computes for one challenge (RFC 2195 section 2)."""
    msg = challenge.encode() if isinstance(challenge, str) else challenge
    digest = hmac.new(password.encode(), msg, "md5").hexdigest()
    answer = f"{user} {digest}"
    return [
        Value("challenge", msg.decode(errors="replace"), "sent by the server, base64-decoded"),
        Value("HMAC-MD5", digest, "key = the password, message = the challenge, in hex"),
        Value("response", answer, "user name, a space, the digest"),
        Value("on the wire", b64(answer.encode()), "the response in base64"),
    ]


@dataclass(frozen=True)
class ScramRun:
    """Every value of a SCRAM exchange as the client sees it."""

    client_first: str
    client_final: str
    server_signature: str  # base64, what a genuine server's v= must be
    values: list[Value]


def scram_values(hash_name: str, user: str, password: str, cnonce: str,
                 server_first: str, gs2: str = "n,,") -> ScramRun:
    """RFC 5802 section 3 step by step, for the server-first message received."""
    bare = f"n={user.replace('=', '=3D').replace(',', '=2C')},r={cnonce}"
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salt = base64.b64decode(attrs["s"])
    iterations = int(attrs["i"])
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    without_proof = f"c={b64(gs2.encode())},r={attrs['r']}"
    auth_message = f"{bare},{server_first},{without_proof}"
    client_signature = hmac.new(stored_key, auth_message.encode(), hash_name).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, client_signature, strict=True))
    server_signature = hmac.new(server_key, auth_message.encode(), hash_name).digest()
    h = hash_name.upper().replace("SHA", "SHA-")
    values = [
        Value("client-first", gs2 + bare, "GS2 header, user name, client nonce"),
        Value("server-first", server_first, "nonces joined, salt, iteration count"),
        Value("SaltedPassword", salted.hex(), f"PBKDF2-HMAC-{h}(password, salt, {iterations})"),
        Value("ClientKey", b64(client_key), "HMAC(SaltedPassword, 'Client Key')"),
        Value("StoredKey", b64(stored_key), f"{h}(ClientKey): what the server stores"),
        Value("ServerKey", b64(server_key), "HMAC(SaltedPassword, 'Server Key'): stored too"),
        Value("AuthMessage", auth_message, "client-first-bare, server-first, client-final "
              "without the proof"),
        Value("ClientSignature", b64(client_signature), "HMAC(StoredKey, AuthMessage)"),
        Value("ClientProof", b64(proof), "ClientKey XOR ClientSignature"),
        Value("client-final", f"{without_proof},p={b64(proof)}", "what the client sends"),
        Value("ServerSignature", b64(server_signature), "HMAC(ServerKey, AuthMessage): the "
              "server's v= must equal it"),
    ]
    return ScramRun(gs2 + bare, f"{without_proof},p={b64(proof)}", b64(server_signature),
                    values)


@dataclass
class Message:
    """One line of the exchange (``who`` is C, S or a note from the server's inside)."""

    who: str  # "C", "S" or "auth"
    wire: str
    decoded: str = ""
    values: list[Value] = field(default_factory=list)


class _Client:
    """The client's side: answers each challenge and says how it computed the answer."""

    def __init__(self, mechanism: str, user: str, password: str) -> None:
        self.mechanism, self.user, self.password = mechanism, user, password
        self.cnonce = secrets.token_urlsafe(18)
        self.scram: ScramRun | None = None

    @property
    def hash_name(self) -> str:
        return "sha256" if self.mechanism.endswith("256") else "sha1"

    def answer(self, challenge: bytes) -> tuple[bytes, list[Value]]:
        if self.mechanism == "CRAM-MD5":
            values = cram_md5_values(self.user, self.password, challenge)
            return values[2].value.encode(), values
        if not challenge:
            first = f"n,,n={self.user},r={self.cnonce}"
            return first.encode(), [Value("client-first", first, "GS2 header 'n,,' (no "
                                          "channel binding), user name, client nonce")]
        text = challenge.decode(errors="replace")
        if text.startswith("r="):
            self.scram = scram_values(self.hash_name, self.user, self.password, self.cnonce,
                                      text)
            return self.scram.client_final.encode(), self.scram.values[2:]
        expected = f"v={self.scram.server_signature}" if self.scram else ""
        same = "matches" if text == expected else "does NOT match"
        return b"", [Value("server-final", text, f"{same} the ServerSignature the client "
                           "computed: the server knew the password's keys")]


class Exchange:
    """One SASL exchange, one message per ``step()``; offline or against a running lab."""

    def __init__(self, mechanism: str, user: str, password: str, *,
                 stored: str = "PLAIN", server_password: str | None = None,
                 lab: Lab | None = None, listener: str = "imap") -> None:
        self.mechanism = mechanism.upper()
        if self.mechanism not in MECHS:
            raise ValueError(f"mechanism must be one of {', '.join(MECHS)}")
        self.user, self.password = user, password
        self.stored_scheme = stored.upper()
        # what the server has on file: the right password unless told otherwise
        self.stored = schemes.generate(server_password if server_password is not None
                                       else password, self.stored_scheme, user=user)
        self.lab, self.listener = lab, listener
        self.messages: list[Message] = []
        self.outcome: str | None = None
        self.client = _Client(self.mechanism, user, password)
        self._script: Iterator[Message] = self._live() if lab is not None else self._offline()

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def step(self) -> Message | None:
        """The next message, or None once the exchange is over."""
        try:
            message = next(self._script)
        except StopIteration:
            return None
        self.messages.append(message)
        return message

    def close(self) -> None:
        """Abandon the exchange (a live one hangs up)."""
        self._script.close()
        self.outcome = self.outcome or "abandoned"

    def run(self) -> list[Message]:
        """Every remaining message (an exchange has at most a dozen)."""
        for _ in range(20):
            if self.step() is None:
                break
        return self.messages

    # -- the lab's mechanism code as the server ------------------------------------------

    def _offline(self) -> Iterator[Message]:
        server = MECHANISMS[self.mechanism](MechParams(hostname=HOSTNAME))
        yield Message("C", f"A1 AUTHENTICATE {self.mechanism}")
        event = server.start(None)
        for _ in range(8):
            if isinstance(event, NeedCredentials):
                try:
                    _, raw = schemes.credentials(self.stored, event.scheme, user=event.authcid)
                except schemes.SchemeError as exc:
                    self.outcome = AUTH_FAILED
                    yield Message("auth", f"passwd-file({event.authcid},{REMOTE}): {exc}",
                                  "the passdb cannot give what the mechanism needs")
                    yield Message("S", f"A1 {AUTH_FAILED}")
                    return
                yield Message("auth", f"passdb lookup: {event.scheme} credentials of "
                              f"{event.authcid}", "", self._server_values(event.scheme, raw,
                                                              getattr(server, "challenge", "")))
                event = server.credentials(raw)
                continue
            if isinstance(event, Challenge):
                yield Message("S", "+ " + event.base64, event.data.decode(errors="replace"))
                answer, values = self.client.answer(event.data)
                yield Message("C", b64(answer), answer.decode(errors="replace"), values)
                event = server.step(b64(answer))
                continue
            if isinstance(event, Verdict):
                if event.ok and event.final:
                    event = Challenge(event.final)
                    yield Message("S", "+ " + event.base64, event.data.decode())
                    answer, values = self.client.answer(event.data)
                    yield Message("C", "", "(empty: the client accepts)", values)
                    event = Verdict(True)
                    continue
                if event.ok:
                    self.outcome = "OK Logged in"
                    yield Message("S", "A1 OK Logged in")
                    return
                self.outcome = AUTH_FAILED
                why = event.log or "Password mismatch"
                yield Message("auth", f"{self.mechanism.lower()}({self.user},{REMOTE}): {why}")
                yield Message("S", f"A1 {AUTH_FAILED}")
                return
            if isinstance(event, Failure):
                self.outcome = f"NO {event.reply}"
                yield Message("S", f"A1 NO {event.reply}", event.log or "")
                return
            break

    def _server_values(self, scheme: str, raw: bytes, challenge: str) -> list[Value]:
        if scheme == "CRAM-MD5":
            return [Value("stored context", raw.hex(), "HMAC-MD5's inner and outer MD5 "
                          "states after the key: enough to compute the HMAC, not the "
                          "password"),
                    Value("server's HMAC-MD5", hmac_from_context(raw, challenge.encode()).hex(),
                          "computed from the context; it must equal the client's digest")]
        try:
            iterations, salt, stored_key, server_key = schemes.scram_parse(
                raw, scheme, "sha256" if scheme.endswith("256") else "sha1")
        except schemes.SchemeError:
            return []
        return [Value("iterations, salt", f"{iterations}, {salt}", "sent in server-first"),
                Value("StoredKey", b64(stored_key), "kept by the server"),
                Value("ServerKey", b64(server_key), "kept by the server")]

    # -- a running lab over IMAP ------------------------------------------------------

    def _live(self) -> Iterator[Message]:
        assert self.lab is not None
        port = next((p for s, p in self.lab.listeners() if s.name == self.listener), None)
        if port is None:
            raise LabError(f"the lab has no running listener named {self.listener!r}")
        sock = socket.create_connection(("127.0.0.1", port), TIMEOUT,
                                        source_address=(REMOTE, 0))
        reader = sock.makefile("rb")
        try:
            greeting = reader.readline().decode(errors="replace").rstrip()
            yield Message("S", greeting)
            command = f"A1 AUTHENTICATE {self.mechanism}"
            sock.sendall(command.encode() + b"\r\n")
            yield Message("C", command)
            for _ in range(8):
                line = reader.readline().decode(errors="replace").rstrip("\r\n")
                if not line.startswith("+"):
                    self.outcome = line[3:] if line.startswith("A1 ") else line
                    yield Message("S", line)
                    return
                data = base64.b64decode(line[2:]) if len(line) > 2 else b""
                yield Message("S", line, data.decode(errors="replace"))
                answer, values = self.client.answer(data)
                sock.sendall(b64(answer).encode() + b"\r\n")
                yield Message("C", b64(answer), answer.decode(errors="replace") or
                              "(empty: the client accepts)", values)
        finally:
            reader.close()
            sock.close()


def exchange_html(exchange: Exchange) -> str:
    """The messages so far as a two-column table with every computed value under each."""
    rows = []
    for m in exchange.messages:
        who = {"C": "client", "S": "server", "auth": "auth process"}[m.who]
        detail = html.escape(m.decoded) if m.decoded and m.decoded != m.wire else ""
        label = "" if m.who == "auth" else "decoded: "
        values = "".join(f"<tr><td></td><td style='padding-left:2em'><b>"
                         f"{html.escape(v.label)}</b> = <code>{html.escape(v.value)}</code>"
                         f"<br><small>{html.escape(v.how)}</small></td></tr>"
                         for v in m.values)
        rows.append(f"<tr><td><b>{who}</b></td><td><code>{html.escape(m.wire)}</code>"
                    + (f"<br><small>{label}{detail}</small>" if detail else "")
                    + f"</td></tr>{values}")
    end = f"<p><b>{html.escape(exchange.outcome)}</b></p>" if exchange.outcome else ""
    return f"<table>{''.join(rows)}</table>{end}"


class MechanismStepper:
    """A widget: choose a mechanism, user, password, stored scheme; Start, then Next."""

    def __init__(self, lab: Lab | None = None, user: str = "alice",
                 password: str = "wonderland") -> None:
        import ipywidgets as widgets

        self.lab = lab
        self.exchange: Exchange | None = None
        self.mechanism = widgets.Dropdown(options=list(MECHS), description="mechanism")
        self.stored = widgets.Dropdown(options=list(STORED), description="stored as")
        self.user = widgets.Text(value=user, description="user")
        self.password = widgets.Text(value=password, description="password")
        self.live = widgets.Checkbox(value=False, description="against the running lab",
                                     disabled=lab is None)
        self.start_button = widgets.Button(description="Start", icon="play")
        self.next_button = widgets.Button(description="Next", icon="step-forward")
        self.out = widgets.HTML()
        self.start_button.on_click(lambda _: self.start())
        self.next_button.on_click(lambda _: self.next())
        self.widget = widgets.VBox([
            widgets.HBox([self.mechanism, self.stored]), widgets.HBox([self.user,
                                                                       self.password]),
            widgets.HBox([self.live, self.start_button, self.next_button]), self.out])

    def start(self, mechanism: str | None = None, *, stored: str | None = None,
              live: bool | None = None) -> Exchange:
        """Begin a new exchange (nothing is sent yet) and show its first message."""
        if mechanism is not None:
            self.mechanism.value = mechanism
        if stored is not None:
            self.stored.value = stored
        if live is not None:
            self.live.value = live
        if self.exchange is not None:
            self.exchange.close()
        self.exchange = Exchange(self.mechanism.value, self.user.value, self.password.value,
                                 stored=self.stored.value,
                                 lab=self.lab if self.live.value else None)
        self.next()
        return self.exchange

    def next(self) -> Message | None:
        """One more message of the exchange."""
        if self.exchange is None:
            self.start()
            return self.exchange.messages[-1] if self.exchange and self.exchange.messages \
                else None
        try:
            message = self.exchange.step()
        except (OSError, LabError) as exc:
            self.out.value = f"<p>The lab did not answer: {html.escape(str(exc))}</p>"
            return None
        self.out.value = exchange_html(self.exchange)
        return message

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["MECHS", "STORED", "Exchange", "Message", "MechanismStepper", "ScramRun", "Value",
           "cram_md5_values", "exchange_html", "scram_values"]
