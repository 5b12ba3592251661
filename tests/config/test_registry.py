"""Invariants of the Dovecot 2.3.19 settings registry, and a comparison with
the real `doveconf -a` output when doveconf is installed."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.tools import require_program

REGISTRY_PATH = (
    Path(__file__).resolve().parents[2] / "labserver" / "config" / "settings-2.3.19.json"
)
TYPES = {
    "bool",
    "uint",
    "uint_oct",
    "time",
    "time_msecs",
    "size",
    "in_port",
    "str",
    "str_vars",
    "enum",
}
LIST_KINDS = {"deflist", "deflist_unique", "strlist"}
# Dovecot 2.3.19.1 declares 324 global settings (doveconf -a -s prints 321 of
# them; three have a NULL default and are never printed).
MIN_ROOT_SETTINGS = 300


@pytest.fixture(scope="module")
def registry() -> dict:
    with REGISTRY_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


# ---------------------------------------------------------------------------
# static invariants
# ---------------------------------------------------------------------------


def test_file_is_canonical_json() -> None:
    text = REGISTRY_PATH.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=1) + "\n"


def test_top_level_shape(registry: dict) -> None:
    assert registry["version"] == "2.3.19.1"
    assert registry["root"] == "root"
    assert registry["root"] in registry["infos"]
    assert set(registry["default_lists"]) == {"service"}


def test_expected_infos_present(registry: dict) -> None:
    expected = {
        "root",
        "service",
        "inet_listener",
        "unix_listener",
        "fifo_listener",
        "namespace",
        "mailbox",
        "passdb",
        "userdb",
        "metric",
        "event_exporter",
    }
    assert expected <= set(registry["infos"])


def test_root_size(registry: dict) -> None:
    assert len(registry["infos"]["root"]["settings"]) >= MIN_ROOT_SETTINGS


def test_setting_entries(registry: dict) -> None:
    for name, info in registry["infos"].items():
        assert set(info) >= {"settings", "lists", "unique_key", "order"}, name
        for key, ent in info["settings"].items():
            where = f"{name}/{key}"
            assert ent["type"] in TYPES, where
            assert set(ent) <= {"type", "default", "values", "hidden"}, where
            assert ent["default"] is None or isinstance(ent["default"], str), where
            if ent["type"] == "enum":
                assert ent["values"], where
                assert ent["default"] == ent["values"][0], where
                assert len(set(ent["values"])) == len(ent["values"]), where
            else:
                assert "values" not in ent, where
            if "hidden" in ent:
                assert ent["hidden"] is True, where
            if ent["default"] is None:
                # only strings can have a NULL default
                assert ent["type"] in ("str", "str_vars"), where


def test_default_formats(registry: dict) -> None:
    patterns = {
        "bool": r"yes|no",
        "uint": r"\d+",
        "uint_oct": r"0[0-7]*",
        "in_port": r"\d+",
        "size": r"0|\d+ [BkMGT]",
        "time": r"0|\d+ (secs|mins|hours|days|weeks)",
        "time_msecs": r"0|\d+ ms|\d+ (secs|mins|hours|days|weeks)",
    }
    for name, info in registry["infos"].items():
        for key, ent in info["settings"].items():
            pat = patterns.get(ent["type"])
            if pat is not None:
                assert re.fullmatch(pat, ent["default"]), f"{name}/{key}: {ent['default']!r}"


def test_lists_point_at_infos(registry: dict) -> None:
    infos = registry["infos"]
    for name, info in infos.items():
        for kw, lst in info["lists"].items():
            assert lst["kind"] in LIST_KINDS, f"{name}/{kw}"
            assert kw not in info["settings"], f"{name}/{kw}"
            if lst["kind"] == "strlist":
                assert lst["info"] is None, f"{name}/{kw}"
            else:
                assert lst["info"] in infos, f"{name}/{kw}"
                assert lst["info"] == kw, f"{name}/{kw}"


def test_unique_keys(registry: dict) -> None:
    infos = registry["infos"]
    assert infos["root"]["unique_key"] is None
    for info in infos.values():
        for kw, lst in info["lists"].items():
            if lst["kind"] == "deflist_unique":
                uk = infos[lst["info"]]["unique_key"]
                assert uk is not None and uk in infos[lst["info"]]["settings"], kw
    assert infos["service"]["unique_key"] == "name"
    assert infos["unix_listener"]["unique_key"] == "path"
    assert infos["inet_listener"]["unique_key"] == "name"
    assert infos["namespace"]["unique_key"] == "name"
    assert infos["mailbox"]["unique_key"] == "name"


def test_order_covers_settings_and_lists(registry: dict) -> None:
    for name, info in registry["infos"].items():
        order = info["order"]
        assert len(order) == len(set(order)), name
        assert set(order) == set(info["settings"]) | set(info["lists"]), name


def test_aliases_point_at_settings(registry: dict) -> None:
    for name, info in registry["infos"].items():
        for alias, target in info.get("aliases", {}).items():
            assert alias not in info["settings"], f"{name}/{alias}"
            assert target in info["settings"], f"{name}/{alias}"


def _check_default_section(registry: dict, kw: str, sect: dict) -> None:
    info = registry["infos"][kw]
    assert set(sect["settings"]) == set(info["settings"]), f"{kw} {sect['name']}"
    assert sect["settings"][info["unique_key"]] == sect["name"]
    for sub_kw, subs in sect.get("lists", {}).items():
        assert info["lists"][sub_kw]["kind"] != "strlist"
        for sub in subs:
            _check_default_section(registry, info["lists"][sub_kw]["info"], sub)


def test_default_services_shape(registry: dict) -> None:
    services = registry["default_lists"]["service"]
    names = [s["name"] for s in services]
    assert len(names) == len(set(names))
    assert {"imap-login", "imap", "auth", "config", "log", "anvil"} <= set(names)
    for svc in services:
        _check_default_section(registry, "service", svc)


# ---------------------------------------------------------------------------
# comparison with the installed doveconf
# ---------------------------------------------------------------------------


def _doveconf() -> str:
    return require_program("doveconf", "dovecot-core")


def _doveconf_dump(tmp_path: Path, *flags: str) -> str:
    conf = tmp_path / "dovecot.conf"
    conf.write_text("", encoding="utf-8")
    res = subprocess.run(
        [_doveconf(), "-a", "-P", *flags, "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def _printed(value: str) -> str:
    """How doveconf's human output writes a value (see value_need_quote())."""
    if value and ("#" in value or value[0] in " \t" or value[-1] in " \t"):
        return '"' + re.sub(r"([\"'\\])", r"\\\1", value) + '"'
    return value


