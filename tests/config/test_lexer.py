"""The line reader: comments, quoting, continuation and section lines."""

from labserver.config.lexer import LineReader, LineType, split_line


def tokens(*lines: str) -> list[tuple[LineType, str, str, bool]]:
    reader = LineReader()
    out = []
    for line in lines:
        tok = reader.feed(line)
        if tok.type not in (LineType.SKIP, LineType.CONTINUE):
            out.append((tok.type, tok.key, tok.value, tok.ambiguous_hash))
    return out


def test_key_value_forms() -> None:
    assert split_line("a = b c").value == "b c"
    assert split_line("a=b").key == "a"
    assert split_line('a = "x # y"').value == "x # y"
    assert split_line(r'a = "q\"uote\\"').value == 'q"uote\\'
    assert split_line("a = <  /etc/f").type is LineType.KEYFILE
    assert split_line("a = <  /etc/f").value == "/etc/f"
    assert split_line("a = $a b").type is LineType.KEYVARIABLE
    assert split_line("a = '$a b'").type is LineType.KEYVALUE


def test_sections() -> None:
    assert split_line("service imap {").value == "imap"
    assert split_line('mailbox "Sent Messages" {').value == "Sent Messages"
    assert split_line("passdb {").type is LineType.SECTION_BEGIN
    assert split_line("}").type is LineType.SECTION_END
    assert split_line("mail_location").value == "Expecting '{'"
    assert split_line("service imap { x").value == "Garbage after '{'"


def test_comments_and_ambiguous_hash() -> None:
    assert tokens("# only a comment", "a = b # comment") == [
        (LineType.KEYVALUE, "a", "b", False)]
    assert tokens("a = b#c") == [(LineType.KEYVALUE, "a", "b", True)]


def test_continuation_joins_lines_and_blank_line_drops_it() -> None:
    assert tokens("a = one \\", "  two") == [(LineType.KEYVALUE, "a", "one two", False)]
    assert tokens("a = one \\", "", "b = 2") == [(LineType.KEYVALUE, "b", "2", False)]


def test_includes() -> None:
    assert split_line("!include conf.d/*.conf").type is LineType.INCLUDE
    assert split_line("!include_try local.conf").type is LineType.INCLUDE_TRY
