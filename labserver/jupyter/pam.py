"""PAM in the notebooks: run a stack for one user, line by line, and draw what it did.

``simulate(stack, user, password)`` writes the stack as ``/etc/pam.d/dovecot`` into a
small Unix world of its own (``ACCOUNTS``: a normal user, a locked one, an expired one,
one with an empty password field, root), then runs the lab's PAM simulation exactly as
``passdb { driver = pam }`` does: ``pam_authenticate()``, and ``pam_acct_mgmt()`` only if
that succeeded. The result lists every line of both stacks with the module's return
code and the action its control took (or why it did not run), the final verdict, and the
line Dovecot's auth process logs for it, taken from the lab's authenticator on the same
files. ``flow(run)`` draws that as a flow of boxes; ``PamExplorer`` is the widget (pick a
user and a stack, see each line's result); its ``run()`` works without a browser.
"""

from __future__ import annotations

import html
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..auth import Authenticator, schemes
from ..auth.pam import Pam, PamHandle, Rule, strerror
from ..auth.pam.conf import logical_lines, split_fields
from ..config import PathResolver, parse_text
from .diagrams import Step, flow_diagram
from .svg import Drawing

REMOTE_IP = "192.0.2.10"
ALLOW_FILE = "/etc/dovecot/allowed-users"


@dataclass(frozen=True)
class Account:
    """A Unix account of the demonstration world."""

    name: str
    password: str  # what the hash is made of; "" leaves the shadow field empty
    state: str  # "normal", "locked", "expired", "empty"
    note: str
    uid: int


ACCOUNTS = (
    Account("alice", "wonderland", "normal", "an ordinary account", 1000),
    Account("bob", "builder", "locked", "locked with passwd -l ('!' before the hash)", 1001),
    Account("carol", "carol2024", "expired", "account expired yesterday (chage -E)", 1002),
    Account("dave", "", "empty", "empty password field in /etc/shadow", 1003),
    Account("root", "toor", "normal", "the superuser", 0),
)

DEBIAN_COMMON = {
    "common-auth": "auth [success=1 default=ignore] pam_unix.so nullok\n"
                   "auth requisite pam_deny.so\nauth required pam_permit.so\n",
    "common-account": "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\n"
                      "account requisite pam_deny.so\naccount required pam_permit.so\n",
}

STACKS = {
    "the chapter's file": "auth    required  pam_unix.so nullok\n"
                          "account required  pam_unix.so\n",
    "Debian's stock file": "@include common-auth\n@include common-account\n",
    "no account line": "auth    required  pam_unix.so nullok\n",
    "pam_permit first": "auth    sufficient pam_permit.so\n"
                        "auth    required  pam_unix.so nullok\n"
                        "account required  pam_unix.so\n",
    "a misspelt module": "auth    required  pam_unx.so nullok\n"
                         "account required  pam_unix.so\n",
    "an allow list": f"auth    required  pam_listfile.so item=user sense=allow "
                     f"file={ALLOW_FILE} onerr=fail\n"
                     "auth    required  pam_unix.so nullok\n"
                     "account required  pam_unix.so\n",
    "nologin first": "auth    requisite pam_nologin.so\n"
                     "auth    required  pam_unix.so nullok\n"
                     "account required  pam_unix.so\n",
}

PAM_CONF = ("auth_verbose = yes\npassdb {\n  driver = pam\n}\nuserdb {\n"
            "  driver = passwd\n}\n")


