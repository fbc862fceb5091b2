"""Cleaning and checking of text people type, and its display.

Input is normalised to NFC (so the same Kyrgyz or Russian word is stored one way), stripped,
and refused if it holds control characters, unpaired surrogates or the replacement character
that stands for bytes that were not valid UTF-8. Multi-line fields keep newlines and tabs.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup

_NEWLINES = re.compile(r"\r\n?")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def normalise(value: str | None, *, multiline: bool = False) -> str:
    """NFC, unified newlines, outer whitespace stripped (trailing spaces per line too).

    In multi-line text the Unicode line and paragraph separators become newlines (a line and
    a blank line), as a reader would expect; single-line text refuses them (`bad_character`).
    """
    if value is None:
        return ""
    if multiline:
        value = value.replace("\u2029", "\n\n").replace("\u2028", "\n")
    value = unicodedata.normalize("NFC", _NEWLINES.sub("\n", value))
    if multiline:
        value = "\n".join(line.rstrip() for line in value.split("\n"))
    return value.strip()


#: Refused everywhere: control characters (Cc: CR, LF, NUL, NEL ...), unpaired surrogates
#: (Cs), private-use characters (Co).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co"})
#: Refused in single-line text as well: the Unicode line and paragraph separators (Zl, Zp),
#: which break a mail header (a title becomes an email's Subject) and a CSV row as a newline
#: would.
_LINE_BREAK_CATEGORIES = frozenset({"Zl", "Zp"})


def bad_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character we refuse to store, or None.

    Single-line fields (names, titles, addresses) take no line break of any kind; multi-line
    ones take newlines and tabs.
    """
    allowed = {"\n", "\t"} if multiline else set()
    refused = _REFUSED_CATEGORIES if multiline else _REFUSED_CATEGORIES | _LINE_BREAK_CATEGORIES
    for char in value:
        if char in allowed:
            continue
        if unicodedata.category(char) in refused or char == "\ufffd":
            return char
    return None


def paragraphs(value: str | None) -> Markup:
    """Plain text to escaped HTML paragraphs, single newlines kept as line breaks."""
    if not value:
        return Markup("")
    parts = [p.strip() for p in _PARAGRAPH_BREAK.split(value) if p.strip()]
    line_break = Markup("<br>\n")
    return Markup("").join(
        Markup("<p>{}</p>\n").format(line_break.join(part.split("\n"))) for part in parts
    )


def summary(value: str | None, limit: int = 200) -> str:
    """One line of at most `limit` characters, cut at a word, for share previews and feeds.

    Link previews and feed readers show a line or two; a cut mid-word reads as a typo.
    """
    text = " ".join((value or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-—") + "…"
