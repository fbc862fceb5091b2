"""The message catalogs are complete: every message the code and templates have is in the
template (messages.pot) and translated in every language the site offers, none fuzzy, every
placeholder kept, every plural form written.

`make translations` extracts, updates and compiles; these tests say what it left undone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from petitions.languages import catalog_languages

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "petitions" / "translations"
#: As the Makefile's BABEL_KEYWORDS, on top of Babel's defaults (_, gettext, ngettext, ...).
KEYWORDS = {"_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
TRANSLATED = catalog_languages()


def _method_map() -> list[tuple[str, str]]:
    """babel.cfg's sections as extract_from_dir wants them."""
    found = []
    for line in (ROOT / "babel.cfg").read_text().splitlines():
        line = line.strip()
        if line.startswith("[") and ":" in line:
            method, pattern = line.strip("[]").split(":", 1)
            found.append((pattern.strip(), method.strip()))
    return found


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    """Every msgid the code and templates use now."""
    from babel.messages.extract import DEFAULT_KEYWORDS

    keywords = {**DEFAULT_KEYWORDS, **KEYWORDS}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), _method_map(), keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def test_russian_kyrgyz_and_indonesian_are_offered_beside_english(app):
    assert app.config["LANGUAGES"] == ("en", "id", "ky", "ru")


def test_the_template_has_every_message_of_the_code(source_messages):
    template = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in _catalog(CATALOGS / "messages.pot")
        if m.id
    }
    assert source_messages - template == set(), "run `make translations`"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated(code, source_messages):
    catalog = _catalog(CATALOGS / code / "LC_MESSAGES" / "messages.po")
    missing = sorted(
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and (not m.string or (isinstance(m.string, tuple | list) and not all(m.string)))
    )
    untracked = sorted(
        source_messages - {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    )
    assert (missing, untracked) == ([], [])


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_translation_is_fuzzy(code):
    catalog = _catalog(CATALOGS / code / "LC_MESSAGES" / "messages.po")
    fuzzy = sorted(str(m.id) for m in catalog if m.id and m.fuzzy)
    assert fuzzy == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_placeholders_and_plural_forms_match(code):
    catalog = _catalog(CATALOGS / code / "LC_MESSAGES" / "messages.po")
    problems = [
        f"{message.id!r}: {error}" for message, errors in catalog.check() for error in errors
    ]
    assert problems == []
