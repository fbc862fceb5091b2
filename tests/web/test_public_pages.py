"""What a visitor and a journalist see: the index, a petition page, the running total."""

import pytest

from tests.fixtures.factories import move_deadline_to_past


def test_index_lists_open_petitions_most_signed_first(client, make_petition, signer):
    quiet = make_petition(title="Quiet petition")
    popular = make_petition(title="Popular petition")
    make_petition(state="draft", title="Secret draft")
    make_petition(state="closed", title="Old closed one")
    signer.sign_and_confirm(popular, "one@example.org")
    signer.sign_and_confirm(popular, "two@example.org")
    signer.sign_and_confirm(quiet, "three@example.org")

    page = client.get("/").get_data(as_text=True)
    assert page.index("Popular petition") < page.index("Quiet petition")
    assert "Secret draft" not in page
    assert "Old closed one" not in page
    assert "<strong data-count>2</strong>" in page

    newest = client.get("/?sort=newest").get_data(as_text=True)
    assert newest.index("Popular petition") < newest.index("Quiet petition")


def test_index_paginates(client, make_petition, app):
    app.config["PETITIONS_PER_PAGE"] = 2
    for n in range(5):
        make_petition(title=f"Petition number {n}")
    first = client.get("/?sort=newest").get_data(as_text=True)
    assert "Page 1 of 3" in first
    assert "Petition number 4" in first and "Petition number 2" not in first
    last = client.get("/?sort=newest&page=3").get_data(as_text=True)
    assert "Petition number 0" in last and 'rel="next"' not in last
    # Out-of-range and nonsense pages land on a real page, not an error.
    assert client.get("/?page=999").status_code == 200
    assert client.get("/?page=abc&sort=bogus").status_code == 200


def test_petition_page_shows_text_target_goal_and_total(client, make_petition, signer):
    petition = make_petition(
        title="Не отправлять войска",
        goal=4,
        addressee="Jogorku Kenesh — Parliament of the Kyrgyz Republic",
        background="First paragraph <script>alert(1)</script>\n\nSecond paragraph",
    )
    signer.sign_and_confirm(petition, "a@example.org")
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "Не отправлять войска" in page
    assert "Jogorku Kenesh — Parliament of the Kyrgyz Republic" in page
    assert "<strong data-count>1</strong>" in page
    assert "Goal: 4" in page
    assert 'max="4" value="1"' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "<p>Second paragraph</p>" in page
    assert "Sign this petition" in page


@pytest.mark.parametrize("state", ["draft"])
def test_unpublished_petitions_are_not_found(client, make_petition, state):
    petition = make_petition(state=state)
    assert client.get(f"/petitions/{petition}").status_code == 404
    assert client.get(f"/petitions/{petition}/count.json").status_code == 404


def test_closed_petition_shows_total_without_form(client, make_petition):
    petition = make_petition(state="closed")
    response = client.get(f"/petitions/{petition}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Closed" in page
    assert "Sign this petition" not in page


def test_petition_past_deadline_offers_no_form(client, make_petition, app):
    petition = make_petition()
    move_deadline_to_past(app, petition)
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "Sign this petition" not in page
    assert "no longer accepts signatures" in page


def test_unknown_petition_is_a_clear_404(client):
    response = client.get("/petitions/987654")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    missing = client.get("/petitions/987654/count.json")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    assert missing.get_json()["status"] == 404


def test_count_json_is_exact_and_cacheable(client, petition, signer):
    signer.sign_and_confirm(petition, "a@example.org")
    signer.sign(petition, "pending@example.org")
    response = client.get(f"/petitions/{petition}/count.json")
    assert response.status_code == 200
    data = response.get_json()
    assert data["signature_count"] == 1
    assert data["petition_id"] == petition
    assert data["state"] == "open"
    assert data["computed_at"].endswith("Z")
    cache = response.cache_control
    assert cache.public and cache.max_age == 2
    assert "stale-while-revalidate" in response.headers["Cache-Control"]
    assert response.headers["ETag"]


def test_count_json_answers_304_while_unchanged(client, petition, signer):
    first = client.get(f"/petitions/{petition}/count.json")
    etag = first.headers["ETag"]
    again = client.get(f"/petitions/{petition}/count.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    signer.sign_and_confirm(petition, "b@example.org")
    after = client.get(f"/petitions/{petition}/count.json", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.get_json()["signature_count"] == 1
