"""What the magics do, as plain functions that return text: testable without IPython.

Each function takes a ``Lab`` and returns an ``Output`` (the text a terminal would show,
in the order it was written, and an exit code). ``doveconf`` and ``doveadm`` run the
lab's own command line in this process against the lab's directory, so they answer in
milliseconds and never wait on anything: they read files and compute. Where the real
doveadm would prompt for a password on the terminal, a notebook has no terminal; the
command says to give the password on the line instead of waiting for input.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import posixpath
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from .. import cli
from ..cli import EX_CONFIG
from ..config import ConfigError
from ..doveadm import main as doveadm_main
from ..service.lab import Lab, LabError
from ..service.rawlog import Transcript

EX_USAGE = 64


@dataclass
class Output:
    """What a command printed (stdout and stderr interleaved as written) and its exit code."""

    text: str
    code: int = 0
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def shown(self) -> str:
        """The text with a note of the exit code when it is not 0, as a notebook shows it."""
        text = self.text.rstrip("\n")
        if self.code:
            text += ("\n" if text else "") + f"[exit code {self.code}]"
        return text


class _Capture:
    """Two streams writing into one ordered buffer, remembering which was stderr."""

    def __init__(self) -> None:
        self.chunks: list[tuple[bool, str]] = []
        self.out, self.err = _Stream(self, False), _Stream(self, True)

    def output(self, code: int) -> Output:
        return Output("".join(t for _, t in self.chunks), code,
                      "".join(t for e, t in self.chunks if e))


class _Stream(io.TextIOBase):
    """A text stream (not a terminal) whose writes land in a ``_Capture``."""

    def __init__(self, capture: _Capture, is_err: bool) -> None:
        super().__init__()
        self.capture, self.is_err = capture, is_err

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.capture.chunks.append((self.is_err, text))
        return len(text)


class _NoTerminal(Exception):
    """A command asked for a password on the terminal, which a notebook does not have."""


def _no_terminal(prompt: str = "Password: ", stream: object = None) -> str:
    raise _NoTerminal(prompt.strip())


def _captured(func: Callable[[list[str]], int | None], argv: list[str]) -> Output:
    capture = _Capture()
    err = capture.err
    with contextlib.redirect_stdout(capture.out), contextlib.redirect_stderr(err), \
            mock.patch.object(getpass, "getpass", _no_terminal):
        try:
            code = int(func(argv) or 0)
        except SystemExit as exc:  # argparse: -h, or a bad option
            code = exc.code if isinstance(exc.code, int) else EX_USAGE
        except _NoTerminal as exc:
            err.write(f"doveadm would prompt {exc} on a terminal, and a notebook has none: "
                      "give it on the line (pw -p PASSWORD, auth test USER PASSWORD)\n")
            code = EX_USAGE
    return capture.output(code)


def _argv(args: str | Sequence[str]) -> list[str]:
    return shlex.split(args) if isinstance(args, str) else list(args)


def doveconf(lab: Lab, args: str | Sequence[str] = "") -> Output:
    """``doveconf ARGS`` on the lab's configuration (``-c`` in ARGS names another file)."""
    argv = ["doveconf", "--root", str(lab.root), "-c", lab.config_path, *_argv(args)]
    return _captured(cli.main, argv)


def doveadm(lab: Lab, args: str | Sequence[str] = "") -> Output:
    """``doveadm ARGS`` on the lab's configuration (pw, auth test/lookup/login, user)."""
    argv = ["--root", str(lab.root), "-c", lab.config_path, *_argv(args)]
    return _captured(doveadm_main, argv)


def _restore(real: Path, old: str | None) -> None:
    if old is None:
        real.unlink(missing_ok=True)
    else:
        real.write_text(old)


