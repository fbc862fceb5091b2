"""summary(): one line of at most `limit` characters, cut at a word, for link previews and
the feed."""

import pytest

from petitions.text import summary


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Short enough.", 200, "Short enough."),
        ("  Lines\n\nand   spaces\tcollapse ", 200, "Lines and spaces collapse"),
        ("one two three four five", 12, "one two…"),
        ("one two, three", 10, "one two…"),
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"),
        ("", 200, ""),
        (None, 200, ""),
    ],
)
def test_summary(text, limit, expected):
    assert summary(text, limit) == expected


def test_summary_is_never_longer_than_the_limit():
    text = "Кыргызстан " * 100
    for limit in (10, 50, 200):
        assert len(summary(text, limit)) <= limit
