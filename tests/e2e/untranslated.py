"""Finding English left on a page that should be wholly in another language.

The English a page can show comes from the message catalog: every msgid is an English string
the code or a template may print. A page in Kyrgyz that contains one of them, where the
Kyrgyz translation differs, shows English to a reader who may not know any. Short msgids
("OK", "Name") are left out: one word of fewer than five letters also appears in names and
user text, and would make the check cry wolf. Placeholders split a msgid into the literal
pieces that would appear on the page ("To: %(addressee)s" -> "To:"), each held to the same
length rule.

The catalog only knows the strings that go through `_()`: a string left out of it (a label
written straight into a template, a country name a library did not translate) is English in
every language. Kyrgyz is written in Cyrillic, so on a Kyrgyz page any word in Latin letters
is suspect too, apart from addresses, links, acronyms (CSV, UTC) and the names above.

What counts as the page: what a reader sees (`document.body.innerText`, the title in the
tab) and hears or sees on hover (placeholder, title, aria-label and alt attributes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations
from playwright.sync_api import Page

from petitions.languages import MORE_WRITING_LANGUAGES, own_name
from tests.fixtures.mail import body_text

CATALOGS = Path(__file__).resolve().parents[2] / "petitions/translations"
#: Printf placeholders in msgids: %(name)s, %(pct)s%%, %d.
PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdifr%]")
#: What the switcher and other language lists show: each language's name in itself.
PROPER_NAMES = (
    "English",
    "Русский",
    "Кыргызча",
    "Bahasa Indonesia",
    # The languages a petition may be written in, each named in itself (the organiser's select).
    *sorted((own_name(code) for code in MORE_WRITING_LANGUAGES), key=len, reverse=True),
    # The share links name the services as they name themselves.
    "Telegram",
    "WhatsApp",
    "Facebook",
)

#: Languages written in Cyrillic, whose pages should hold no Latin words.
CYRILLIC = frozenset({"ky", "ru"})
URL_OR_ADDRESS = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+(\.[\w-]+)+")
LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:['’-][A-Za-z\u00c0-\u024f]+)*")
#: Acronyms read the same in every language (CSV, JSON, UTC, ISO, country codes).
ACRONYM = re.compile(r"^[A-Z]{1,5}$")

#: The text a reader meets on the page, and the attributes that speak for elements.
PAGE_TEXT_JS = """() => {
  const parts = [document.title, document.body.innerText];
  for (const element of document.querySelectorAll("[placeholder], [title], [aria-label], [alt]")) {
    for (const name of ["placeholder", "title", "aria-label", "alt"]) {
      const value = element.getAttribute(name);
      if (value) parts.push(value);
    }
  }
  return parts.join("\\n");
}"""


@cache
def catalog(code: str):
    with (CATALOGS / code / "LC_MESSAGES/messages.po").open("rb") as handle:
        return read_po(handle)


def translate(code: str, message: str, **values) -> str:
    """`message` as the `code` catalog has it, with `values` filled in (as gettext does)."""
    found = catalog(code).get(message)
    assert found is not None and found.string, f"{message!r} is not translated into {code}"
    text = found.string if isinstance(found.string, str) else found.string[0]
    return text % values if values else text


def translate_plural(code: str, singular: str, plural: str, num: int, **values) -> str:
    """ngettext's answer in `code` (from the compiled catalog, as the app reads it)."""
    translations = Translations.load(CATALOGS, [code])
    return translations.ngettext(singular, plural, num) % {"num": num, **values}


def _telling(piece: str) -> bool:
    """Long enough to be English rather than a name: two words, or one of five letters."""
    words = re.findall(r"[A-Za-z]+", piece)
    return len(words) >= 2 or (len(words) == 1 and len(words[0]) >= 5)


@cache
def english_pieces(code: str) -> tuple[str, ...]:
    """The English strings a page in `code` must not show: the literal pieces of every msgid
    (and plural) whose translation differs from it, longest first."""
    pieces: set[str] = set()
    for message in catalog(code):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            if msgid in strings:
                continue
            for piece in PLACEHOLDER.split(msgid):
                piece = (piece or "").strip()
                if piece and _telling(piece):
                    pieces.add(piece)
    return tuple(sorted(pieces, key=len, reverse=True))


def english_in(text: str, code: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The catalog's English found in `text` (whole words only), once `allowed` (user text the
    test wrote, proper names) is taken out."""
    for keep in (*allowed, *PROPER_NAMES):
        text = text.replace(keep, " ")
    found = []
    for piece in english_pieces(code):
        pattern = r"(?<![A-Za-z])" + re.escape(piece) + r"(?![A-Za-z])"
        if re.search(pattern, text):
            found.append(piece)
            text = re.sub(pattern, " ", text)
    return found


def latin_words(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Words in Latin letters in `text`, apart from `allowed`, names, links and acronyms."""
    for keep in (*allowed, *PROPER_NAMES):
        text = text.replace(keep, " ")
    text = URL_OR_ADDRESS.sub(" ", text)
    return sorted({word for word in LATIN_WORD.findall(text) if not ACRONYM.match(word)})


def untranslated(text: str, code: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """What in `text` a reader of `code` would meet in English."""
    found = english_in(text, code, allowed)
    if code in CYRILLIC:
        found += [word for word in latin_words(text, allowed) if word not in " ".join(found)]
    return found


def page_text(page: Page) -> str:
    return page.evaluate(PAGE_TEXT_JS)


@dataclass
class Visits:
    """The pages (and mails) a flow showed its reader in one language, as they were seen."""

    code: str
    #: (where, text) in the order they were seen.
    seen: list[tuple[str, str]] = field(default_factory=list)
    #: Text the test itself wrote (a petition's title, a name): not the site's words.
    allowed: list[str] = field(default_factory=list)

    def page(self, page: Page) -> None:
        self.seen.append((page.url, page_text(page)))

    def mail(self, message) -> None:
        subject = message["Subject"]
        self.seen.append((f"mail: {subject}", f"{subject}\n{body_text(message)}"))

    def english(self) -> dict[str, list[str]]:
        """Where English was found, and which strings."""
        found = {}
        for where, text in self.seen:
            strings = untranslated(text, self.code, tuple(self.allowed))
            if strings:
                found[where] = strings
        return found