def write_config(lab: Lab, text: str, *, path: str | None = None, start: bool = True,
                 restart: bool = False) -> Output:
    """Write a configuration file into the lab, then start the lab or reload it.

    With ``path`` the text is an included file (``/etc/dovecot/conf.d/10-ssl.conf``, or
    ``conf.d/10-ssl.conf`` relative to dovecot.conf's directory) and the lab only
    reloads when ``restart`` says so. A configuration the lab refuses is
    reported in doveconf's words and the file is put back as it was: a stopped lab stays
    stopped, a running one keeps serving its previous configuration, as Dovecot does when
    a reload fails.
    """
    target = lab.config_path
    if path is not None:  # relative to dovecot.conf's directory, as Dovecot reads !include
        target = posixpath.normpath(posixpath.join(posixpath.dirname(lab.config_path), path))
    real = lab.path(target)
    old = real.read_text() if real.exists() else None
    lab.write_config(text if text.endswith("\n") or not text else text + "\n", target)
    if not start or (path is not None and not restart):
        when = ("with %lab start" if not lab.running
                else "at the next reload (%lab reload)")
        return Output(f"Wrote {target}; the lab reads it {when}.\n")
    warnings = ""
    if lab.engine == "lab":
        check = doveconf(lab, ["-n"])
        if not check.ok:
            _restore(real, old)
            return Output(check.stderr + _refused(lab), check.code, check.stderr)
        warnings = check.stderr
    failure = _apply(lab)
    if failure is not None:
        _restore(real, old)
        return Output(warnings + failure[0] + _refused(lab), failure[1], failure[0])
    return Output(warnings + lab.table() + "\n")


def _apply(lab: Lab) -> tuple[str, int] | None:
    """Start or reload; what was refused and an exit code (89 for a configuration error)."""
    if lab.running:
        error = lab.reload()
        return None if error is None else (f"Fatal: {error}\n", 1)
    try:
        lab.start()
    except ConfigError as exc:
        lines = [*(f"doveconf: {m}" for m in exc.messages), f"doveconf: Fatal: {exc.message}"]
        return "".join(line + "\n" for line in lines), EX_CONFIG
    except (LabError, OSError) as exc:
        return f"Fatal: {exc}\n", 1
    return None


def _refused(lab: Lab) -> str:
    if lab.running:
        return ("Reload refused: the lab keeps serving its previous configuration, "
                "and the file is as it was.\n")
    return "The lab did not start; the file is as it was.\n"


def start(lab: Lab) -> Output:
    """Start the lab on the configuration already written (``%lab start``)."""
    if lab.running:
        return Output("The lab is already running.\n" + lab.table() + "\n")
    failure = _apply(lab)
    if failure is not None:
        return Output(failure[0], failure[1], failure[0])
    return Output(lab.table() + "\n")


def reload(lab: Lab) -> Output:
    """Reload the running lab from its files (``%lab reload``), or start it."""
    if not lab.running:
        return start(lab)
    failure = _apply(lab)
    if failure is not None:
        return Output(failure[0] + _refused(lab), failure[1], failure[0])
    return Output(lab.table() + "\n")


def status(lab: Lab) -> Output:
    """Running or not, engine, directory and listeners (``%lab status``)."""
    state = "running" if lab.running else "stopped"
    lines = [f"Lab: {state} (engine {lab.engine})", f"Root: {lab.root}"]
    if lab.running:
        lines.append(lab.table())
    return Output("\n".join(lines) + "\n")


def logs(lab: Lab, contains: str | None = None, last: int | None = None) -> Output:
    """The lab's log lines, optionally only those containing a text (``%lab logs TEXT``)."""
    lines = lab.logs(contains)
    if last is not None:
        lines = lines[-last:]
    if not lines:
        what = f" containing {contains!r}" if contains else ""
        return Output(f"(no log lines{what})\n")
    return Output("".join(line + "\n" for line in lines))


def describe(transcript: Transcript) -> str:
    """A one-line heading for a transcript: protocol, peers, user, TLS."""
    parts = [f"# {transcript.protocol} session {transcript.session}",
             f"{transcript.remote} -> {transcript.local}"]
    if transcript.user:
        parts.append(f"user {transcript.user}")
    if transcript.tls:
        parts.append("TLS")
    return ", ".join(parts)


def transcripts(lab: Lab, protocol: str | None = None, last: int = 1) -> Output:
    """The last ``last`` session transcripts, optionally of one protocol."""
    if lab.engine != "lab":
        return Output("The dovecot engine keeps no transcripts; see %lab logs.\n")
    found = lab.transcripts(protocol)[-last:] if last > 0 else []
    if not found:
        return Output(f"(no {protocol + ' ' if protocol else ''}sessions yet)\n")
    blocks = [describe(t) + "\n" + t.text() for t in found]
    return Output("\n\n".join(blocks) + "\n")


def stop(lab: Lab) -> Output:
    """Stop the lab (``%lab stop``); its files stay until the kernel exits."""
    if not lab.running:
        return Output("The lab is not running.\n")
    lab.stop()
    return Output("Lab stopped.\n")
