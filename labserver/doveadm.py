"""``labserver doveadm``: the parts of Dovecot's doveadm a learner meets first.

::

    labserver doveadm [-c FILE] [--root DIR] pw [-l] [-p PASS] [-r ROUNDS] [-s SCHEME]
                                                [-t HASH] [-u USER] [-V]
    labserver doveadm [-c FILE] [--root DIR] auth test USER [PASS]
    labserver doveadm [-c FILE] [--root DIR] auth lookup USER
    labserver doveadm [-c FILE] [--root DIR] auth login USER [PASS]
    labserver doveadm [-c FILE] [--root DIR] user [-f FIELD] USER

Output and exit codes follow doveadm 2.3 (doveadm-pw.c, doveadm-auth.c) as seen on a
pipe: ``passdb: alice auth succeeded`` and its extra fields; ``doveadm user``'s
``field<TAB>value`` table. Exit codes are sysexits.h values: 0 success, 64 usage,
67 (EX_NOUSER) unknown user, 75 (EX_TEMPFAIL) an internal failure or a fatal error
such as an unknown scheme, 77 (EX_NOPERM) a failed authentication, 89 a bad config.

Where the real doveadm asks the running auth process over a socket, the lab answers
from the configuration directly with its own Authenticator: no server needs to run.
The default configuration is ``/etc/dovecot/dovecot.conf`` inside ``--root``.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from typing import TextIO

from .auth import schemes

EX_OK, EX_USAGE, EX_NOUSER, EX_TEMPFAIL, EX_NOPERM, EX_CONFIG = 0, 64, 67, 75, 77, 89
DEFAULT_CONFIG = "/etc/dovecot/dovecot.conf"
DEFAULT_SCHEME = "CRYPT"
USAGE = ("usage: doveadm [-c FILE] [--root DIR] pw|auth test|auth lookup|auth login|user "
         "...")


class _Fatal(Exception):
    def __init__(self, message: str, code: int = EX_TEMPFAIL) -> None:
        super().__init__(message)
        self.code = code


def _opts(argv: list[str], flags: str, with_value: str) -> tuple[dict[str, str], list[str]]:
    """getopt() for one command: ``-x`` flags and ``-y VALUE`` options, then operands."""
    found: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        arg = rest.pop(0)
        if arg == "--":
            break
        i = 1
        while i < len(arg):
            ch = arg[i]
            if ch in flags:
                found[ch] = ""
                i += 1
            elif ch in with_value:
                value = arg[i + 1:] or (rest.pop(0) if rest else None)
                if value is None:
                    raise _Fatal(f"option requires an argument -- '{ch}'", EX_USAGE)
                found[ch] = value
                break
            else:
                raise _Fatal(f"invalid option -- '{ch}'", EX_USAGE)
    return found, rest


# --- pw ------------------------------------------------------------------------------

def cmd_pw(argv: list[str], out: TextIO) -> int:
    opts, _ = _opts(argv, "lV", "prstu")
    if "l" in opts:
        out.write("".join(f"{name} " for name in schemes.SCHEMES) + "\n")
        return EX_OK
    rounds = 0
    if "r" in opts:
        if not opts["r"].isdigit():
            raise _Fatal(f"Invalid number of rounds: {opts['r']}", EX_USAGE)
        rounds = int(opts["r"])
    scheme = opts.get("s", DEFAULT_SCHEME).upper()
    test_hash = opts.get("t")
    plaintext = opts.get("p")
    if test_hash is not None and plaintext is None:
        plaintext = getpass.getpass("Enter password to verify: ")
    lives = 3
    while plaintext is None:
        first = getpass.getpass("Enter new password: ")
        if first == getpass.getpass("Retype new password: "):
            plaintext = first
            break
        print("Error: Passwords don't match!", file=sys.stderr)
        lives -= 1
        if lives == 0:
            return 1
    user = opts.get("u", "")
    try:
        hashed = schemes.generate(plaintext, scheme, user=user, rounds=rounds, prefix=False)
    except schemes.UnknownScheme as exc:
        raise _Fatal(f"Unknown scheme: {scheme}") from exc
    if test_hash is None and "V" not in opts:
        out.write(f"{{{scheme}}}{hashed}\n")
        return EX_OK
    if test_hash is not None:
        found, hashed = schemes.split_scheme(test_hash)
        if found is None:
            raise _Fatal("Missing {scheme} prefix from hash")
        scheme = found
    try:
        raw = schemes.decode(hashed, scheme)
    except schemes.SchemeError as exc:
        raise _Fatal(f"reverse decode check failed: {exc}") from exc
    try:
        ok = schemes.verify_raw(plaintext, scheme, raw, schemes.GenerateParams(user=user))
    except schemes.SchemeError as exc:
        raise _Fatal(f"reverse password verification check failed: {exc}") from exc
    if not ok:
        raise _Fatal("reverse password verification check failed: Password mismatch")
    out.write(f"{{{scheme}}}{hashed} (verified)\n")
    return EX_OK


# --- auth and user -------------------------------------------------------------------

def _authenticator(config_path: str, root: str | None):  # noqa: ANN202
    from .auth import AuthConfigError, Authenticator
    from .config.config import ConfigError, load
    from .config.resolve import PathResolver

    try:
        config = load(config_path, root=root)
    except ConfigError as exc:
        raise _Fatal(f"Error in configuration: {exc.message}", EX_CONFIG) from exc
    try:
        return Authenticator(config, PathResolver(root))
    except AuthConfigError as exc:
        raise _Fatal(str(exc), EX_TEMPFAIL) from exc


_HIDDEN_EXTRA = frozenset({"nopassword", "noauthenticate", "user"})


def _print_auth(out: TextIO, user: str, ok: bool, reply_user: str, extra: dict[str, str],
                temp: bool, prefetched: bool) -> None:
    """The auth server's OK/FAIL reply as ``doveadm auth test`` prints it."""
    out.write(f"passdb: {user} auth {'succeeded' if ok else 'failed'}\n")
    fields = [f"user={reply_user}"]
    fields += [f"{k}={v}" if v else k for k, v in extra.items() if k not in _HIDDEN_EXTRA]
    if temp:
        fields.append("temp")
    if ok and prefetched:
        fields.append("")  # doveadm 2.3 shows an empty field when userdb_* were prefetched
    out.write("extra fields:\n" + "".join(f"  {f}\n" for f in fields))


