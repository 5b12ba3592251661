"""The question bank: its shape, and every claim its answers make, checked against the lab.

A question's ``checks`` are what its answer asserts about Dovecot, written so that a
machine can test them:

- ``setting``: the name is in the lab's settings registry (``section``'s struct when
  given); with ``default``, ``labserver doveconf NAME`` prints that for an empty config,
  and so does the real ``doveconf`` where it is installed;
- ``obsolete``: the lab's config engine (and the real doveconf) warns "Obsolete setting"
  for ``config``, naming ``name`` (and ``replacement``), and the name is not a setting;
- ``command``: the command exits 0: labserver's doveconf, doveadm and mkcert in a lab
  root, other programs (openssl, gnutls-cli, ss) as installed;
- ``path``: a file or directory Debian's Dovecot packages ship (``dpkg -L``; files Debian
  keeps in /usr/share/dovecot and copies to /etc/dovecot count), or one the lab's mkcert
  makes, or one a named Debian package ships (where that package is installed; where it
  is not, that the package exists);
- ``value``: a computation through the lab's code (``VALUES`` below) equals the answer;
- ``debian-package``: the package exists in the system's package lists, with its summary.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from labserver import cli
from labserver.auth import schemes
from labserver.auth.auth import build
from labserver.auth.pam import PamHandle
from labserver.auth.sasl.mech import MECH_RULES
from labserver.config import load
from labserver.config.registry import load_registry
from labserver.config.resolve import PathResolver
from labserver.jupyter.quiz import BANK_SCHEMA, TOPICS, load_bank, read_bank
from labserver.service.lab import DEFAULT_CONFIG, Lab
from labserver.service.listeners import PortPolicy, listener_specs
from labserver.storage import parse_location
from labserver.storage.sizes import virtual_size
from labserver.tls import certs
from tests.tools import require_program

ROOT = Path(__file__).resolve().parents[2]
RAW = read_bank()
QUESTIONS: list[dict[str, Any]] = RAW["questions"]
BY_ID = {q["id"]: q for q in QUESTIONS}
NOTEBOOK_FOLDERS = ("00-start-here", "01-courier", "02-pam-auth", "03-mechanisms",
                    "04-mail-location", "05-ssl-mkcert", "06-cipher-hardening", "07-listeners",
                    "08-pop3-sizing", "09-exam-practice")
CONF = "/etc/dovecot/dovecot.conf"
LAB_PROGRAMS = ("doveconf", "doveadm", "mkcert")
OUTSIDE_PROGRAMS = {"openssl": "openssl", "gnutls-cli": "gnutls-bin", "ss": "iproute2"}
OPENSSL_CNF = """\
[ req ]
default_bits = 2048
encrypt_key = no
distinguished_name = req_dn
x509_extensions = cert_type
prompt = no

[ req_dn ]
CN=imap.example.com

