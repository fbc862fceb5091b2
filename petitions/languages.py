"""Which language a reader gets, and where each language's pages live.

Every page exists once per language at a URL of its own: the default language (English) at
the plain path, every other under its code, `/ru/petitions/7`, `/ky/petitions/7`. So a
shared cache (nginx, issue 11) can keep each page as it is, one copy per URL, and never serve
one reader's language to another; `hreflang` alternates tell search engines about the others.
The prefix is taken off before routing (`LanguagePrefix`, a WSGI middleware that moves it to
SCRIPT_NAME), so the views know nothing of it and every `url_for` link a page makes stays in
its language.

A plain path is the way in: a reader who chose a language (the switcher's `lang` cookie,
remembered a year) or whose browser asks for one (`Accept-Language`) is sent from a plain
page to that language's URL. Those answers, and the default language's plain pages, depend
on the cookie and the header, and say so (`Vary`). The API, the static files and the live
counts carry no language of their own (the API's messages follow `Accept-Language`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

from babel import Locale
from babel.core import get_global
from flask import Flask, current_app, redirect, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from .http import safe_next

#: Where the catalogs are (one folder per language: `<code>/LC_MESSAGES/messages.po`).
CATALOGS = Path(__file__).resolve().parent / "translations"
#: The choice a reader made with the switcher.
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
#: Where LanguagePrefix leaves the code of a prefixed request, and the SCRIPT_NAME from
#: before the prefix (the site's own root, when it is mounted under a path).
ENVIRON_KEY = "petitions.language"
ROOT_KEY = "petitions.script_root"
#: Each language's name in itself, as the switcher shows it (Babel's, capitalised, otherwise).
OWN_NAMES = {
    "en": "English",
    "ru": "Русский",
    "ky": "Кыргызча",
    "id": "Bahasa Indonesia",
}
#: Languages a petition may also be written in, beside the site's own (organisers in Osh write
#: in Uzbek, in the Gulf in Arabic): the region's languages and the most written ones.
#: Readers of these see the petition's own text under an interface in one of the site's.
MORE_WRITING_LANGUAGES = tuple(
    [
        "uz",
        "kk",
        "tg",
        "tk",
        "az",
        "hy",
        "ka",
        "uk",
        "be",
        "tr",
        "fa",
        "ar",
        "ur",
        "hi",
        "bn",
        "zh",
        "ja",
        "ko",
        "ms",
        "jv",
        "su",
        "th",
        "vi",
        "tl",
        "de",
        "fr",
        "es",
        "pt",
        "it",
        "pl",
    ]
)
#: Blueprints whose answers are the same in every language (no prefix, no redirect).
NEUTRAL_BLUEPRINTS = frozenset({"api", "live"})
NEUTRAL_ENDPOINTS = frozenset({"static", "public.count_json", "languages.choose"})


def catalog_languages() -> list[str]:
    """The languages with a catalog, sorted by code."""
    return sorted(p.parent.parent.name for p in CATALOGS.glob("*/LC_MESSAGES/messages.po"))


def offered(default: str, configured: Iterable[str] | None = None) -> tuple[str, ...]:
    """The languages the site offers: the default first, then `configured` (the LANGUAGES
    setting) or else every language with a catalog."""
    others = list(configured) if configured else catalog_languages()
    return (default, *(code for code in others if code != default))


def writing_languages(site_languages: Iterable[str]) -> tuple[str, ...]:
    """What a petition may be written in: the site's languages first (in their order), then
    MORE_WRITING_LANGUAGES by their names in themselves."""
    first = tuple(site_languages)
    more = sorted((c for c in MORE_WRITING_LANGUAGES if c not in first), key=own_name)
    return (*first, *more)


def own_name(code: str) -> str:
    name = OWN_NAMES.get(code)
    if name is None:
        name = Locale.parse(code).get_display_name(code) or code
        name = name[:1].upper() + name[1:]
    return name


@cache
def text_direction(code: str) -> str:
    """ "rtl" for a language written right to left (Arabic, Persian, Hebrew ...), else "ltr"."""
    try:
        order = Locale.parse(code).character_order
    except (ValueError, TypeError, LookupError):
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"


@cache
def lang_attributes(code: str) -> Markup:
    """` lang="ru"` for an element holding text in `code` (and ` dir="rtl"` when it is
    written right to left), so screen readers, hyphenation and fonts follow the text."""
    attributes = Markup(' lang="{}"').format(code)
    if text_direction(code) == "rtl":
        attributes += Markup(' dir="rtl"')
    return attributes


@cache
def og_locale(code: str) -> str:
    """Open Graph's `language_TERRITORY` for a catalog code ("ky" -> "ky_KG"), by CLDR's
    likely subtags."""
    try:
        locale = Locale.parse(code)
        likely = Locale.parse(get_global("likely_subtags").get(locale.language, code))
    except (ValueError, TypeError, LookupError):
        return code
    territory = locale.territory or likely.territory
    return f"{locale.language}_{territory}" if territory else locale.language


@dataclass(frozen=True)
class Alternate:
    code: str
    name: str
    #: The same page in that language (a path, from the site's root).
    path: str
    #: Where the switcher sends the reader (remembers the choice, then goes to `path`).
    choose: str
    current: bool


class LanguagePrefix:
    """WSGI middleware: `/ru/petitions/7` is routed as `/petitions/7` with SCRIPT_NAME
    ending in `/ru` (so url_for writes `/ru/...` links), and the code left in the environ.
    The default language's prefix is not a URL of its own: `/en/x` moves to `/x`."""

    def __init__(self, app: Callable, *, default: str, others: Iterable[str]) -> None:
        self.app = app
        self.default = default
        self.others = frozenset(others) - {default}

    def __call__(self, environ, start_response):
        environ[ROOT_KEY] = environ.get("SCRIPT_NAME", "")
        path = environ.get("PATH_INFO", "") or "/"
        segments = path.split("/", 2)
        code = segments[1] if len(segments) > 1 else ""
        rest = "/" + (segments[2] if len(segments) > 2 else "")
        if code in self.others:
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/" + code
            environ["PATH_INFO"] = rest
            environ[ENVIRON_KEY] = code
        elif code == self.default and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            query = environ.get("QUERY_STRING")
            target = environ.get("SCRIPT_NAME", "") + quote(rest) + (f"?{query}" if query else "")
            return Response(status=301, headers={"Location": target})(environ, start_response)
        return self.app(environ, start_response)


