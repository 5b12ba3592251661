"""Hostile submissions for every grader task, and the audited run of the file-system ones.

A submission is whatever a learner's cell hands to ``graders.check``: here the wrong
types, enormous and binary texts, objects whose ``__str__``, ``__iter__`` or
``__fspath__`` raise or never return, paths that are gone, configurations that reach for
``/etc/shadow``, ``/proc/self/environ`` or ``../../../../etc/passwd`` (``!include``,
``<file`` values, ``ssl_cert``, passdb and userdb args, a relative path, a chain of
symbolic links), folders whose files are links to the outside, and learner functions
that loop, exit, interrupt or print without end.

Run as a module (``python -m tests.reliability.hostile_submissions TMP``), it runs
every task on every configuration and folder that reaches out, under an audit hook
that refuses (and records) any opening of the protected files, and prints the verdicts
and the openings as JSON. Refusing, not only recording, matters: the grader writes to a
passwd-file passdb (it adds its users there) and to files a folder brings along, so a
regression must not touch the machine's files.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from labserver.service.lab import DEFAULT_CONFIG

PROTECTED = re.compile(r"^/etc/(g?shadow|passwd)$|^/proc/(self|\d+)/environ$")
MESSAGE = b"Subject: sizes\n\nOne line.\n"

# What each task needs besides the submission, chosen so the submission is what decides.
PARAMS: dict[str, dict[str, Any]] = {
    "cipher-choice": {"config": DEFAULT_CONFIG.replace("ssl = no", "ssl = yes"),
                      "offer": ["ECDHE-RSA-AES256-GCM-SHA384"]},
    "listen-address": {"address": "127.0.0.1"},
    "listeners-ports": {"ports": {"imap": 143, "pop3": 0}},
    "maildir-size-fields": {"messages": [MESSAGE]},
    "pop3-sizes": {"messages": [MESSAGE]},
    "session-secure-fetch": {"user": "learner1000", "marker": "m4rk3r"},
    "setting-value": {"setting": "ssl", "expected": "required"},
}
# Tasks whose submission is a function the check calls (courier-migration calls its
# ``convert`` parameter, handed in beside the configuration).
FUNCTION_TASKS = ("cram-md5-client", "pop3-uidl", "courier-user", "courier-migration")

PASSDB = """auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {passdb}
}}
userdb {{
  driver = passwd-file
  args = {userdb}
  default_fields = home=/home/%u
}}
"""


def reaching_configs() -> dict[str, str]:
    """Configuration texts that name the protected files in every way Dovecot reads files."""
    return {
        "include-shadow": "!include /etc/shadow\n",
        "include-environ": "!include /proc/self/environ\n",
        "include-relative-passwd": "!include ../../../../etc/passwd\n",
        "include-try-relative-shadow": "!include_try ../../../../../../etc/shadow\n"
                                       + DEFAULT_CONFIG,
        "value-file-shadow": "login_greeting = </etc/shadow\n" + DEFAULT_CONFIG,
        "value-file-relative": "login_greeting = <../../../../etc/passwd\n" + DEFAULT_CONFIG,
        "ssl-cert-shadow": DEFAULT_CONFIG.replace("ssl = no", "ssl = yes")
                           + "ssl_cert = </etc/shadow\nssl_key = </proc/self/environ\n",
        "passdb-shadow": "protocols = imap pop3\nssl = no\nauth_mechanisms = plain cram-md5\n"
                         + PASSDB.format(passdb="/etc/shadow", userdb="/etc/passwd"),
        "passdb-relative-shadow": "protocols = imap pop3\nssl = no\n"
                                  "auth_mechanisms = plain cram-md5\n"
                                  + PASSDB.format(passdb="../../../../etc/shadow",
                                                  userdb="../../../../etc/passwd"),
        "shadow-driver": DEFAULT_CONFIG[:DEFAULT_CONFIG.index("passdb {")]
                         + "auth_failure_delay = 0\npassdb {\n  driver = shadow\n}\n"
                         "userdb {\n  driver = passwd\n}\n",
    }


def reaching_folders(where: Path) -> dict[str, Path]:
    """Folder submissions whose files are symbolic links out of the folder."""
    out = {}
    linked = where / "linked-conf"  # dovecot.conf itself is /etc/shadow
    linked.mkdir()
    (linked / "dovecot.conf").symlink_to("/etc/shadow")
    out["dovecot.conf-is-shadow"] = linked
    included = where / "linked-include"  # a sound dovecot.conf including a link
    (included / "conf.d").mkdir(parents=True)
    (included / "dovecot.conf").write_text(DEFAULT_CONFIG + "!include conf.d/*.conf\n")
    (included / "conf.d" / "10-auth.conf").symlink_to("/etc/shadow")
    (included / "conf.d" / "20-env.conf").symlink_to("/proc/self/environ")
    (included / "conf.d" / "30-up.conf").symlink_to("../../../../../../../../etc/passwd")
    out["include-links-out"] = included
    chain = where / "symlink-chain"  # more links than the resolver follows, then out
    chain.mkdir()
    (chain / "dovecot.conf").write_text(DEFAULT_CONFIG + "!include l0\n")
    for i in range(45):
        (chain / f"l{i}").symlink_to(f"l{i + 1}")
    (chain / "l45").symlink_to("/etc/shadow")
    out["symlink-chain"] = chain
    root = where / "whole-root"  # a folder holding etc/: the lab root itself
    (root / "etc" / "dovecot").mkdir(parents=True)
    (root / "etc" / "dovecot" / "dovecot.conf").write_text(
        "protocols = imap pop3\nssl = no\n" + PASSDB.format(passdb="/etc/shadow",
                                                           userdb="/etc/passwd"))
    (root / "etc" / "shadow").symlink_to("/etc/shadow")
    (root / "etc" / "passwd").symlink_to("../../../../../../../etc/passwd")
    out["root-with-shadow-link"] = root
    return out


# -- objects and functions -------------------------------------------------------------

class Raising:
    """Every way a check may look at a submission raises."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ refuses")

    __repr__ = __str__

    def __fspath__(self) -> str:
        raise RuntimeError("__fspath__ refuses")

    def __iter__(self) -> Any:
        raise RuntimeError("__iter__ refuses")

    def __len__(self) -> int:
        raise RuntimeError("__len__ refuses")


