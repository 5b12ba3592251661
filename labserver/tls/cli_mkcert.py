"""``labserver mkcert``: Dovecot's mkcert.sh in Python, plus certificate checks.

    labserver mkcert [--root DIR] [--debian]        # as mkcert.sh (SSLDIR, OPENSSLCONFIG)
    labserver mkcert --snakeoil [--hostname NAME]   # Debian's default certificate
    labserver mkcert --check CERT KEY [--host NAME] # key matches, expiry, host name, modes

Exit codes are the script's: 1 when a directory is missing or a file exists already, 2
when the certificate cannot be made; ``--check`` exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import certs


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="labserver mkcert", description=__doc__.splitlines()[0])
    parser.add_argument("--root", metavar="DIR",
                        help="sandbox root: absolute paths resolve inside it")
    parser.add_argument("--debian", action="store_true",
                        help="Debian's layout: /etc/dovecot/ssl/dovecot.pem and dovecot.key "
                        "(Debian's script ignores SSLDIR)")
    parser.add_argument("--days", type=int, default=None,
                        help="validity (default 365, or 3650 with --snakeoil)")
    parser.add_argument("--snakeoil", action="store_true",
                        help="make Debian's ssl-cert-snakeoil certificate and the links "
                        "dovecot-core's postinst adds in /etc/dovecot/private")
    parser.add_argument("--hostname", help="host name for --snakeoil (default: hostname -f)")
    parser.add_argument("--check", nargs=2, metavar=("CERT", "KEY"),
                        help="check a certificate and key instead of making one")
    parser.add_argument("--host", help="with --check: the name clients will connect to")
    parser.add_argument("--password", help="with --check: the key's password")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.check:
        cert, key = args.check
        if args.root:
            cert, key = str(certs._real(cert, args.root)), str(certs._real(key, args.root))
        try:
            checks = certs.check_files(cert, key, host=args.host,
                                       password=args.password.encode() if args.password
                                       else None)
        except (OSError, certs.CertError) as exc:
            print(f"labserver mkcert: {exc}", file=sys.stderr)
            return 2
        for check in checks:
            print(check)
        return 0 if all(c.ok for c in checks) else 1
    if args.snakeoil:
        result = certs.snakeoil(root=args.root, hostname=args.hostname,
                                days=args.days or 3650)
    else:
        result = certs.mkcert(layout="debian" if args.debian else "upstream", root=args.root,
                              days=args.days or 365)
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