def _parse(text: str) -> dict:
    """Tree of a doveconf dump: {"settings": {k: raw printed value},
    "sections": [(keyword, name, subtree)]}."""
    root: dict = {"settings": {}, "sections": []}
    stack = [root]
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s == "}":
            stack.pop()
            continue
        if s.endswith("{") and " = " not in s:
            kw, _, name = s[:-1].strip().partition(" ")
            node: dict = {"settings": {}, "sections": []}
            name = name.strip()
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = re.sub(r"\\(.)", r"\1", name[1:-1])
            stack[-1]["sections"].append((kw, name, node))
            stack.append(node)
            continue
        key, sep, value = s.partition(" = ")
        if not sep:
            key, value = s.rstrip("= ").rstrip(), ""
        stack[-1]["settings"][key] = line.split(" = ", 1)[1] if sep else value
    assert len(stack) == 1
    return root


def _expected_global(registry: dict, with_hidden: bool) -> dict[str, str]:
    out = {}
    for key, ent in registry["infos"]["root"]["settings"].items():
        if ent["default"] is None or (ent.get("hidden") and not with_hidden):
            continue
        out[key] = _printed(ent["default"])
    return out


@pytest.mark.parametrize("with_hidden", [False, True], ids=["a", "a-s"])
def test_global_defaults_match_doveconf(registry: dict, tmp_path: Path, with_hidden: bool) -> None:
    dump = _parse(_doveconf_dump(tmp_path, *(["-s"] if with_hidden else [])))
    expected = _expected_global(registry, with_hidden)
    got = dump["settings"]
    mismatched = {
        k: (got[k], expected[k]) for k in got.keys() & expected.keys() if got[k] != expected[k]
    }
    assert not mismatched
    assert sorted(got.keys() - expected.keys()) == []
    assert sorted(expected.keys() - got.keys()) == []


def _section_as_registry(registry: dict, kw: str, name: str, node: dict) -> dict:
    info = registry["infos"][kw]
    settings = {k: v for k, v in node["settings"].items()}
    settings[info["unique_key"]] = name
    lists: dict[str, list] = {k: [] for k, v in info["lists"].items() if v["kind"] != "strlist"}
    for skw, sname, snode in node["sections"]:
        lists.setdefault(skw, []).append(_section_as_registry(registry, skw, sname, snode))
    res: dict = {"name": name, "settings": settings}
    if lists:
        res["lists"] = lists
    return res


def test_default_services_match_doveconf(registry: dict, tmp_path: Path) -> None:
    dump = _parse(_doveconf_dump(tmp_path))
    got = [
        _section_as_registry(registry, kw, name, node)
        for kw, name, node in dump["sections"]
        if kw == "service"
    ]
    expected = []
    for svc in registry["default_lists"]["service"]:
        svc = json.loads(json.dumps(svc))

        def printed(sect: dict) -> None:
            sect["settings"] = {
                k: _printed(v) for k, v in sect["settings"].items() if v is not None
            }
            for subs in sect.get("lists", {}).values():
                for sub in subs:
                    printed(sub)

        printed(svc)
        expected.append(svc)
    key = lambda s: s["name"]  # noqa: E731
    assert [s["name"] for s in sorted(got, key=key)] == [
        s["name"] for s in sorted(expected, key=key)
    ]
    for g, e in zip(sorted(got, key=key), sorted(expected, key=key), strict=True):
        assert g == e, g["name"]


def test_no_unexpected_global_sections(registry: dict, tmp_path: Path) -> None:
    dump = _parse(_doveconf_dump(tmp_path))
    for kw, _name, _node in dump["sections"]:
        assert kw in registry["infos"]["root"]["lists"], kw
