"""Text people type: normalised to one form, refused if it holds bytes we must not store, and
shown as escaped paragraphs."""

import unicodedata

import pytest
from markupsafe import Markup

from petitions.text import bad_character, normalise, paragraphs

# Kyrgyz and Russian letters written decomposed, as some keyboards and copy-paste produce them.
DECOMPOSED_YO = "е\u0308"  # е + combining diaeresis = ё
DECOMPOSED_I_SHORT = "и\u0306"  # и + combining breve = й


# --- normalise -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("  Айбек  ", "Айбек"),
        ("\tтекст\n", "текст"),
        # NFC: the composed letter, whatever the keyboard sent.
        (f"{DECOMPOSED_YO}лка", "ёлка"),
        (f"Кыргызстан жана Бишкек{DECOMPOSED_I_SHORT}", "Кыргызстан жана Бишкекй"),
        ("Chu\u0308y Avenue", "Chüy Avenue"),
        ("e\u0301lise", "élise"),
        # Already composed text is unchanged, Kyrgyz letters included.
        ("Жогорку Кеңеш, өкмөт, үй", "Жогорку Кеңеш, өкмөт, үй"),
        # NFC, not NFKC: full-width letters and ligatures are what the person wrote.
        ("ｆｕｌｌ ﬁ", "ｆｕｌｌ ﬁ"),
        # Single-line fields: inner spacing is left alone.
        ("a  b", "a  b"),
    ],
)
def test_normalise(typed, expected):
    assert normalise(typed) == expected


def test_normalise_is_nfc():
    value = normalise(f"{DECOMPOSED_YO} {DECOMPOSED_I_SHORT} Chu\u0308y")
    assert unicodedata.is_normalized("NFC", value)
    assert value == "ё й Chüy"


def test_normalise_is_idempotent():
    once = normalise(f"  {DECOMPOSED_YO}\r\nb  \r\n\r\nc ", multiline=True)
    assert normalise(once, multiline=True) == once


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # Windows and old Mac newlines become \n.
        ("first\r\nsecond", "first\nsecond"),
        ("first\rsecond", "first\nsecond"),
        ("first\r\n\r\nsecond", "first\n\nsecond"),
        # Trailing spaces of every line go; indentation stays.
        ("first   \n  second\t\n", "first\n  second"),
        # Outer blank lines go, inner ones stay.
        ("\n\n  \nfirst\n\n\nsecond\n \n", "first\n\n\nsecond"),
        ("Бишкек\r\n\r\nОш", "Бишкек\n\nОш"),
    ],
)
def test_normalise_multiline(typed, expected):
    assert normalise(typed, multiline=True) == expected


def test_normalise_single_line_unifies_newlines_too():
    """A stray newline in a single-line field is then refused by bad_character."""
    value = normalise("title\r\nmore")
    assert value == "title\nmore"
    assert bad_character(value) == "\n"


# --- bad_character ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Do not send troops abroad",
        "Чистый воздух в Бишкеке",
        "Жогорку Кеңешке кайрылуу: өкмөт үй-бүлөлөргө жардам берсин",
        "Chüy Avenue — 2 km, 50 %, «кавычки», “quotes”",
        "emoji 👍🏽 and a family 👨‍👩‍👧 (with zero-width joiners)",
        "العربية and עברית",
        "",
    ],
)
def test_ordinary_text_is_accepted(value):
    assert bad_character(value) is None
    assert bad_character(value, multiline=True) is None


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("nul\x00byte", "\x00"),
        ("bell\x07", "\x07"),
        ("escape\x1b[31mred", "\x1b"),
        ("delete\x7f", "\x7f"),
        ("c1 control\x85", "\x85"),
        # What a decoder puts for bytes that were not valid UTF-8.
        ("broken \ufffd bytes", "\ufffd"),
        # Unpaired surrogate (from a broken client or a JSON \\ud800).
        ("half \ud800 pair", "\ud800"),
        # Private-use characters show as nothing useful to readers.
        ("private \ue000 use", "\ue000"),
        # The first bad character is the one reported.
        ("a\x01b\x02", "\x01"),
    ],
)
def test_bad_characters_are_found(value, bad):
    assert bad_character(value) == bad
    assert bad_character(value, multiline=True) == bad


@pytest.mark.parametrize("char", ["\n", "\t"])
def test_newline_and_tab_only_in_multiline_fields(char):
    value = f"first{char}second"
    assert bad_character(value) == char
    assert bad_character(value, multiline=True) is None


def test_carriage_return_is_refused_even_in_multiline_fields():
    """normalise() turns \\r into \\n first, so a \\r left over means the value skipped it."""
    assert bad_character("a\rb", multiline=True) == "\r"
    assert bad_character(normalise("a\r\nb", multiline=True), multiline=True) is None


# --- paragraphs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (None, ""),
        ("", ""),
        ("One line", "<p>One line</p>\n"),
        ("First\n\nSecond", "<p>First</p>\n<p>Second</p>\n"),
        # Single newlines are line breaks inside a paragraph.
        ("Line one\nLine two", "<p>Line one<br>\nLine two</p>\n"),
        ("a\nb\n\nc", "<p>a<br>\nb</p>\n<p>c</p>\n"),
        # Several blank lines, or blank lines with spaces, are one paragraph break.
        ("First\n\n\n\nSecond", "<p>First</p>\n<p>Second</p>\n"),
        ("First\n   \n\t\nSecond", "<p>First</p>\n<p>Second</p>\n"),
        # No empty paragraphs at the ends.
        ("\n\nOnly\n\n", "<p>Only</p>\n"),
        ("  \n\n  ", ""),
        ("Бишкек\n\nОш", "<p>Бишкек</p>\n<p>Ош</p>\n"),
    ],
)
def test_paragraphs(text, html):
    result = paragraphs(text)
    assert isinstance(result, Markup)
    assert str(result) == html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (
            "<script>alert('x')</script>",
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>\n",
        ),
        ("<b>bold</b>", "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"),
        ('a "quoted" & <tag>', "<p>a &#34;quoted&#34; &amp; &lt;tag&gt;</p>\n"),
        ("<p>\n\n</p>", "<p>&lt;p&gt;</p>\n<p>&lt;/p&gt;</p>\n"),
        ("x<br>y", "<p>x&lt;br&gt;y</p>\n"),
        ("&lt;already&gt;", "<p>&amp;lt;already&amp;gt;</p>\n"),
        ('<img src=x onerror="alert(1)">', "<p>&lt;img src=x onerror=&#34;alert(1)&#34;&gt;</p>\n"),
    ],
)
def test_paragraphs_escape_html(text, html):
    assert str(paragraphs(text)) == html


def test_paragraphs_in_a_template_are_not_escaped_twice():
    from jinja2 import Environment

    env = Environment(autoescape=True)
    env.filters["paragraphs"] = paragraphs
    rendered = env.from_string("{{ text|paragraphs }}").render(text="<i>a</i>\n\nb & c")
    assert rendered == "<p>&lt;i&gt;a&lt;/i&gt;</p>\n<p>b &amp; c</p>\n"