def cmd_auth(argv: list[str], out: TextIO, config_path: str, root: str | None) -> int:
    if not argv:
        raise _Fatal("auth: missing command (test, lookup, login)", EX_USAGE)
    sub, rest = argv[0], argv[1:]
    _, operands = _opts(rest, "", "aAMx")
    if not operands:
        raise _Fatal(f"auth {sub}: missing user name", EX_USAGE)
    user = operands[0]
    auth = _authenticator(config_path, root)
    if sub in ("test", "login"):
        password = operands[1] if len(operands) > 1 else getpass.getpass("Password: ")
        request = auth.new_request(service="doveadm", mech="PLAIN")
        if sub == "test":
            # the auth client protocol asks the passdbs only; the userdbs come with login
            ok, temp = _passdb_only(auth, request, user, password)
        else:
            result = auth.authenticate(user, password, request=request)
            ok, temp = result.success, result.failure == "tempfail"
        _print_auth(out, user, ok, request.user or user, request.extra_fields, temp,
                    _blank_field(request))
        if not ok:
            return EX_NOPERM
        if sub == "login":
            out.write(f"userdb extra fields:\n  {request.user}\n")
            out.write("".join(f"  {k}={v}\n" for k, v in request.userdb_fields.items()))
            out.write("  auth_mech=PLAIN\n")
        return EX_OK
    if sub == "lookup":
        lookup = auth.lookup_credentials(user, "", service="doveadm", mech="")
        from .auth import PassdbResult

        if lookup.result is PassdbResult.USER_UNKNOWN:
            out.write(f"passdb lookup: user {user} doesn't exist\n")
            return EX_NOUSER
        if lookup.result is not PassdbResult.OK:
            print(f"Error: passdb lookup failed for {user}", file=sys.stderr)
            return EX_TEMPFAIL
        request = lookup.request
        out.write(f"passdb: {user}\n")
        fields = [f"user={request.user}"]
        fields += [f"{k}={v}" if v else k for k, v in request.extra_fields.items()
                   if k not in _HIDDEN_EXTRA]
        if _blank_field(request):
            fields.append("")
        for item in fields:
            key, eq, value = item.partition("=")
            out.write(f"  {key:<10}: {value}\n" if eq else f"  {key:<10}\n")
        return EX_OK
    raise _Fatal(f"auth: unknown command {sub}", EX_USAGE)


