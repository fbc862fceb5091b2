"""The widget and the feed in the reader's language: each has a URL per language (the
widget's code on a Kyrgyz page frames the Kyrgyz widget), and the plain URL follows the
browser's Accept-Language and says so with Vary."""

from __future__ import annotations

import re


def lang_of(html: str) -> str:
    found = re.search(r'<html[^>]* lang="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_widget_code_on_a_kyrgyz_page_frames_the_kyrgyz_widget(client, make_petition):
    petition = make_petition()
    page = client.get(f"/ky/petitions/{petition}").get_data(as_text=True)
    assert f"http://localhost/ky/petitions/{petition}/embed" in page


def test_the_kyrgyz_widget_is_in_kyrgyz_and_links_to_the_kyrgyz_page(client, make_petition):
    petition = make_petition()
    response = client.get(f"/ky/petitions/{petition}/embed")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert lang_of(html) == "ky"
    assert "Бул петицияга кол коюу" in html  # "Sign this petition"
    assert f'href="http://localhost/ky/petitions/{petition}"' in html


def test_the_plain_widget_follows_accept_language(client, make_petition):
    petition = make_petition()
    response = client.get(f"/petitions/{petition}/embed", headers={"Accept-Language": "ky"})
    assert response.status_code == 200
    assert lang_of(response.get_data(as_text=True)) == "ky"
    assert "Accept-Language" in response.headers["Vary"]


def test_the_russian_feed_is_in_russian_with_its_own_id(client, make_petition):
    make_petition(title="Save the park")
    response = client.get("/ru/feed.atom")
    assert response.status_code == 200
    xml = response.get_data(as_text=True)
    assert 'xml:lang="ru"' in xml
    assert "Новая петиция: Save the park" in xml
    assert "<id>http://localhost/ru/feed.atom</id>" in xml
    english = client.get("/feed.atom").get_data(as_text=True)
    assert "New petition: Save the park" in english
    assert "<id>http://localhost/feed.atom</id>" in english


def test_the_russian_feed_names_a_petition_by_its_approved_russian_translation(
    client, make_petition, make_translation
):
    petition = make_petition(title="Save the park")
    make_translation(petition, "ru", title="Спасите парк")
    assert "Новая петиция: Спасите парк" in client.get("/ru/feed.atom").get_data(as_text=True)


def test_the_english_feed_keeps_the_original_title(client, make_petition, make_translation):
    petition = make_petition(title="Save the park")
    make_translation(petition, "ru", title="Спасите парк")
    assert "New petition: Save the park" in client.get("/feed.atom").get_data(as_text=True)


def test_a_pending_translation_stays_out_of_the_feed(client, make_petition, make_translation):
    petition = make_petition(title="Save the park")
    make_translation(petition, "ru", title="Спасите парк", state="pending")
    assert "Спасите парк" not in client.get("/ru/feed.atom").get_data(as_text=True)
