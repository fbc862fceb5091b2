"""The templates' `_()` and `ngettext()` (petitions/i18n.py) remember the request's catalogue
instead of asking Flask-Babel for every string: they must still follow the reader's language,
`force_locale()` (mail in its recipient's language), and Jinja's escaping and formatting.

A small Russian catalogue is compiled for the test, since the project ships English only.
"""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import render_template_string
from flask_babel import force_locale

from petitions import create_app
from petitions.extensions import babel


@pytest.fixture
def app(tmp_path):
    catalog = Catalog(locale="ru")
    catalog.add("Petitions", "Петиции")
    catalog.add(
        ("%(num)s signature", "%(num)s signatures"),
        ("%(num)s подпись", "%(num)s подписи", "%(num)s подписей"),
    )
    catalog.add("Signed by %(name)s", "Подписал(а) %(name)s")
    messages = tmp_path / "ru" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    with open(messages / "messages.mo", "wb") as mo:
        write_mo(mo, catalog)
    # Flask-Babel keeps catalogues by language in its Babel object, which every app of the
    # process shares (petitions.extensions.babel): forget the real ones another test loaded.
    babel.domain_instance.cache.clear()
    yield create_app(
        {
            "PETITIONS_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "LANGUAGES": ("en", "ru"),
            "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path),
        }
    )
    babel.domain_instance.cache.clear()


def test_strings_follow_the_readers_language(app):
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert render_template_string("{{ _('Petitions') }}") == "Петиции"


def test_force_locale_switches_the_catalogue_and_back(app):
    page = "{{ _('Petitions') }}"
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        before = render_template_string(page)
        with force_locale("en"):
            forced = render_template_string(page)
        after = render_template_string(page)
    assert (before, forced, after) == ("Петиции", "Petitions", "Петиции")


def test_plural_forms_fill_in_num(app):
    page = (
        "{% for n in (1, 3, 5) %}"
        "{{ ngettext('%(num)s signature', '%(num)s signatures', n) }};"
        "{% endfor %}"
    )
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert render_template_string(page) == "1 подпись;3 подписи;5 подписей;"


def test_a_num_given_by_name_wins(app):
    page = "{{ ngettext('%(num)s signature', '%(num)s signatures', 5, num='5,000') }}"
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert render_template_string(page) == "5,000 подписей"


def test_variables_are_escaped(app):
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        html = render_template_string("{{ _('Signed by %(name)s', name='<b>Ann</b>') }}")
    assert html == "Подписал(а) &lt;b&gt;Ann&lt;/b&gt;"
