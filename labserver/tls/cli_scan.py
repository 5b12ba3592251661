"""``labserver scan HOST:PORT [--starttls imap|pop3]``: which TLS versions and cipher
suites a port accepts, whose order wins, and what is weak (like nmap ssl-enum-ciphers).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from .scan import ScanError, scan


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="labserver scan", description=__doc__.splitlines()[0])
    parser.add_argument("target", metavar="HOST:PORT")
    parser.add_argument("--starttls", choices=("imap", "pop3"),
                        help="speak IMAP STARTTLS or POP3 STLS first")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--source", metavar="ADDR",
                        help="local address to connect from (e.g. 127.0.0.2)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    host, sep, port = args.target.rpartition(":")
    if not sep or not port.isdigit():
        print("labserver scan: expected HOST:PORT", file=sys.stderr)
        return 2
    host = host.strip("[]") or "127.0.0.1"
    try:
        report = scan(host, int(port), starttls=args.starttls, timeout=args.timeout,
                      source=args.source)
    except ScanError as exc:
        print(f"labserver scan: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        sys.stdout.write(report.text())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
