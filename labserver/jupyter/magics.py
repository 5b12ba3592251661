"""IPython magics for the course: ``%load_ext labserver`` and then::

    %%dovecot                       # the cell is dovecot.conf: write it, start or reload
    protocols = imap pop3
    ...

    %%dovecot --path /etc/dovecot/conf.d/10-ssl.conf   # an included file; --restart applies it
    %%dovecot --engine dovecot      # the same cell on real Dovecot, where it is installed
    %%dovecot --no-start            # only write the file

    %doveconf -n                    # the lab's doveconf on the lab's configuration
    %doveadm auth test alice secret
    %lab status | start | reload | stop | logs [TEXT] | transcript [imap|pop3] [N]

All magics share the kernel's one lab (see ``kernel``), which is also put in the
notebook's namespace as ``lab`` (``lab.add_user("alice", "secret")``,
``lab.port("imap")``). A refused configuration prints doveconf's error, not a
traceback, and every magic returns promptly: nothing here waits on the network.
"""

from __future__ import annotations

import shlex

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..service.lab import ENGINES, Lab, LabError
from . import commands, kernel

LAB_USAGE = ("usage: %lab status | start | reload | stop | logs [TEXT] "
             "| transcript [imap|pop3] [N]")


@magics_class
class LabMagics(Magics):
    """``%%dovecot``, ``%doveconf``, ``%doveadm`` and ``%lab`` on the kernel's lab."""

    def _lab(self, engine: str | None = None) -> Lab:
        lab = kernel.current(engine)
        self.shell.user_ns["lab"] = lab
        return lab

    @magic_arguments()
    @argument("--path", metavar="FILE",
              help="write this file (as the configuration names it) instead of dovecot.conf; "
              "the lab is not reloaded unless --restart is given")
    @argument("--restart", action="store_true",
              help="with --path: start or reload the lab after writing")
    @argument("--engine", choices=ENGINES,
              help="lab (the default) or dovecot (Debian's real Dovecot, where installed)")
    @argument("--no-start", action="store_true", help="only write the file")
    @cell_magic
    def dovecot(self, line: str, cell: str) -> None:
        """Write the cell as dovecot.conf in the lab, then start the lab or reload it."""
        args = parse_argstring(self.dovecot, line)
        try:
            lab = self._lab(args.engine)
        except LabError as exc:
            print(f"Fatal: {exc}")
            return
        out = commands.write_config(lab, cell, path=args.path, start=not args.no_start,
                                    restart=args.restart)
        print(out.shown())

    @line_magic
    def doveconf(self, line: str) -> None:
        """``doveconf ARGS`` on the lab's configuration, e.g. ``%doveconf -n``."""
        print(commands.doveconf(self._lab(), _split(line)).shown())

    @line_magic
    def doveadm(self, line: str) -> None:
        """``doveadm ARGS`` on the lab's configuration, e.g. ``%doveadm user alice``."""
        print(commands.doveadm(self._lab(), _split(line)).shown())

    @line_magic
    def lab(self, line: str) -> None:
        """``%lab status|start|reload|stop|logs [TEXT]|transcript [imap|pop3] [N]``."""
        words = _split(line) or ["status"]
        verb, rest = words[0], words[1:]
        lab = self._lab()
        if verb in ("status", "start", "reload", "stop") and not rest:
            print(getattr(commands, verb)(lab).shown())
        elif verb == "logs":
            print(commands.logs(lab, " ".join(rest) or None).shown())
        elif verb == "transcript" and len(rest) <= 2:
            protocol = next((w for w in rest if not w.isdigit()), None)
            count = next((int(w) for w in rest if w.isdigit()), 1)
            if protocol not in (None, "imap", "pop3"):
                print(LAB_USAGE)
                return
            print(commands.transcripts(lab, protocol, count).shown())
        else:
            print(LAB_USAGE)


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext labserver``: register the magics."""
    ipython.register_magics(LabMagics)