class Looping:
    """Every way a check may look at a submission never returns (until ``release``)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def _loop(self) -> None:
        while not self.release.wait(0.01):
            pass

    def __str__(self) -> str:
        self._loop()
        return "released"

    __repr__ = __str__

    def __fspath__(self) -> str:
        self._loop()
        return "/nonexistent"

    def __iter__(self) -> Any:
        self._loop()
        return iter(())

    def __len__(self) -> int:
        self._loop()
        return 0


def hostile_functions(release: threading.Event) -> dict[str, Callable[..., Any]]:
    """Learner functions that do not answer: each takes any arguments."""
    def loops(*_: Any) -> str:
        while not release.wait(0.01):
            pass
        return "released"

    def exits(*_: Any) -> str:
        sys.exit("the learner's function exits")

    def interrupts(*_: Any) -> str:
        raise KeyboardInterrupt

    def system_exit(*_: Any) -> str:
        raise SystemExit(3)

    def generator_exit(*_: Any) -> str:
        raise GeneratorExit("closed")

    def chatty(*_: Any) -> str:
        line = "all work and no play " * 50 + "\n"
        for _ in range(8_000):  # about 8 MB, at every call
            sys.stdout.write(line)
        return "chatty 0123456789abcdef"

    def huge_error(*_: Any) -> str:
        raise ValueError("x" * 1_000_000)

    return {"loops": loops, "sys.exit": exits, "KeyboardInterrupt": interrupts,
            "SystemExit": system_exit, "GeneratorExit": generator_exit,
            "prints-8-MB": chatty, "huge-error": huge_error}


# -- the audited run -------------------------------------------------------------------

def _audit(opened: list[str]) -> None:
    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not args or isinstance(args[0], int) or args[0] is None:
            return
        real = os.path.realpath(os.fsdecode(args[0]))
        if PROTECTED.match(real):
            opened.append(f"{real} (thread {threading.current_thread().name})")
            raise PermissionError(f"the hostile-submission audit refuses to open {real}")
    sys.addaudithook(hook)


def audited_run(where: Path, workers: int = 6) -> dict[str, Any]:
    """Every task on every reaching configuration and folder, several checks at a time,
    with every opening of a protected file refused and recorded (with the thread: a
    check's worker is named after its task)."""
    opened: list[str] = []
    _audit(opened)
    import graders

    cases: dict[str, Any] = {**reaching_configs(), **reaching_folders(where)}

    def one(task: str, name: str) -> dict[str, Any]:
        submission = cases[name]
        params = dict(PARAMS.get(task, {}))
        if task == "cipher-choice" and isinstance(submission, str):
            params["config"] = submission  # there the configuration is a parameter
        start = time.perf_counter()
        verdict = graders.check(task, submission, timeout=20, **params)
        return {"task": task, "case": name, "seconds": time.perf_counter() - start,
                "type": type(verdict).__name__, "passed": verdict.passed,
                "feedback": verdict.feedback}

    with ThreadPoolExecutor(workers) as pool:
        rows = list(pool.map(lambda pair: one(*pair),
                             [(t, n) for t in sorted(graders.TASKS) for n in cases]))
    return {"rows": rows, "opened": opened}


if __name__ == "__main__":
    print(json.dumps(audited_run(Path(sys.argv[1]))))
