"""ui/literal_text.py: user text is escaped so that no markdown construct can start in it.

A reader's view is the text with the escapes resolved (tests/conftest.py as_read); the browser test in
tests/test_bad_input.py checks the rendered page for headings, lists, links and emphasis.
"""

import string

import pytest
from conftest import as_read

from ui.literal_text import WORD_JOINER, literal_text

NAMES = [
    "# Heading.png",
    "1986. A good year.png",
    "- bullet.png",
    "a&lt;b&gt;.png",
    "see https://example.com/x for it.png",
    "www.example.com.png",
    "me@example.com.png",
    "   three leading spaces.png",
    "trailing  spaces  .png",
    "**not bold** $x$ :red[no] `code` [link](https://a.b) <b>html</b>.png",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_reader_sees_the_text_exactly(name):
    assert as_read(literal_text(name)) == name


@pytest.mark.parametrize("name", NAMES)
def test_every_punctuation_character_is_escaped(name):
    escaped = literal_text(name)
    for i, character in enumerate(escaped):
        if character in string.punctuation and character != "\\":
            assert escaped[i - 1] == "\\", (name, escaped)


def test_link_starts_are_broken_by_an_invisible_word_joiner():
    assert "https\\:" + WORD_JOINER in literal_text("https://example.com")
    assert "www" + WORD_JOINER + "\\." in literal_text("www.example.com")
    assert WORD_JOINER + "\\@" in literal_text("me@example.com")


def test_spaces_markdown_would_drop_become_no_break_spaces():
    assert literal_text("  a b  c ") == "\u00a0\u00a0a b\u00a0\u00a0c\u00a0"
