"""Courier's administration commands as ``labserver`` subcommands.

    labserver maildirmake [-f FOLDER] [-q QUOTA] MAILDIR [--root DIR]
    labserver userdb NAME set field=value ... --root DIR   (or: NAME del)
    labserver makeuserdb --root DIR
    labserver userdbpw [-md5 | -hmac-md5]                  (password on stdin)
    labserver authtest [-s SERVICE] USER [PASSWORD] --root DIR
    labserver mkimapdcert --root DIR    /    labserver mkpop3dcert --root DIR

Their output and exit codes are those of Courier's programs. Commands that read or
write ``/etc/courier`` (or, through authshadow, ``/etc/shadow``) need ``--root``: the
lab never touches the machine's own files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config.resolve import PathResolver
from . import authdaemon, certs, maildir, settings, shellconf, userdb


def _resolver(args: argparse.Namespace) -> PathResolver:
    return PathResolver(Path(args.root) if args.root else None)


def _need_root(args: argparse.Namespace) -> bool:
    if args.root:
        return True
    print(f"labserver {args.command}: --root DIR is required (the lab reads and writes "
          "/etc/courier only inside a lab directory)", file=sys.stderr)
    return False


def _maildirmake(args: argparse.Namespace) -> int:
    path = _resolver(args).real(args.maildir) if args.root else args.maildir
    try:
        maildir.maildirmake(path, args.f, args.q)
    except maildir.MaildirMakeError as exc:
        message = str(exc)
        if args.root:
            message = message.replace(str(Path(args.root).resolve()), "")
        print(message, file=sys.stderr)
        return 1
    return 0


def _userdb(args: argparse.Namespace) -> int:
    if not _need_root(args):
        return 1
    try:
        if args.verb == "set":
            fields = {}
            for item in args.fields:
                key, sep, value = item.partition("=")
                if not sep:
                    raise userdb.UserdbError(f"Invalid field: {item}")
                fields[key] = value
            userdb.userdb_set(_resolver(args), args.name, fields)
        elif args.verb == "del":
            userdb.userdb_del(_resolver(args), args.name)
        else:
            print(f"Usage: userdb name set field=value ... | userdb name del (not {args.verb})",
                  file=sys.stderr)
            return 1
    except userdb.UserdbError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _makeuserdb(args: argparse.Namespace) -> int:
    if not _need_root(args):
        return 1
    try:
        userdb.makeuserdb(_resolver(args))
    except userdb.UserdbError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _userdbpw(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n")
    try:
        print(userdb.userdbpw(password, args.option))
    except userdb.UserdbError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _authtest(args: argparse.Namespace) -> int:
    if not _need_root(args):
        return 1
    resolver = _resolver(args)
    try:
        modules = settings.load_authmodules(resolver)
    except shellconf.CourierConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    code, out, err = authdaemon.authtest(resolver, modules, args.user, args.password,
                                         args.s)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


def _mkcert(args: argparse.Namespace) -> int:
    if not _need_root(args):
        return 1
    resolver = _resolver(args)
    certs.write_templates(resolver)
    code, out, err = certs.mkcert(resolver, args.command[2:-4])
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add Courier's commands to the ``labserver`` parser."""
    def root(p: argparse.ArgumentParser) -> None:
        p.add_argument("--root", metavar="DIR",
                       help="lab directory that stands for / (absolute paths resolve inside)")

    mm = sub.add_parser("maildirmake", help="Courier's maildirmake: a maildir, a Maildir++ "
                        "folder (-f) or a quota (-q, maildirsize)")
    mm.add_argument("-f", metavar="FOLDER", help="make the folder .FOLDER in MAILDIR")
    mm.add_argument("-q", metavar="QUOTA", help="write maildirsize, e.g. 10000000S,1000C")
    mm.add_argument("maildir")
    root(mm)
    mm.set_defaults(func=_maildirmake)
    ud = sub.add_parser("userdb", help="Courier's userdb: set or delete an account")
    ud.add_argument("name")
    ud.add_argument("verb", help="set or del")
    ud.add_argument("fields", nargs="*", metavar="field=value")
    root(ud)
    ud.set_defaults(func=_userdb)
    mu = sub.add_parser("makeuserdb", help="compile /etc/courier/userdb for authuserdb")
    root(mu)
    mu.set_defaults(func=_makeuserdb)
    pw = sub.add_parser("userdbpw", help="hash a password read from stdin for userdb")
    group = pw.add_mutually_exclusive_group()
    group.add_argument("-md5", dest="option", action="store_const", const="-md5",
                       help="MD5-crypt ($1$)")
    group.add_argument("-hmac-md5", dest="option", action="store_const", const="-hmac-md5",
                       help="the HMAC-MD5 secret CRAM-MD5 needs")
    pw.set_defaults(func=_userdbpw, option="")
    at = sub.add_parser("authtest", help="ask Courier's authdaemon modules about a user")
    at.add_argument("-s", metavar="SERVICE", default="login", help="service (default login)")
    at.add_argument("user")
    at.add_argument("password", nargs="?")
    root(at)
    at.set_defaults(func=_authtest)
    for name in ("mkimapdcert", "mkpop3dcert"):
        mc = sub.add_parser(name, help=f"Courier's {name}: /etc/courier/{name[2:-4]}.pem")
        root(mc)
        mc.set_defaults(func=_mkcert)