def prefixed_language() -> str | None:
    """The language the URL names, if it names one."""
    return request.environ.get(ENVIRON_KEY)


def _neutral() -> bool:
    endpoint = request.endpoint or ""
    return endpoint in NEUTRAL_ENDPOINTS or request.blueprint in NEUTRAL_BLUEPRINTS


def negotiated() -> str:
    """For a plain path: the reader's remembered choice, else their browser's, else the
    default."""
    config = current_app.config
    chosen = request.cookies.get(COOKIE)
    if chosen in config["LANGUAGES"]:
        return chosen
    return (
        request.accept_languages.best_match(config["LANGUAGES"]) or config["BABEL_DEFAULT_LOCALE"]
    )


def request_language() -> str:
    """The language of this request's answer: the URL's, else the negotiated one. An answer
    with no language of its own (the API, count.json) that has messages (an error's title)
    writes them in the one the request's Accept-Language asks for, not the reader's cookie:
    such answers are cached by URL and `Vary: Accept-Language` only."""
    found = prefixed_language()
    if found:
        return found
    if (request.endpoint is not None and _neutral()) or request.path.startswith("/api/"):
        config = current_app.config
        return (
            request.accept_languages.best_match(config["LANGUAGES"])
            or config["BABEL_DEFAULT_LOCALE"]
        )
    return negotiated()


def path_in(code: str, path: str) -> str:
    """`path` (from the site's root, without any language prefix) in language `code`."""
    if code == current_app.config["BABEL_DEFAULT_LOCALE"]:
        return path
    return f"/{code}{path}"


def _current_path() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def alternates() -> list[Alternate]:
    """This page in every offered language (the switcher and the `hreflang` links)."""
    here = _current_path()
    now = request_language()
    root = request.environ.get(ROOT_KEY, "")
    return [
        Alternate(
            code=code,
            name=own_name(code),
            path=root + path_in(code, here),
            choose=f"{root}/language/{code}?next={quote(here, safe='/')}",
            current=code == now,
        )
        for code in current_app.config["LANGUAGES"]
    ]


def _to_own_language() -> Response | None:
    """A plain page asked for by a reader of another language goes to its URL there."""
    if request.method not in ("GET", "HEAD") or request.endpoint is None:
        return None
    if prefixed_language() or _neutral():
        return None
    wanted = negotiated()
    if wanted == current_app.config["BABEL_DEFAULT_LOCALE"]:
        return None
    return redirect(request.environ.get(ROOT_KEY, "") + path_in(wanted, _current_path()), 302)


def _vary(response: Response) -> Response:
    if request.endpoint is not None and not prefixed_language() and not _neutral():
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response


def choose(code: str):
    """The switcher: remember the reader's choice and show them the page in it."""
    config = current_app.config
    target = safe_next(request.args.get("next")) or "/"
    if code not in config["LANGUAGES"]:
        return redirect(request.script_root + target, 303)
    response = redirect(request.script_root + path_in(code, target), 303)
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        secure=config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    default = app.config["BABEL_DEFAULT_LOCALE"]
    app.config["LANGUAGES"] = offered(default, app.config.get("LANGUAGES"))
    app.wsgi_app = LanguagePrefix(app.wsgi_app, default=default, others=app.config["LANGUAGES"])
    app.add_url_rule("/language/<code>", "languages.choose", choose)
    app.before_request(_to_own_language)
    app.after_request(_vary)
    app.jinja_env.globals.update(
        language_alternates=alternates,
        lang_attributes=lang_attributes,
        language_own_name=own_name,
        og_locale=og_locale,
    )
