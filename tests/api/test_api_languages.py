"""The API's human-readable messages follow the request's Accept-Language (the API has no
language in its URLs, and a reader's language cookie does not change its answers), and say so
with `Vary: Accept-Language`; its data answers keep their caching headers."""

from __future__ import annotations

from api_helpers import API

KYRGYZ = {"Accept-Language": "ky"}


def test_a_problem_is_written_in_the_language_the_request_asks_for(client):
    response = client.get(f"{API}/no-such-thing", headers=KYRGYZ)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Барак табылган жок"
    assert "Accept-Language" in response.headers["Vary"]


def test_without_accept_language_a_problem_is_in_the_default_language(client):
    response = client.get(f"{API}/no-such-thing")
    assert response.get_json()["title"] == "Page not found"


def test_the_language_cookie_does_not_change_the_apis_answers(client):
    client.set_cookie("lang", "ru")
    response = client.get(f"{API}/no-such-thing", headers=KYRGYZ)
    assert response.get_json()["title"] == "Барак табылган жок"
    assert "Cookie" not in response.headers.get("Vary", "")


def test_the_api_has_no_language_prefix_redirect(client):
    response = client.get(f"{API}/petitions", headers=KYRGYZ)
    assert response.status_code == 200


def test_data_answers_keep_their_validators(client, make_petition):
    petition = make_petition()
    response = client.get(f"{API}/petitions/{petition}", headers=KYRGYZ)
    assert response.status_code == 200
    assert response.headers["ETag"]
    assert "public" in response.headers["Cache-Control"]
    again = client.get(
        f"{API}/petitions/{petition}",
        headers={**KYRGYZ, "If-None-Match": response.headers["ETag"]},
    )
    assert again.status_code == 304


def test_count_json_keeps_its_caching_in_any_language(client, make_petition):
    petition = make_petition()
    response = client.get(f"/petitions/{petition}/count.json", headers=KYRGYZ)
    assert response.status_code == 200
    assert "public" in response.headers["Cache-Control"]
    assert "Accept-Language" not in response.headers.get("Vary", "")
