"""The ``labserver`` command line (also ``python -m labserver``).

Subcommands mirror the tools a learner meets on the exam and on a real server:
``doveconf`` and ``doveadm`` print and query a configuration as Dovecot's tools do,
``serve`` runs the lab server, ``mkcert`` makes a certificate as Dovecot's mkcert.sh
does, and ``scan`` lists the TLS versions and ciphers a port accepts. Courier's tools
(``maildirmake``, ``userdb``, ``makeuserdb``, ``userdbpw``, ``authtest``,
``mkimapdcert``, ``mkpop3dcert``) come from ``labserver.courier.cli``, and
``serve --flavor courier`` runs the Courier personality. Configuration paths are
mapped into ``--root`` (the lab's sandbox) when one is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .config import ConfigError, load
from .config.doveconf import dump
from .config.registry import load_registry
from .courier.cli import add_commands as add_courier_commands
from .doveadm import main as doveadm_main
from .tls import cli_mkcert, cli_scan

DEFAULT_CONFIG = "/etc/dovecot/dovecot.conf"
EX_CONFIG = 89


def _doveconf(args: argparse.Namespace) -> int:
    mode = "a"
    if args.n:
        mode = "n"
    elif args.N:
        mode = "N"
    out = sys.stdout
    if not args.settings:
        out.write(f"# {load_registry().version} (labserver): {args.c}\n")
        out.flush()
    try:
        config = load(args.c, root=args.root, expand_values=args.x, strict=False)
    except ConfigError as exc:
        for msg in exc.messages:
            print(f"doveconf: {msg}", file=sys.stderr)
        print(f"doveconf: Fatal: {exc.message}", file=sys.stderr)
        return EX_CONFIG
    result = dump(config, mode=mode, names=tuple(args.settings),
                  hide_passwords=not args.P, header=False)
    body = result.stdout
    if not args.settings:
        lines = [f"# Hostname: {config.hostname}"]
        if mode == "a":
            lines.append("# NOTE: Send doveconf -n output instead when asking for help.")
        body = "".join(line + "\n" for line in lines) + body
    out.write(body)
    out.flush()
    for line in result.errors:
        print(f"doveconf: {line}", file=sys.stderr)
    return result.exit_code


def _serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .config import ConfigError
    from .service.lab import CONFIG_PATH, Lab, LabError

    done = threading.Event()
    # Interrupted, terminated or hung up, even while starting: stop, and remove the lab
    # directory when it is a temporary one made for this run (cleanup() keeps --root).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    lab = None
    try:
        if args.flavor == "courier":
            if args.c is not None:
                raise LabError("-c: the Courier personality reads /etc/courier in the lab "
                               "root (use --root)")
            lab = Lab(root=args.root, ports=args.ports, flavor="courier")
        elif args.root is None:
            text = None
            if args.c is not None:
                with open(args.c, encoding="utf-8") as fh:
                    text = fh.read()
            lab = Lab(text, ports=args.ports, engine=args.engine)
        else:
            lab = Lab(root=args.root, ports=args.ports, config_path=args.c or CONFIG_PATH,
                      engine=args.engine)
        lab.start()
    except (ConfigError, LabError, OSError) as exc:
        if lab is not None:
            lab.cleanup()  # a lab directory made for this run goes with it
        text = exc.message if isinstance(exc, ConfigError) else str(exc)
        print(f"labserver: Fatal: {text}", file=sys.stderr)
        return EX_CONFIG
    print(f"Lab root: {lab.root}")
    if args.engine != "lab":
        print(f"Engine: {args.engine}")
    if args.flavor != "dovecot":
        print(f"Flavor: {args.flavor}")
    print(lab.table())
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        lab.cleanup()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labserver", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dc = sub.add_parser("doveconf", help="print the configuration as Dovecot's doveconf does")
    dc.add_argument("-c", metavar="FILE", default=DEFAULT_CONFIG, help="configuration file")
    dc.add_argument("-n", action="store_true", help="only settings changed from defaults")
    dc.add_argument("-a", action="store_true", help="all settings (the default)")
    dc.add_argument("-N", action="store_true", help="settings changed or set explicitly")
    dc.add_argument("-P", action="store_true", help="show passwords and other secrets")
    dc.add_argument("-x", action="store_true", help="expand $variables and <file values")
    dc.add_argument("--root", metavar="DIR", help="sandbox root for absolute paths")
    dc.add_argument("settings", nargs="*", metavar="SETTING", help="print only these")
    dc.set_defaults(func=_doveconf)
    sv = sub.add_parser("serve", help="run the lab server until interrupted")
    sv.add_argument("-c", metavar="FILE",
                    help="configuration file: with --root, a path as the lab sees it "
                    "(default /etc/dovecot/dovecot.conf); without, a file copied into a new lab")
    sv.add_argument("--root", metavar="DIR",
                    help="lab directory that stands for / (default: a new temporary one)")
    sv.add_argument("--ports", default="offset",
                    help="port mapping: offset[:N] (default offset:10000), ephemeral or exact")
    sv.add_argument("--engine", choices=("lab", "dovecot"), default="lab",
                    help="the lab's own server (default) or, where it is installed, Debian's "
                    "real Dovecot on the same configuration and mailboxes")
    sv.add_argument("--flavor", choices=("dovecot", "courier"), default="dovecot",
                    help="the server the lab imitates: Dovecot (default) or Courier-IMAP and "
                    "Courier's pop3d, configured by /etc/courier in the lab root")
    sv.set_defaults(func=_serve)
    mk = sub.add_parser("mkcert", help="make a self-signed certificate as Dovecot's mkcert.sh does")
    cli_mkcert.build_parser(mk)
    mk.set_defaults(func=cli_mkcert.run)
    sc = sub.add_parser("scan", help="which TLS versions and ciphers a port accepts")
    cli_scan.build_parser(sc)
    sc.set_defaults(func=cli_scan.run)
    dv = sub.add_parser("doveadm", help="doveadm pw / auth test|lookup|login / user",
                        add_help=False, prefix_chars="\0")
    dv.add_argument("rest", nargs=argparse.REMAINDER)
    dv.set_defaults(func=lambda a: doveadm_main(a.rest))
    add_courier_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