def world_files(accounts: tuple[Account, ...] = ACCOUNTS, *, allowed: tuple[str, ...] = (
        "alice", "carol", "dave"), nologin: bool = False) -> dict[str, str]:
    """The demonstration world's files by path: passwd, shadow, Debian's common-* files,
    the allow list, and /etc/nologin when asked."""
    today = int(time.time() // 86400)
    passwd, shadow = [], []
    for a in accounts:
        home = "/root" if a.uid == 0 else f"/home/{a.name}"
        passwd.append(f"{a.name}:x:{a.uid}:{a.uid}::{home}:/bin/bash")
        stored = schemes.generate(a.password, "SHA512-CRYPT", prefix=False) if a.password \
            else ""
        if a.state == "locked":
            stored = "!" + stored
        expire = str(today - 1) if a.state == "expired" else ""
        shadow.append(f"{a.name}:{stored}:{today - 30}:0:99999:7::{expire}:")
    files = {"/etc/passwd": "\n".join(passwd) + "\n", "/etc/shadow": "\n".join(shadow) + "\n",
             ALLOW_FILE: "".join(f"{n}\n" for n in allowed)}
    files.update({f"/etc/pam.d/{name}": text for name, text in DEBIAN_COMMON.items()})
    if nologin:
        files["/etc/nologin"] = "The mail server is down for maintenance.\n"
    return files


@dataclass(frozen=True)
class LineResult:
    """One line of a stack and what happened to it."""

    kind: str  # auth or account
    origin: str  # file:line, as libpam would name it
    control: str
    module: str
    code: Pam | None  # None: the line did not run
    action: str  # ok, bad, die, done, ignore, reset, "jump N", or why it did not run

    @property
    def ran(self) -> bool:
        return self.code is not None

    @property
    def code_name(self) -> str:
        return f"PAM_{self.code.name}" if self.code is not None else ""


@dataclass
class StackRun:
    """What one login attempt did with a stack."""

    user: str
    lines: list[LineResult] = field(default_factory=list)
    auth: Pam | None = None
    account: Pam | None = None  # None: pam_acct_mgmt() was not called
    log: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def admitted(self) -> bool:
        return self.auth == Pam.SUCCESS and self.account == Pam.SUCCESS

    @property
    def verdict(self) -> str:
        if self.admitted:
            return "accepted: pam_authenticate() and pam_acct_mgmt() both succeeded"
        if self.auth != Pam.SUCCESS:
            return f"refused by pam_authenticate(): {strerror(self.auth or Pam.ABORT)}"
        return f"refused by pam_acct_mgmt(): {strerror(self.account or Pam.ABORT)}"


def _describe(files: Mapping[str, str], origin: str) -> tuple[str, str]:
    """(control, module with arguments) of the line at ``origin`` (``file:number``)."""
    name, _, number = origin.rpartition(":")
    for path, text in files.items():
        if path.rsplit("/", 1)[-1] == name:
            for start, line in logical_lines(text):
                if str(start) == number:
                    words = split_fields(line)
                    return (words[1] if len(words) > 1 else "",
                            " ".join(words[2:]) if len(words) > 2 else "(no module)")
    return "", origin


def _flatten(rules: list[Rule]) -> list[Rule]:
    out: list[Rule] = []
    for rule in rules:
        if rule.sub is not None:
            out.extend(_flatten(rule.sub))
        out.append(rule)
    return out


def _lines(kind: str, rules: list[Rule], trace: list[tuple[str, int, object]],
           files: Mapping[str, str], ran: bool) -> list[LineResult]:
    done = {origin: (code, action) for origin, code, action in trace}
    out = []
    stopped = ""
    for rule in _flatten(rules):
        control, module = _describe(files, rule.origin)
        if rule.sub is not None:
            module = f"substack {module.split()[0] if module else ''}".strip()
        if rule.origin in done and ran:
            code, action = done[rule.origin]
            word = f"jump {action}" if isinstance(action, int) else str(action)
            out.append(LineResult(kind, rule.origin, control, module, Pam(code), word))
            if word in ("die", "done") and rule.sub is None:
                stopped = f"not run: ended at {rule.origin} ({word})"
        else:
            why = stopped or ("not run: auth failed first" if not ran
                              else "not run: jumped over")
            out.append(LineResult(kind, rule.origin, control, module, None, why))
    return out


def simulate(stack: str, user: str, password: str, *, files: Mapping[str, str] | None = None,
             service: str = "dovecot") -> StackRun:
    """Run ``stack`` (the text of /etc/pam.d/<service>) for one login, as Dovecot would."""
    world = dict(files if files is not None else world_files())
    world[f"/etc/pam.d/{service}"] = stack
    with tempfile.TemporaryDirectory(prefix="pam-") as tmp:
        for virtual, text in world.items():
            real = Path(tmp, virtual.lstrip("/"))
            real.parent.mkdir(parents=True, exist_ok=True)
            real.write_text(text)
        resolver = PathResolver(tmp)
        run = StackRun(user)
        handle = PamHandle(service, user, resolver, password=password, rhost=REMOTE_IP)
        run.auth = handle.authenticate()
        auth_trace = list(handle.trace)
        if run.auth == Pam.SUCCESS:
            run.account = handle.acct_mgmt()
        account_trace = handle.trace[len(auth_trace):]
        run.lines = (_lines("auth", handle.config.stacks["auth"], auth_trace, world, True)
                     + _lines("account", handle.config.stacks["account"], account_trace,
                              world, run.auth == Pam.SUCCESS))
        run.messages = [text for _, text in handle.messages]
        conf = PAM_CONF.replace("driver = pam\n", f"driver = pam\n  args = {service}\n")
        auth = Authenticator(parse_text(conf, root=tmp), resolver)
        result = auth.authenticate(user, password, remote_ip=REMOTE_IP)
        run.log = [str(line) for line in result.log if ": Debug: " not in str(line)]
    return run


def short_control(control: str) -> str:
    """A control word fit for a box: the bracket form cut after its first entry."""
    if control.startswith("[") and len(control) > 12:
        return control.split()[0] + " …]"
    return control


def flow(run: StackRun, *, title: str = "") -> Drawing:
    """The stacks as a flow: one box per line, coloured by its result, then the verdict.

    A line whose action ends its stack (``die``, ``done``) says so; the lines it cut off
    are drawn grey with the reason they did not run.
    """
    steps = []
    for line in run.lines:
        label = f"{line.kind} {line.module}"
        control = short_control(line.control)
        if not line.ran:
            steps.append(Step(label, "skip", line.action, control))
            continue
        result = "pass" if line.code == Pam.SUCCESS else (
            "ignore" if line.code == Pam.IGNORE else "fail")
        ends = f": {line.kind} stack ends" if line.action in ("die", "done") else ""
        steps.append(Step(label, result, f"{line.code_name} → {line.action}{ends}", control))
    outcome = ("accepted" if run.admitted else "refused") + f" ({run.user})"
    return flow_diagram(steps, title=title or f"PAM stack for {run.user}", outcome=outcome)


def table_html(run: StackRun) -> str:
    """The run as an HTML table, then the verdict and Dovecot's log line."""
    rows = []
    for line in run.lines:
        colour = ("#2e7d32" if line.code == Pam.SUCCESS else "#9e9e9e" if not line.ran
                  or line.code == Pam.IGNORE else "#c62828")
        rows.append(
            f"<tr><td>{line.kind}</td><td><code>{html.escape(line.control)}</code></td>"
            f"<td><code>{html.escape(line.module)}</code></td>"
            f"<td style='color:{colour}'>{html.escape(line.code_name or '-')}</td>"
            f"<td>{html.escape(line.action)}</td></tr>")
    log = "<br>".join(html.escape(x) for x in run.log) or "(nothing logged)"
    return ("<table><tr><th>type</th><th>control</th><th>module</th><th>returned</th>"
            f"<th>action</th></tr>{''.join(rows)}</table>"
            f"<p><b>{html.escape(run.verdict)}</b></p><p><code>{log}</code></p>")


class PamExplorer:
    """A widget: choose a user and a stack (or edit it), press Run, read each line."""

    def __init__(self, stacks: Mapping[str, str] | None = None,
                 accounts: tuple[Account, ...] = ACCOUNTS) -> None:
        import ipywidgets as widgets

        self.stacks = dict(stacks or STACKS)
        self.accounts = {a.name: a for a in accounts}
        self.last: StackRun | None = None
        names = [*self.accounts, "nobody"]
        self.user = widgets.Dropdown(options=names, value=names[0], description="user")
        self.password = widgets.Text(value=accounts[0].password, description="password")
        self.preset = widgets.Dropdown(options=list(self.stacks), description="stack")
        self.text = widgets.Textarea(value=next(iter(self.stacks.values())),
                                     layout=widgets.Layout(width="48em", height="8em"))
        self.nologin = widgets.Checkbox(value=False, description="/etc/nologin exists")
        self.button = widgets.Button(description="Run", icon="play")
        self.out = widgets.HTML()
        self.picture = widgets.HTML()
        self.user.observe(lambda change: self._user_changed(change["new"]), names="value")
        self.preset.observe(lambda change: setattr(self.text, "value",
                                                   self.stacks[change["new"]]), names="value")
        self.button.on_click(lambda _: self.run())
        self.widget = widgets.VBox([
            widgets.HBox([self.user, self.password]), widgets.HBox([self.preset,
                                                                    self.nologin]),
            self.text, self.button, self.out, self.picture])

    def _user_changed(self, name: str) -> None:
        account = self.accounts.get(name)
        self.password.value = account.password if account and account.password else "x"

    def run(self, user: str | None = None, stack: str | None = None,
            password: str | None = None) -> StackRun:
        """Run the chosen stack for the chosen user and show the table and the flow."""
        if user is not None:
            self.user.value = user
        if stack is not None:
            if stack in self.stacks:
                self.preset.value = stack
            else:
                self.text.value = stack
        if password is not None:
            self.password.value = password
        self.last = simulate(self.text.value, self.user.value, self.password.value,
                             files=world_files(nologin=self.nologin.value))
        self.out.value = table_html(self.last)
        self.picture.value = str(flow(self.last))
        return self.last

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["ACCOUNTS", "STACKS", "Account", "LineResult", "PamExplorer", "StackRun", "flow",
           "short_control", "simulate", "table_html", "world_files"]
