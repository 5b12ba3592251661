"""Typed values: Dovecot's parsing rules and canonical printing."""

import pytest

from labserver.config import values


@pytest.mark.parametrize("text,expected", [("yes", True), ("Y", True), ("1", True),
                                           ("NO", False), ("no", False)])
def test_bool_spellings(text: str, expected: bool) -> None:
    assert values.parse_bool(text) is expected


@pytest.mark.parametrize("text", ["true", "0", "", "yess"])
def test_bool_errors_in_dovecots_words(text: str) -> None:
    with pytest.raises(ValueError, match=r"^Invalid boolean value: .* \(use yes or no\)$"):
        values.parse_bool(text)


@pytest.mark.parametrize("text,secs", [("2s", 2), ("2 secs", 2), ("1 min", 60),
                                       ("1500 msecs", None), ("2000 ms", 2), ("1h", 3600),
                                       ("1 weeks", 604800), ("0", 0)])
def test_time(text: str, secs: int | None) -> None:
    if secs is None:
        with pytest.raises(ValueError, match="Milliseconds not supported"):
            values.parse_time(text)
    else:
        assert values.parse_time(text) == secs


def test_time_needs_units() -> None:
    with pytest.raises(ValueError, match="is missing units"):
        values.parse_time("30")
    assert values.parse_time("1500 ms", milliseconds=True) == 1500


@pytest.mark.parametrize("text,size", [("1024k", 1024 * 1024), ("1 M", 1 << 20), ("10", 10),
                                       ("2GiB", 2 << 30), ("0", 0)])
def test_size(text: str, size: int) -> None:
    assert values.parse_size(text) == size


@pytest.mark.parametrize("secs,text", [(0, "0"), (2, "2 secs"), (60, "1 mins"),
                                       (3600, "1 hours"), (86400 * 14, "2 weeks"),
                                       (90, "90 secs")])
def test_format_time(secs: int, text: str) -> None:
    assert values.format_time(secs) == text


@pytest.mark.parametrize("size,text", [(0, "0"), (1024, "1 k"), (1 << 20, "1 M"),
                                       (1000, "1000 B"), (2**64 - 1, "18446744073709551615 B")])
def test_format_size(size: int, text: str) -> None:
    assert values.format_size(size) == text


def test_numbers_and_ports() -> None:
    assert values.parse_uint("0010") == 10
    with pytest.raises(ValueError, match="^Invalid number 99999999999: Number too large$"):
        values.parse_uint("99999999999")
    with pytest.raises(ValueError, match="^Invalid number -1: Number too small$"):
        values.parse_uint("-1")
    assert values.parse_uint_oct("0660") == 0o660
    with pytest.raises(ValueError, match="^Invalid number: 08$"):
        values.parse_uint_oct("08")
    assert values.parse_port("0") == 0
    with pytest.raises(ValueError, match="^Invalid port number 70000$"):
        values.parse_port("70000")