def _blank_field(request) -> bool:  # noqa: ANN001
    """Observed with doveadm 2.3.19: the reply ends in an empty field when the passdb
    set userdb_* fields (passwd-file extra fields) or answered with SQL columns."""
    return bool(request.userdb_fields) or request.db_name == "sql"


def _passdb_only(auth, request, user: str, password: str) -> tuple[bool, bool]:  # noqa: ANN001
    """(succeeded, tempfail) of the passdb part of a login."""
    from .auth import PassdbResult

    if not auth.set_username(request, user):
        return False, False
    password = password.split("\0", 1)[0]
    request.password = password
    result = auth._verify_plain(request, password)  # noqa: SLF001
    ok = result is PassdbResult.OK and "nologin" not in request.extra_fields
    return ok, result is PassdbResult.INTERNAL_FAILURE


def cmd_user(argv: list[str], out: TextIO, config_path: str, root: str | None) -> int:
    opts, operands = _opts(argv, "u", "afex")
    if not operands:
        raise _Fatal("user: missing user name", EX_USAGE)
    auth = _authenticator(config_path, root)
    code = EX_OK
    field = opts.get("f")
    if field is None:
        out.write("field\tvalue\n")
    for user in operands:
        result = auth.lookup_user(user, service="doveadm")
        from .auth import UserdbResult

        if result.userdb_result is UserdbResult.USER_UNKNOWN:
            if field is None:
                out.write("\n")
            print(f"userdb lookup: user {user} doesn't exist",
                  file=out if field is None else sys.stderr)
            code = code or EX_NOUSER
            continue
        if not result.success:
            print(f"Error: userdb lookup failed for {user}", file=sys.stderr)
            code = EX_TEMPFAIL
            continue
        # doveadm user lists uid, gid and home first, then the other fields
        items = sorted(result.userdb_fields.items(),
                       key=lambda kv: ("uid", "gid", "home").index(kv[0])
                       if kv[0] in ("uid", "gid", "home") else 3)
        for key, value in items:
            if field is None:
                out.write(f"{key}\t{value}\n")
            elif key == field:
                out.write(f"{value}\n")
    return code


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``doveadm ARGS``; returns the exit code."""
    out = out or sys.stdout
    args = list(sys.argv[1:] if argv is None else argv)
    config_path, root = DEFAULT_CONFIG, None
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-c", "--root") and args:
            value = args.pop(0)
            if opt == "-c":
                config_path = value
            else:
                root = value
        elif opt.startswith("-c") and len(opt) > 2:
            config_path = opt[2:]
        elif opt.startswith("--root="):
            root = opt[len("--root="):]
        else:
            print(f"doveadm: invalid option {opt}\n{USAGE}", file=sys.stderr)
            return EX_USAGE
    if not args:
        print(USAGE, file=sys.stderr)
        return EX_USAGE
    command, rest = args[0], args[1:]
    try:
        if command == "pw":
            return cmd_pw(rest, out)
        if command == "auth":
            return cmd_auth(rest, out, config_path, root)
        if command == "user":
            return cmd_user(rest, out, config_path, root)
    except _Fatal as exc:
        out.flush()
        label = "Fatal" if exc.code != EX_USAGE else "Error"
        print(f"{label}: {exc}", file=sys.stderr)
        return exc.code
    print(f"doveadm: Unknown command '{command}'\n{USAGE}", file=sys.stderr)
    return EX_USAGE


if __name__ == "__main__":
    sys.exit(main())
