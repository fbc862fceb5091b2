"""A URL per language: `/id/...`, `/ky/...`, `/ru/...` beside the default (English) plain
paths; a plain page sends a reader to their chosen or browser's language; the switcher names
each language in itself and remembers the choice; the API stays one for all."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.fixtures.actors import sign_form_hidden
from tests.fixtures.database import scalar_sql

CATALOG = Path(__file__).resolve().parents[2] / "petitions/translations/id/LC_MESSAGES/messages.po"


def indonesian(message: str) -> str:
    with CATALOG.open("rb") as handle:
        return read_po(handle)[message].string


def test_a_prefixed_page_is_in_its_language(client, petition):
    html = client.get(f"/id/petitions/{petition}").get_data(as_text=True)

    assert '<html lang="id">' in html
    assert indonesian("Skip to content") in html


def test_links_on_a_prefixed_page_stay_in_its_language(client, petition):
    html = client.get(f"/id/petitions/{petition}").get_data(as_text=True)

    assert f'action="/id/petitions/{petition}/sign#sign"' in html


def test_a_plain_page_sends_a_reader_to_their_browsers_language(client, petition):
    response = client.get(
        f"/petitions/{petition}?x=1", headers={"Accept-Language": "id-ID,id;q=0.9"}
    )

    assert (response.status_code, response.headers["Location"]) == (
        302,
        f"/id/petitions/{petition}?x=1",
    )


def test_a_plain_page_in_the_default_language_says_what_it_varies_on(client, petition):
    response = client.get(f"/petitions/{petition}")

    assert response.status_code == 200
    assert {"Accept-Language", "Cookie"} <= set(response.vary)


def test_a_prefixed_page_does_not_vary_on_the_browsers_language(client, petition):
    response = client.get(f"/id/petitions/{petition}", headers={"Accept-Language": "ru"})

    assert response.status_code == 200 and "Accept-Language" not in response.vary


def test_the_switcher_remembers_the_choice_over_the_browsers(client, petition):
    chosen = client.get(f"/language/ky?next=/petitions/{petition}")
    assert (chosen.status_code, chosen.headers["Location"]) == (303, f"/ky/petitions/{petition}")

    again = client.get(f"/petitions/{petition}", headers={"Accept-Language": "id"})

    assert again.headers["Location"] == f"/ky/petitions/{petition}"


def test_the_switcher_never_leaves_the_site(client):
    response = client.get("/language/ru?next=//evil.example/x")

    assert response.headers["Location"] == "/ru/"


def test_the_default_languages_prefix_moves_to_the_plain_path(client, petition):
    response = client.get(f"/en/petitions/{petition}")

    assert (response.status_code, response.headers["Location"]) == (301, f"/petitions/{petition}")


def test_the_switcher_names_each_language_in_itself(client, petition):
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)

    for code, name in (
        ("en", "English"),
        ("ru", "Русский"),
        ("ky", "Кыргызча"),
        ("id", "Bahasa Indonesia"),
    ):
        assert f'hreflang="{code}" lang="{code}"' in html and f">{name}</a>" in html


def test_each_page_names_its_other_languages_for_search_engines(client, petition):
    html = client.get(f"/ky/petitions/{petition}").get_data(as_text=True)

    assert (
        f'<link rel="alternate" hreflang="ru" href="http://localhost/ru/petitions/{petition}">'
        in html
    )
    assert (
        f'<link rel="alternate" hreflang="x-default" href="http://localhost/petitions/{petition}">'
        in html
    )


def test_the_api_is_not_sent_to_a_language(client, petition):
    response = client.get(f"/api/v1/petitions/{petition}", headers={"Accept-Language": "ru"})

    assert response.status_code == 200


@pytest.mark.parametrize("code", ["id", "ky", "ru"])
def test_a_signature_made_on_a_language_page_remembers_the_language(app, client, petition, code):
    page = client.get(f"/{code}/petitions/{petition}").get_data(as_text=True)
    client.post(
        f"/{code}/petitions/{petition}/sign",
        data={
            **sign_form_hidden(page),
            "name": "Aibek Asanov",
            "email": f"aibek-{code}@example.kg",
            "country": "KG",
            "consent": "y",
        },
    )

    assert scalar_sql(app, "SELECT locale FROM signatures") == code
