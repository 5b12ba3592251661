"""The dependency files agree with each other.

Four files name the course's dependencies, and they drift apart silently unless checked:

- requirements.txt: the direct runtime dependencies, pinned exactly;
- requirements-test.txt: the direct test dependencies, pinned exactly;
- constraints.txt: the full freeze that `make lock` produces; every pin above must be in it;
- environment.yml: Binder/conda; its pip list must hold exactly the runtime pins.

pyproject.toml names the same packages with ranges, which the pins must satisfy.

environment.yml is read by a small parser for the plain YAML it is written in (block
mappings and sequences of plain or quoted scalars). Anything fancier is refused rather
than guessed at, and where PyYAML is installed the two readings are compared.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "mailbox-access-lab"
LOCAL_PROJECT_ENTRIES = {"-e .", "."}


# --- requirements files -------------------------------------------------------------------

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


def parse_pins(text: str, source: str = "<text>") -> dict[str, tuple[str, str]]:
    """Map canonical name -> (name as written, version) for a file of `name==version` lines.

    Blank lines and comments are allowed; any other line is an error, because every
    dependency in these files must be pinned exactly.
    """
    pins: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        if match is None:
            raise ValueError(f"{source}:{number}: not an exact pin (name==version): {raw!r}")
        key = canonicalize_name(match["name"])
        if key in pins:
            raise ValueError(f"{source}:{number}: {match['name']} is pinned twice")
        pins[key] = (match["name"], match["version"])
    return pins


def read_pins(filename: str) -> dict[str, tuple[str, str]]:
    path = ROOT / filename
    return parse_pins(path.read_text(encoding="utf-8"), filename)


# --- a reader for the plain YAML of environment.yml ----------------------------------------

_KEY = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_.-]*):(?:\s+(?P<value>.*))?$")
_UNSUPPORTED_START = tuple("{[&*|>!%@`")


class YamlSubsetError(ValueError):
    """The text uses YAML beyond the plain subset this reader understands."""


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(line number, indent, content) for each line that is not blank or a comment."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlSubsetError(f"line {number}: tab in indentation")
        content = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not content.strip():
            continue
        if content.strip() in ("---", "..."):
            raise YamlSubsetError(f"line {number}: document markers are not supported")
        indent = len(content) - len(content.lstrip(" "))
        lines.append((number, indent, content.strip()))
    return lines


def _scalar(text: str, number: int) -> str:
    if text.startswith(_UNSUPPORTED_START):
        raise YamlSubsetError(f"line {number}: unsupported YAML value {text!r}")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text[0] in "'\"":
        raise YamlSubsetError(f"line {number}: unterminated quote in {text!r}")
    return text


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


class _Reader:
    def __init__(self, text: str) -> None:
        self.lines = _logical_lines(text)
        self.i = 0

    def _peek(self) -> tuple[int, int, str] | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def document(self) -> object:
        if not self.lines:
            return None
        value = self._block(self.lines[0][1])
        if self.i < len(self.lines):
            number = self.lines[self.i][0]
            raise YamlSubsetError(f"line {number}: inconsistent indentation")
        return value

    def _block(self, indent: int) -> object:
        line = self._peek()
        assert line is not None
        return self._sequence(indent) if _is_item(line[2]) else self._mapping(indent)

    def _child(self, indent: int, allow_indentless: bool) -> object:
        """The block after `key:` (deeper, or a sequence at the key's own indent)."""
        line = self._peek()
        if line is None:
            return None
        if line[1] > indent:
            return self._block(line[1])
        if allow_indentless and line[1] == indent and _is_item(line[2]):
            return self._sequence(indent)
        return None

    def _mapping(self, indent: int) -> dict[str, object]:
        result: dict[str, object] = {}
        while (line := self._peek()) is not None and line[1] == indent and not _is_item(line[2]):
            number, _, content = line
            match = _KEY.match(content)
            if match is None:
                raise YamlSubsetError(f"line {number}: expected 'key: value', got {content!r}")
            key = match["key"]
            if key in result:
                raise YamlSubsetError(f"line {number}: duplicate key {key!r}")
            self.i += 1
            value = match["value"]
            result[key] = (
                _scalar(value, number) if value else self._child(indent, allow_indentless=True)
            )
        return result

    def _sequence(self, indent: int) -> list[object]:
        items: list[object] = []
        while (line := self._peek()) is not None and line[1] == indent and _is_item(line[2]):
            number, _, content = line
            rest = content[1:].strip()
            if not rest:
                raise YamlSubsetError(f"line {number}: an item must be on the dash's line")
            self.i += 1
            match = _KEY.match(rest)
            if match is None:
                items.append(_scalar(rest, number))
            elif match["value"]:
                items.append({match["key"]: _scalar(match["value"], number)})
            else:
                items.append({match["key"]: self._child(indent, allow_indentless=False)})
        return items


def parse_simple_yaml(text: str) -> object:
    """Read block-style YAML made of mappings, sequences and plain or quoted scalars.

    Scalars stay strings (no numbers or booleans). Mappings inside a sequence item may
    have only one key, which is all environment.yml needs (`- pip:`).
    """
    return _Reader(text).document()


def load_environment() -> dict[str, object]:
    data = parse_simple_yaml((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict), "environment.yml must be a mapping"
    return data


def environment_pip_entries(env: dict[str, object]) -> list[str]:
    pip_lists = [
        item["pip"]
        for item in env.get("dependencies") or []
        if isinstance(item, dict) and "pip" in item
    ]
    assert len(pip_lists) == 1, "environment.yml needs exactly one `- pip:` list"
    (entries,) = pip_lists
    assert isinstance(entries, list) and all(isinstance(e, str) for e in entries)
    return entries


# --- the parser itself --------------------------------------------------------------------


def test_simple_yaml_reads_the_subset():
    text = (
        "# comment\n"
        "name: demo  # trailing comment\n"
        "channels:\n"
        "- conda-forge\n"  # a sequence at the key's own indent
        "dependencies:\n"
        "  - python=3.11\n"
        "  - 'pip'\n"
        "  - pip:\n"
        "      - foo==1.0\n"
        "      - -e .\n"
        "  - tail\n"
    )
    assert parse_simple_yaml(text) == {
        "name": "demo",
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11", "pip", {"pip": ["foo==1.0", "-e ."]}, "tail"],
    }


@pytest.mark.parametrize(
    "text",
    [
        "channels: [conda-forge]\n",
        "a: 1\n  b: 2\n",
        "a:\n  - x\n b: 2\n",
        "a: 1\na: 2\n",
        "a: &anchor x\n",
        "a: |\n  text\n",
        "a:\n\t- x\n",
        "- \n",
    ],
)
def test_simple_yaml_refuses_what_it_does_not_understand(text):
    with pytest.raises(YamlSubsetError):
        parse_simple_yaml(text)


def test_simple_yaml_agrees_with_pyyaml_on_environment_yml():
    yaml = pytest.importorskip("yaml")
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert parse_simple_yaml(text) == yaml.safe_load(text)


# --- the files ----------------------------------------------------------------------------


def test_requirement_files_hold_only_exact_pins():
    for filename in ("requirements.txt", "requirements-test.txt", "constraints.txt"):
        assert read_pins(filename), f"{filename} pins nothing"


def test_environment_yml_is_python_311_from_conda_forge():
    env = load_environment()
    assert env.get("name")
    assert env.get("channels") == ["conda-forge"]
    dependencies = env.get("dependencies")
    assert isinstance(dependencies, list)
    assert "python=3.11" in dependencies
    assert "pip" in dependencies


def test_environment_yml_pip_pins_are_exactly_requirements_txt():
    entries = environment_pip_entries(load_environment())
    local = [e for e in entries if e in LOCAL_PROJECT_ENTRIES]
    assert len(local) == 1, "environment.yml must install the project itself once (-e . or .)"
    pins = [e for e in entries if e not in LOCAL_PROJECT_ENTRIES]
    env_pins = parse_pins("\n".join(pins), "environment.yml")
    requirements = read_pins("requirements.txt")
    assert env_pins == requirements, (
        "environment.yml and requirements.txt must pin the same packages, spelled alike, "
        "at the same versions"
    )


@pytest.mark.parametrize("filename", ["requirements.txt", "requirements-test.txt"])
def test_pins_agree_with_constraints(filename):
    constraints = read_pins("constraints.txt")
    for key, (name, version) in read_pins(filename).items():
        assert key in constraints, f"{name} ({filename}) is missing from constraints.txt"
        locked = constraints[key][1]
        assert locked == version, (
            f"{name}: {filename} pins {version}, constraints.txt {locked}; run `make lock`"
        )


def test_constraints_do_not_include_the_project_itself():
    assert canonicalize_name(PROJECT) not in read_pins("constraints.txt")


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.mark.parametrize(
    ("filename", "extract"),
    [
        ("requirements.txt", lambda project: project["dependencies"]),
        ("requirements-test.txt", lambda project: project["optional-dependencies"]["test"]),
    ],
)
def test_pyproject_ranges_name_the_pinned_packages_and_admit_the_pins(filename, extract):
    ranges = {canonicalize_name(r.name): r for r in map(Requirement, extract(_pyproject()))}
    pins = read_pins(filename)
    assert set(ranges) == set(pins), f"pyproject.toml and {filename} name different packages"
    for key, (name, version) in pins.items():
        assert ranges[key].specifier.contains(version, prereleases=True), (
            f"{name}=={version} ({filename}) is outside pyproject's {ranges[key]}"
        )


def test_running_environment_matches_constraints():
    """The venv that runs the tests is the locked one (`make` installs with -c constraints.txt)."""
    wrong = []
    for _, (name, version) in sorted(read_pins("constraints.txt").items()):
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong.append(f"{name}: locked {version}, installed {installed}")
    assert not wrong, "environment out of date (rerun make):\n" + "\n".join(wrong)
