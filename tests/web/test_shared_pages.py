"""Public pages a shared cache can serve (issue 11): to an anonymous reader they set no
cookie, say `Cache-Control: public` with `s-maxage` and `stale-while-revalidate`, carry an
ETag and answer a matching If-None-Match with a 304; a reader with a session gets a private
page. The sign form on such a page needs no session: its posts must come from this site's
pages (Origin / Sec-Fetch-Site / Referer), which a forged cross-site post does not."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from petitions.extensions import db
from petitions.models import Signature
from tests.fixtures.actors import sign_form_hidden

SHARED_PATHS = [
    "/",
    "/?sort=newest",
    "/search?q=water",
    "/search?state=archive",
    "/petitions/{id}",
    "/ru/petitions/{id}",
    "/petitions/{id}/signed",
    "/privacy",
    "/accessibility",
    "/feed.atom",
    "/petitions/{id}/embed",
    "/api/v1/petitions/{id}",
]


def signatures(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Signature))


def sign_data(html: str, email: str) -> dict:
    return {
        **sign_form_hidden(html),
        "name": "Aibek Asanov",
        "email": email,
        "country": "KG",
        "consent": "y",
    }


@pytest.mark.parametrize("path", SHARED_PATHS)
def test_an_anonymous_reader_gets_no_cookie(client, petition, path):
    response = client.get(path.format(id=petition))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", SHARED_PATHS)
def test_an_anonymous_page_may_be_shared_by_a_cache(client, petition, path):
    cache_control = client.get(path.format(id=petition)).cache_control
    assert cache_control.public
    assert cache_control.s_maxage > 0
    assert int(cache_control["stale-while-revalidate"]) > 0


@pytest.mark.parametrize("path", SHARED_PATHS)
def test_a_reader_who_has_the_page_gets_a_304(client, petition, path):
    first = client.get(path.format(id=petition))
    again = client.get(path.format(id=petition), headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_language_page_does_not_vary_on_cookies(client, petition):
    response = client.get(f"/ru/petitions/{petition}")
    assert "cookie" not in {value.lower() for value in response.vary}


def test_the_cache_lifetime_is_the_configured_one(app, client, petition):
    app.config.update(PAGE_CACHE_SECONDS=30, PAGE_STALE_SECONDS=300)
    cache_control = client.get(f"/petitions/{petition}").cache_control
    assert (cache_control.s_maxage, cache_control["stale-while-revalidate"]) == (30, "300")


def test_a_logged_in_reader_gets_a_private_page_with_their_name(
    client, petition, make_user, login_as
):
    login_as(make_user(name="Aigul Organiser"))
    response = client.get(f"/petitions/{petition}")
    assert (response.cache_control.private, "Aigul Organiser" in response.text) == (True, True)


def test_a_logged_in_readers_page_is_not_reused_for_an_anonymous_one(
    app, client, petition, make_user, login_as
):
    app.config["PAGE_MEMO_SECONDS"] = 60
    login_as(make_user(name="Aigul Organiser"))
    client.get(f"/petitions/{petition}")
    anonymous = app.test_client().get(f"/petitions/{petition}")
    assert "Aigul Organiser" not in anonymous.text


def test_the_memo_serves_the_next_anonymous_reader_the_same_page(app, client, petition):
    app.config["PAGE_MEMO_SECONDS"] = 60
    first = client.get(f"/petitions/{petition}")
    second = app.test_client().get(f"/petitions/{petition}")
    assert (second.headers["ETag"], second.data) == (first.headers["ETag"], first.data)


def test_a_signer_whose_only_request_was_a_cached_page_signs(app, client, petition, signer):
    """The page came from the cache: the browser that posts never spoke to the app before."""
    cached = client.get(f"/petitions/{petition}").get_data(as_text=True)
    fresh_browser = app.test_client()
    response = fresh_browser.post(
        f"/petitions/{petition}/sign", data=sign_data(cached, "cached@example.kg")
    )
    assert response.status_code == 303
    signer.client = fresh_browser
    signer.confirm(signer.confirmation_path("cached@example.kg"))
    assert signer.count(petition) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": None, "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-site"},
        {"Origin": None, "Referer": "https://evil.example/petitions/1"},
        {"Origin": None},
    ],
    ids=[
        "other-origin",
        "null-origin",
        "lookalike-host",
        "cross-site-fetch",
        "sibling-site-fetch",
        "other-referer",
        "no-header",
    ],
)
def test_a_sign_post_not_from_this_site_is_refused(app, client, petition, headers):
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    response = client.post(
        f"/petitions/{petition}/sign", data=sign_data(page, "forged@example.kg"), headers=headers
    )
    assert (response.status_code, signatures(app)) == (403, 0)


def test_a_refused_cross_site_post_says_why(client, petition):
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    response = client.post(
        f"/petitions/{petition}/sign",
        data=sign_data(page, "forged@example.kg"),
        headers={"Origin": "https://evil.example"},
    )
    assert "This form was sent from another site" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost"},
        {"Origin": None, "Sec-Fetch-Site": "same-origin"},
        {"Origin": None, "Referer": "http://localhost/petitions/1"},
        {"Origin": "https://petitions.example"},
    ],
    ids=["origin", "fetch-metadata", "referer", "public-base-url"],
)
def test_a_sign_post_from_this_sites_page_is_accepted(app, client, petition, headers):
    app.config["PUBLIC_BASE_URL"] = "https://petitions.example"
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    response = client.post(
        f"/petitions/{petition}/sign", data=sign_data(page, "real@example.kg"), headers=headers
    )
    assert (response.status_code, signatures(app)) == (303, 1)


def test_the_confirmation_page_sets_no_cookie(signer, petition):
    signer.sign(petition, "quiet@example.kg")
    path = signer.confirmation_path("quiet@example.kg")
    fresh = signer.client.application.test_client()
    assert "Set-Cookie" not in fresh.get(path).headers


def test_confirming_from_a_fresh_browser_sets_no_cookie(signer, petition):
    signer.sign(petition, "quiet@example.kg")
    path = signer.confirmation_path("quiet@example.kg")
    fresh = signer.client.application.test_client()
    response = fresh.post(path)
    assert (response.status_code, "Set-Cookie" in response.headers) == (200, False)


def test_a_cross_site_confirmation_post_changes_nothing(signer, petition):
    signer.sign(petition, "victim@example.kg")
    path = signer.confirmation_path("victim@example.kg")
    response = signer.client.post(path, headers={"Origin": "https://evil.example"})
    assert (response.status_code, signer.count(petition)) == (403, 0)


# --- the proof of work on a shared page ------------------------------------------------------


@pytest.fixture
def proof_on(app):
    app.config.update(PROOF_OF_WORK=True, PROOF_OF_WORK_BITS=4)


def test_a_shared_page_carries_no_challenge_of_its_own(client, petition, proof_on):
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert sign_form_hidden(page).get("proof_challenge") == ""


def test_each_reader_fetches_a_challenge_of_their_own(client, petition, proof_on):
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    first = sign_form_hidden(page, client)["proof_challenge"]
    second = sign_form_hidden(page, client)["proof_challenge"]
    assert first and second and first != second


def test_a_fetched_challenge_is_never_cached(client, petition, proof_on):
    response = client.get(f"/petitions/{petition}/sign/challenge")
    assert response.headers["Cache-Control"] == "no-store"


def test_without_the_proof_of_work_there_is_no_challenge_to_fetch(client, petition):
    assert client.get(f"/petitions/{petition}/sign/challenge").status_code == 404