[ cert_type ]
nsCertType = server
"""


def _checks(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(q["id"], c) for q in QUESTIONS for c in q["checks"] if c["kind"] == kind]


def _ids(items: list[tuple[str, dict[str, Any]]]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for qid, _ in items:
        seen[qid] = seen.get(qid, 0) + 1
        out.append(f"{qid}#{seen[qid]}")
    return out


def _params(kind: str) -> Any:
    items = _checks(kind)
    return pytest.mark.parametrize(("qid", "check"), items, ids=_ids(items))


# --- shape -------------------------------------------------------------------------------

def test_bank_matches_its_schema() -> None:
    jsonschema.validate(RAW, BANK_SCHEMA)


def test_schema_refuses_a_broken_question() -> None:
    broken = json.loads(json.dumps(QUESTIONS[0]))
    broken["style"] = "essay"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 1, "questions": [broken]}, BANK_SCHEMA)
    fill = json.loads(json.dumps(next(q for q in QUESTIONS if q["style"] == "fill")))
    fill["answer"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 1, "questions": [fill]}, BANK_SCHEMA)


def test_ids_are_unique() -> None:
    ids = [q["id"] for q in QUESTIONS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_topics_are_the_ten_notebook_folders() -> None:
    assert TOPICS == NOTEBOOK_FOLDERS
    assert {q["topic"] for q in QUESTIONS} == set(NOTEBOOK_FOLDERS)


def test_counts() -> None:
    counts = {t: sum(q["topic"] == t for q in QUESTIONS) for t in NOTEBOOK_FOLDERS}
    print("questions per topic:", counts, "total:", len(QUESTIONS))
    assert len(QUESTIONS) >= 170
    for topic in NOTEBOOK_FOLDERS[1:9]:
        assert counts[topic] >= 12, (topic, counts[topic])
    assert counts["00-start-here"] >= 12
    styles = {s: sum(q["style"] == s for q in QUESTIONS) for s in ("single", "multiple", "fill")}
    assert all(n >= 10 for n in styles.values()), styles


@pytest.mark.parametrize("q", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_answers_fit_the_style(q: dict[str, Any]) -> None:
    if q["style"] == "single":
        assert 0 <= q["answer"] < len(q["choices"])
    elif q["style"] == "multiple":
        answer = q["answer"]
        assert answer == sorted(set(answer))
        assert all(0 <= i < len(q["choices"]) for i in answer)
        assert len(answer) < len(q["choices"]), "at least one choice must be wrong"
        assert re.search(r"Choose (all that apply|\w+)\.", q["question"]), \
            "a multiple-answer question says how many to choose"
    else:
        assert all(a.strip() == a and a for a in q["answer"])
    assert q["see"]["notebook"] in NOTEBOOK_FOLDERS


def test_objectives_label_official_and_depth() -> None:
    labels = {q["objective"] for q in QUESTIONS}
    assert labels == {"official", "depth"}


def _headings(notebook: str) -> set[str]:
    path = ROOT / "notebooks" / notebook / f"{notebook}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return {m.group(1).strip() for m in re.finditer(r"^#+\s+(.+)$", text, re.M)}


@pytest.mark.parametrize("notebook", NOTEBOOK_FOLDERS)
def test_see_pointers_name_real_sections(notebook: str) -> None:
    """Every pointer into a notebook of the course names one of its section headings."""
    if not (ROOT / "notebooks" / notebook / f"{notebook}.ipynb").exists():
        pytest.skip(f"{notebook} is not written yet")
    headings = _headings(notebook)
    wanted = {q["see"]["section"] for q in QUESTIONS if q["see"]["notebook"] == notebook}
    assert wanted <= headings, sorted(wanted - headings)


# --- named things carry checks -------------------------------------------------------------

_ABS_PATH = re.compile(r"(?<![\w<~.])(/[\w.@%-]+(?:/[\w.@%-]+)*/?)")
_COMMAND = re.compile(r"(?<![\w.-])(doveconf|doveadm|openssl|gnutls-cli|ss)(?![\w.-])"
                      r"(?: ([a-z][\w-]*))?")
_TOOLS = ("mkimapdcert", "mkpop3dcert", "maildirmake", "authtest", "authdaemond",
          "couriertcpd", "mkcert.sh")


def _answer_texts(q: dict[str, Any]) -> list[str]:
    if q["style"] == "single":
        return [q["choices"][q["answer"]]]
    if q["style"] == "multiple":
        return [q["choices"][i] for i in q["answer"]]
    return list(q["answer"])


@cache
def _setting_names() -> frozenset[str]:
    names: set[str] = set()
    for info in load_registry().infos.values():
        names.update(info.settings)
        names.update(info.lists)
        names.update(info.aliases)
    return frozenset(names)


def named_things(text: str) -> dict[str, set[str]]:
    """The settings, paths, commands and tools an answer text names."""
    settings = set()
    for word in re.findall(r"[a-z][a-z0-9_]*", text):
        if word in _setting_names() and ("_" in word or re.search(rf"\b{word}\s*=", text)):
            settings.add(word)
    return {
        "settings": settings,
        "paths": {p.rstrip("/") for p in _ABS_PATH.findall(text)},
        "commands": {f"{a} {b}".strip() if a == "doveadm" else a
                     for a, b in _COMMAND.findall(text)},
        "tools": {t for t in _TOOLS if re.search(rf"(?<![\w.]){re.escape(t)}", text)},
    }


def test_named_things_finds_what_an_answer_names() -> None:
    found = named_things("doveadm pw -s X, then ssl = required and ssl_min_protocol in "
                         "/etc/dovecot/conf.d/ via maildirmake; listen")
    assert found == {"settings": {"ssl", "ssl_min_protocol"},
                     "paths": {"/etc/dovecot/conf.d"},
                     "commands": {"doveadm pw"}, "tools": {"maildirmake"}}


@pytest.mark.parametrize("q", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_every_named_setting_command_and_path_carries_a_check(q: dict[str, Any]) -> None:
    checks = q["checks"]
    blob = json.dumps(checks)
    setting_names = {c["name"] for c in checks if c["kind"] in ("setting", "obsolete")}
    paths = {c["path"].rstrip("/") for c in checks if c["kind"] == "path"}
    commands = {" ".join(c["argv"][:2]) if c["argv"][0] == "doveadm" else c["argv"][0]
                for c in checks if c["kind"] == "command"}
    for text in _answer_texts(q):
        named = named_things(text)
        for name in named["settings"]:
            assert name in setting_names or f'"{name}"' in blob, f"{name} in {text!r}"
        for path in named["paths"]:
            assert path in paths or path in blob, f"{path} in {text!r}"
        for command in named["commands"]:
            assert any(c == command or c.startswith(command + " ") for c in commands), \
                f"{command} in {text!r}"
        for tool in named["tools"]:
            assert any(Path(p).name.startswith(tool) for p in paths), f"{tool} in {text!r}"


# --- the lab ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _temp_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="bank-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def _write_files(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        real = Path(PathResolver(root).real(path))
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(_hashes(text))


def _hashes(text: str) -> str:
    """``$HASH(pw)`` becomes a SHA512-CRYPT hash of pw, as /etc/shadow would hold it."""
    def crypt(match: re.Match[str]) -> str:
        return schemes.generate(match.group(1), "SHA512-CRYPT").split("}", 1)[1]
    return re.sub(r"\$HASH\(([^)]*)\)", crypt, text)


def _config_files(expr: dict[str, Any]) -> dict[str, str]:
    return expr["files"] if "files" in expr else {CONF: expr["config"]}


def _lab_doveconf(expr: dict[str, Any], *args: str) -> tuple[int, str, str]:
    with _temp_root() as root:
        _write_files(root, _config_files(expr))
        return _run_cli(["doveconf", "--root", str(root), "-c", CONF, *args])


def _printed_value(out: str, name: str) -> str:
    for line in out.splitlines():
        if line.startswith(f"{name} = ") or line == f"{name} =":
            return line.partition("=")[2].strip()
    raise AssertionError(f"doveconf printed no {name}: {out!r}")


def _mail_lab(root: Path, location: str) -> Lab:
    lab = Lab(DEFAULT_CONFIG.replace("mail_location = maildir:~/Maildir",
                                     f"mail_location = {location}"), root=root)
    lab.add_user("alice", "secret")
    return lab


@contextlib.contextmanager
def _delivered(location: str, message: str) -> Iterator[tuple[Path, Any]]:
    """A lab root where alice has the message, and the message as a session sees it."""
    with _temp_root() as root:
        lab = _mail_lab(root, location)
        lab.deliver("alice", message.encode())
        box = lab.storage("alice").open("INBOX")
        info = box.messages[0]
        box.close()
        yield root, info


def _maildir_file(root: Path) -> Path:
    (path,) = [p for sub in ("new", "cur") for p in (root / "home/alice/Maildir" / sub).iterdir()]
    return path


def _doveconf_args(expr: dict[str, Any]) -> list[str]:
    """``doveconf NAME`` prints a value as written; ``-n`` and ``-a`` hide secrets."""
    return [expr["mode"]] if "mode" in expr else [expr["name"]]


def v_doveconf_value(expr: dict[str, Any]) -> str:
    code, out, err = _lab_doveconf(expr, *_doveconf_args(expr))
    assert code == 0, err
    return _printed_value(out, expr["name"])


def v_doveconf_exit(expr: dict[str, Any]) -> int:
    return _lab_doveconf(expr, "-n")[0]


def v_doveconf_stderr_has(expr: dict[str, Any]) -> bool:
    return expr["text"] in _lab_doveconf(expr, "-n")[2]


def v_shipped_setting(expr: dict[str, Any]) -> str:
    """A value as Debian's packaged file sets it, read through the lab's doveconf."""
    require_program("doveconf", "dovecot-core")
    text = Path(expr["file"]).read_text(encoding="utf-8")
    return v_doveconf_value({"config": text, "name": expr["name"]})


def v_location(expr: dict[str, Any]) -> Any:
    location = parse_location(expr["location"], user=expr["user"], home=expr["home"] or None)
    return getattr(location, expr["field"])


def v_pop3_size(expr: dict[str, Any]) -> int:
    with _delivered(expr["location"], expr["message"]) as (_, info):
        return info.virtual_size


def v_stored_size(expr: dict[str, Any]) -> int:
    with _delivered(expr["location"], expr["message"]) as (root, info):
        if expr["location"].startswith("maildir:"):
            assert _maildir_file(root).stat().st_size == info.physical_size
        return info.physical_size


def v_virtual_size(expr: dict[str, Any]) -> int:
    return virtual_size(expr["message"].encode())


def v_maildir_sizes(expr: dict[str, Any]) -> dict[str, int]:
    with _delivered("maildir:~/Maildir", expr["message"]) as (root, _):
        name = _maildir_file(root).name
        return {key: int(value) for key, value in re.findall(r",([SW])=(\d+)", name)}


def v_pop3_size_from_name(expr: dict[str, Any]) -> int:
    with _delivered("maildir:~/Maildir", expr["message"]) as (root, _):
        path = _maildir_file(root)
        path.rename(path.with_name(re.sub(r",W=\d+", f",W={expr['w']}", path.name)))
        box = _mail_lab(root, "maildir:~/Maildir").storage("alice").open("INBOX")
        size = box.messages[0].virtual_size
        box.close()
        return size


def v_maildir_dirs(expr: dict[str, Any]) -> list[str]:
    with _delivered("maildir:~/Maildir", expr["message"]) as (root, _):
        maildir = root / "home/alice/Maildir"
        return sorted(p.name for p in maildir.iterdir() if p.is_dir() and p.name in
                      ("cur", "new", "tmp"))


def v_delivered_subdir(expr: dict[str, Any]) -> str:
    """Where a delivered file waits before any session has opened the folder."""
    with _temp_root() as root:
        _mail_lab(root, expr["location"]).deliver("alice", expr["message"].encode())
        return _maildir_file(root).parent.name


def v_mbox_from_line(expr: dict[str, Any]) -> bool:
    with _delivered("mbox:~/mail:INBOX=/var/mail/%u", expr["message"]) as (root, _):
        return (root / "var/mail/alice").read_bytes().startswith(b"From ")


def v_folder_path(expr: dict[str, Any]) -> str:
    with _temp_root() as root:
        storage = _mail_lab(root, expr["location"]).storage("alice")
        maildir = root / "home/alice/Maildir"
        maildir.mkdir(parents=True, exist_ok=True)
        before = set(os.listdir(maildir))
        storage.create(expr["folder"])
        (new,) = [n for n in set(os.listdir(maildir)) - before if expr["folder"] in n]
        return f"/home/alice/Maildir/{new}"


def v_listeners(expr: dict[str, Any]) -> list[str]:
    with _temp_root() as root:
        _write_files(root, {CONF: expr["config"]})
        config = load(CONF, root=str(root))
        specs = listener_specs(config, PortPolicy("exact"))
        return sorted({f"{s.name}:{s.configured_port}" for s in specs})


def v_advertised(expr: dict[str, Any]) -> list[str]:
    from labserver.auth.policy import advertised_mechanisms
    with _temp_root() as root:
        _write_files(root, {CONF: expr["config"]})
        _write_files(root, {"/etc/ssl/certs/dovecot.pem": "", "/etc/ssl/private/dovecot.pem": ""})
        config = load(CONF, root=str(root))
        return advertised_mechanisms(config, expr["secured"], "imap")


def v_mech_plaintext(expr: dict[str, Any]) -> bool:
    return MECH_RULES[expr["mechanism"]].plaintext


def v_credentials(expr: dict[str, Any]) -> str:
    wanted = MECH_RULES[expr["mechanism"]].credentials_scheme
    with _temp_root() as root:
        if expr.get("passdb") == "pam":
            lab = Lab("passdb {\n  driver = pam\n}\nuserdb {\n  driver = passwd\n}\n",
                      root=root)
            _write_files(root, {"/etc/passwd": "alice:x:1000:1000::/home/alice:/bin/sh\n",
                                "/etc/shadow": "alice:$HASH(secret):19000:0:99999:7:::\n",
                                "/etc/pam.d/dovecot": "auth required pam_unix.so\n"})
        else:
            lab = Lab(DEFAULT_CONFIG, root=root)
            lab.add_user("alice", "secret", scheme=expr["scheme"])
        auth = build(load(CONF, root=str(root)), str(root))
        return auth.lookup_credentials("alice", wanted, mech=expr["mechanism"]).result.name


def v_login(expr: dict[str, Any]) -> str:
    with _temp_root() as root:
        _write_files(root, expr["files"])
        auth = build(load(CONF, root=str(root)), str(root))
        result = auth.authenticate(expr["user"], expr["password"],
                                   service=expr.get("service", "imap"))
        return "success" if result.success else str(result.failure)


def v_pam(expr: dict[str, Any]) -> str:
    with _temp_root() as root:
        expire = str(expr.get("expire", ""))
        _write_files(root, {
            "/etc/passwd": "alice:x:1000:1000::/home/alice:/bin/sh\n",
            "/etc/shadow": f"alice:{expr['stored']}:19000:0:99999:7::{expire}:\n",
            "/etc/pam.d/dovecot": expr["stack"],
        })
        handle = PamHandle("dovecot", "alice", PathResolver(root), password=expr["password"])
        return getattr(handle, expr.get("call", "authenticate"))().name


def _mkcert(root: Path) -> int:
    _write_files(root, {"/etc/dovecot-openssl.cnf": OPENSSL_CNF})
    for sub in ("certs", "private"):
        (root / "etc/ssl" / sub).mkdir(parents=True, exist_ok=True)
    return certs.mkcert(root=str(root), opensslconfig="/etc/dovecot-openssl.cnf").exit_code


def v_mkcert_mode(expr: dict[str, Any]) -> str:
    with _temp_root() as root:
        if expr["which"] == "snakeoil-cert":
            certs.snakeoil(root=str(root), hostname="imap.example.com", days=3650)
            path = root / "etc/ssl/certs/ssl-cert-snakeoil.pem"
        else:
            assert _mkcert(root) == 0
            path = root / ("etc/ssl/private/dovecot.pem" if expr["which"] == "key"
                           else "etc/ssl/certs/dovecot.pem")
        return f"0{path.stat().st_mode & 0o777:o}"


def v_mkcert_days(expr: dict[str, Any]) -> int:
    from cryptography import x509
    with _temp_root() as root:
        assert _mkcert(root) == 0
        cert = x509.load_pem_x509_certificate((root / "etc/ssl/certs/dovecot.pem").read_bytes())
        return (cert.not_valid_after_utc - cert.not_valid_before_utc).days


def v_mkcert_twice(expr: dict[str, Any]) -> int:
    with _temp_root() as root:
        assert _mkcert(root) == 0
        return _mkcert(root)


def v_mkcert_key_encrypted(expr: dict[str, Any]) -> bool:
    with _temp_root() as root:
        assert _mkcert(root) == 0
        return b"ENCRYPTED" in (root / "etc/ssl/private/dovecot.pem").read_bytes()


def v_openssl_ciphers_kx(expr: dict[str, Any]) -> list[str]:
    openssl = require_program("openssl", "openssl")
    out = subprocess.run([openssl, "ciphers", "-v", expr["spec"]], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return sorted({kx for kx in re.findall(r"Kx=(\S+)", out) if kx != "any"})


VALUES: dict[str, Callable[[dict[str, Any]], Any]] = {
    name[2:]: fn for name, fn in globals().items() if name.startswith("v_")
}


def test_every_value_function_is_used() -> None:
    used = {c["expr"]["fn"] for _, c in _checks("value")}
    assert used == set(VALUES), (used ^ set(VALUES))


@_params("value")
def test_value(qid: str, check: dict[str, Any]) -> None:
    got = VALUES[check["expr"]["fn"]](check["expr"])
    assert got == check["equals"], f"{qid}: the lab computes {got!r}"


@_params("setting")
def test_setting_exists(qid: str, check: dict[str, Any]) -> None:
    registry = load_registry()
    info = registry.infos[check["section"]] if "section" in check else registry.root_info
    assert info.lookup(check["name"]) is not None, f"{qid}: unknown {check['name']}"


DEFAULTS = sorted({(c["name"], c["default"]) for _, c in _checks("setting") if "default" in c})


def test_defaults_are_what_lab_doveconf_prints() -> None:
    code, out, err = _lab_doveconf({"config": ""}, *[name for name, _ in DEFAULTS])
    assert code == 0, err
    assert {(n, _printed_value(out, n)) for n, _ in DEFAULTS} == set(DEFAULTS)


def test_defaults_are_what_real_doveconf_prints(tmp_path: Path) -> None:
    doveconf = require_program("doveconf", "dovecot-core")
    (tmp_path / "empty.conf").write_text("")
    out = subprocess.run([doveconf, "-c", str(tmp_path / "empty.conf"),
                          *[name for name, _ in DEFAULTS]],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert {(n, _printed_value(out, n)) for n, _ in DEFAULTS} == set(DEFAULTS)


@_params("obsolete")
def test_obsolete_in_the_lab(qid: str, check: dict[str, Any]) -> None:
    config = load(CONF, text=check["config"], strict=False)
    warnings = [w for w in config.warnings if "Obsolete setting" in w]
    assert any(check["name"] in w for w in warnings), warnings
    if "replacement" in check:
        assert any(check["replacement"] in w for w in warnings), warnings
    assert load_registry().root_info.lookup(check["name"]) is None


@_params("obsolete")
def test_obsolete_in_real_doveconf(qid: str, check: dict[str, Any], tmp_path: Path) -> None:
    doveconf = require_program("doveconf", "dovecot-core")
    (tmp_path / "old.conf").write_text(check["config"])
    err = subprocess.run([doveconf, "-n", "-c", str(tmp_path / "old.conf")],
                         capture_output=True, text=True, timeout=30).stderr
    lines = [line for line in err.splitlines() if "Obsolete setting" in line]
    assert any(check["name"] in line for line in lines), err
    if "replacement" in check:
        assert any(check["replacement"] in line for line in lines), err


DOVECONF_VALUES = [(qid, c) for qid, c in _checks("value")
                   if c["expr"]["fn"] in ("doveconf_value", "doveconf_exit",
                                          "doveconf_stderr_has")]


@pytest.mark.parametrize(("qid", "check"), DOVECONF_VALUES, ids=_ids(DOVECONF_VALUES))
def test_doveconf_values_agree_with_real_doveconf(qid: str, check: dict[str, Any],
                                                  tmp_path: Path) -> None:
    doveconf = require_program("doveconf", "dovecot-core")
    expr = check["expr"]
    for path, text in _config_files(expr).items():
        assert path.startswith("/etc/dovecot/"), "real doveconf reads only files in its folder"
        real = tmp_path / path.removeprefix("/etc/dovecot/")
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(text)
    args = _doveconf_args(expr) if expr["fn"] == "doveconf_value" else ["-n"]
    result = subprocess.run([doveconf, "-c", str(tmp_path / "dovecot.conf"), *args],
                            capture_output=True, text=True, timeout=30)
    got: Any = {"doveconf_exit": result.returncode,
                "doveconf_stderr_has": expr.get("text", "") in result.stderr,
                }.get(expr["fn"])
    if expr["fn"] == "doveconf_value":
        got = _printed_value(result.stdout, expr["name"])
    assert got == check["equals"], result.stderr


@pytest.fixture(scope="module")
def command_root() -> Iterator[Path]:
    with _temp_root() as root:
        Lab(DEFAULT_CONFIG, root=root).add_user("alice", "secret")
        yield root


@_params("command")
def test_command_runs(qid: str, check: dict[str, Any], command_root: Path) -> None:
    program, *args = check["argv"]
    assert program in (*LAB_PROGRAMS, *OUTSIDE_PROGRAMS), f"{program} is not a known program"
    if program in ("doveconf", "doveadm"):
        code, _, err = _run_cli([program, "--root", str(command_root), *args])
    elif program == "mkcert":
        with _temp_root() as root:
            code, err = _mkcert(root), ""
    else:
        path = require_program(program, OUTSIDE_PROGRAMS[program])
        result = subprocess.run([path, *args], capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
        code, err = result.returncode, result.stderr
    assert code == 0, f"{check['argv']}: exit {code}\n{err}"


@cache
def _dpkg_files(*packages: str) -> frozenset[str]:
    dpkg = require_program("dpkg-query", "dpkg")
    out = subprocess.run([dpkg, "-L", *packages], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return frozenset(out.split())


def _installed(package: str) -> bool:
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return False
    result = subprocess.run([dpkg, "-W", "-f", "${Status}", package], capture_output=True,
                            text=True, timeout=30)
    return result.returncode == 0 and "installed" in result.stdout.split()


@cache
def _apt_records() -> dict[str, str]:
    """``apt-cache show`` for every package the bank names, asked once (it is slow)."""
    apt_cache = require_program("apt-cache", "apt")
    names = sorted({c["package"] for _, c in _checks("path") if "package" in c}
                   | {c["name"] for _, c in _checks("debian-package")})
    out = subprocess.run([apt_cache, "show", "--no-all-versions", *names],
                         capture_output=True, text=True, timeout=120).stdout
    records = {}
    for record in out.split("\n\n"):
        match = re.match(r"Package: (\S+)", record)
        if match:
            records[match.group(1)] = record + "\n"
    return records


def _apt_show(package: str) -> str:
    records = _apt_records()
    if package not in records:
        if not os.environ.get("CI") and not any(Path("/var/lib/apt/lists").glob("*Packages*")):
            pytest.skip("no package lists (apt-get update has not run)")
        pytest.fail(f"no Debian package {package}")
    return records[package]


@_params("path")
def test_path(qid: str, check: dict[str, Any]) -> None:
    path = check["path"].rstrip("/")
    source = check.get("source", "dpkg")
    if source in ("mkcert", "snakeoil"):
        with _temp_root() as root:
            if source == "mkcert":
                assert _mkcert(root) == 0
            else:
                certs.snakeoil(root=str(root), hostname="imap.example.com", days=3650)
            assert os.path.lexists(PathResolver(root).real(path))
    elif "package" in check:
        if _installed(check["package"]):
            assert path in _dpkg_files(check["package"])
        else:
            _apt_show(check["package"])
    else:
        files = _dpkg_files("dovecot-core", "dovecot-imapd", "dovecot-pop3d")
        shipped = path.replace("/etc/dovecot/", "/usr/share/dovecot/", 1)
        assert path in files or shipped in files, f"{path} is not in Dovecot's packages"


@_params("debian-package")
def test_debian_package(qid: str, check: dict[str, Any]) -> None:
    info = _apt_show(check["name"])
    if "summary" in check:
        assert f"Description: {check['summary']}\n" in info or \
            f"Description-en: {check['summary']}\n" in info


def test_bank_loads_as_questions() -> None:
    bank = load_bank()
    assert [q.id for q in bank] == [q["id"] for q in QUESTIONS]
    assert all(BY_ID[q.id]["answer"] == (list(q.answer) if isinstance(q.answer, tuple)
                                         else q.answer) for q in bank)
