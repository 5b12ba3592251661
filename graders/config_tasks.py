"""Checks on a configuration as Dovecot reads it (no server needed).

These judge the configuration the way doveconf sees it, not its text: a setting
written through an include, a ``protocol`` filter or an old spelling that Dovecot
converts counts as what it means. Behavioural checks that start a lab server build
on these.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from labserver.config import Config, ConfigError, load
from labserver.config.registry import format_value, load_registry

from .probe import refused
from .verdict import Verdict

Submission = str | Path


def _load(submission: Submission) -> Config:
    """Parse a config text, a file, or a folder holding dovecot.conf (paths in its root)."""
    if isinstance(submission, Path):
        if submission.is_dir():
            return load("/dovecot.conf", root=str(submission), expand_values=False)
        # A single file is read as a text: loaded in place, its includes would reach
        # the real file system (``!include /etc/shadow``).
        submission = submission.read_text()
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        conf = Path(tmp, "etc", "dovecot", "dovecot.conf")
        conf.parent.mkdir(parents=True)
        conf.write_text(submission)
        return load("/etc/dovecot/dovecot.conf", root=tmp, expand_values=False)


def config_valid(submission: Submission) -> Verdict:
    """The configuration is accepted by Dovecot 2.3 (doveconf -n succeeds)."""
    task = "config-valid"
    try:
        cfg = _load(submission)
    except ConfigError as exc:
        return refused(task, exc)
    evidence = tuple(str(m) for m in cfg.messages)
    note = " (with warnings: read them)" if evidence else ""
    return Verdict(task, True, 1.0, f"Dovecot 2.3 accepts this configuration{note}.", evidence)


def no_obsolete(submission: Submission) -> Verdict:
    """Accepted, and without any setting Dovecot 2.3 calls obsolete."""
    task = "config-modern"
    try:
        cfg = _load(submission)
    except ConfigError as exc:
        return refused(task, exc)
    old = [w for w in cfg.warnings if w.startswith("Obsolete setting")]
    if old:
        return Verdict(task, False, 0.5,
                       "Dovecot 2.3 accepts this, but converts old settings for you:\n"
                       + "\n".join(f"  {w}" for w in old)
                       + "\nWrite the modern setting that each warning names.",
                       tuple(old))
    return Verdict(task, True, 1.0, "No obsolete settings: this is Dovecot 2.3 syntax.")


# Settings Dovecot reads as a set of words: their order does not matter, and for the
# mechanism names neither does case (Dovecot upper-cases them).
WORD_SETS = {"protocols": True, "auth_mechanisms": False, "listen": True,
             "login_trusted_networks": True, "mail_plugins": True, "auth_realms": True}


def _same(setting: str, shown: str, wanted: str) -> bool:
    if setting not in WORD_SETS:
        return shown == wanted
    case_matters = WORD_SETS[setting]

    def words(text: str) -> set[str]:
        return {w if case_matters else w.upper() for w in text.replace(",", " ").split()}
    return words(shown) == words(wanted)


def setting_value(submission: Submission, setting: str, expected: str,
                  protocol: str | None = None, remote: str | None = None) -> Verdict:
    """A setting has the expected effective value (for a protocol or client address)."""
    task = "setting-value"
    try:
        cfg = _load(submission)
    except ConfigError as exc:
        return refused(task, exc)
    sdef = load_registry().setting(setting)
    if sdef is None:
        return Verdict(task, False, 0.0, f"{setting} is not a Dovecot 2.3 setting.")
    value = cfg.get(setting, protocol=protocol, remote=remote)
    shown = format_value(sdef.type, value)
    try:
        wanted = format_value(sdef.type, sdef.parse(expected))
    except ValueError:
        wanted = expected
    scope = " for " + " and ".join(
        x for x in (protocol and f"protocol {protocol}", remote and f"clients from {remote}")
        if x) if protocol or remote else ""
    if _same(setting, shown, wanted):
        return Verdict(task, True, 1.0, f"{setting}{scope} is {shown!r}, as asked.")
    return Verdict(task, False, 0.0,
                   f"Expected {setting}{scope} to be {wanted!r}, but Dovecot reads {shown!r}.\n"
                   f"Hint: doveconf -n shows what is set; a protocol {{}} block overrides the "
                   "global value for that protocol only.")


CHECKS = {
    "config-valid": config_valid,
    "config-modern": no_obsolete,
    "setting-value": setting_value,
}
