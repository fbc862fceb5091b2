"""Who may use the moderation pages: every route, every role.

Anonymous visitors are sent to the login page (a 302 that brings them back afterwards),
organisers get 403, moderators and admins get the page. A refused POST changes nothing and
logs nothing.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from petitions.extensions import db
from petitions.models import PetitionEvent
from tests.fixtures.actors import csrf_token, session_csrf_token

PAGES = [
    "/moderation/",
    "/moderation/petitions/{id}",
    "/moderation/log",
    "/moderation/log?petition={id}",
]
ACTIONS = ["approve", "reject", "hide", "send-back", "edit", "response"]
ROLES = [None, "organiser", "moderator", "admin"]


@pytest.fixture
def as_role(make_user, login_as):
    def log_in(role: str | None) -> None:
        if role is not None:
            login_as(make_user(email=f"{role}@example.kg", role=role))

    return log_in


def assert_sent_to_login(response, url: str) -> None:
    """A 302 to the login page, which returns to `url` after logging in."""
    assert response.status_code == 302
    assert response.location == f"/account/login?next={quote(url, safe='')}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_pages(client, as_role, make_queued_petition, role, page):
    url = page.format(id=make_queued_petition())
    as_role(role)
    response = client.get(url)
    if role is None:
        assert_sent_to_login(response, url)
    elif role == "organiser":
        assert response.status_code == 403
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_actions(app, client, as_role, make_petition, make_queued_petition, role, action):
    # Any page with a form gives this session a valid CSRF token: the public sign form does.
    token = session_csrf_token(client)
    petition_id = make_queued_petition()
    as_role(role)
    url = f"/moderation/petitions/{petition_id}/{action}"
    response = client.post(url, data={"csrf_token": token})
    if role is None:
        assert_sent_to_login(response, url)
    elif role == "organiser":
        assert response.status_code == 403
    else:
        # Let through: approving needs no input; the others say what is missing.
        assert response.status_code == (303 if action == "approve" else 422)
    if role in (None, "organiser"):
        with app.app_context():
            events = select(func.count()).where(PetitionEvent.petition_id == petition_id)
            assert db.session.scalar(events) == 0
            db.session.remove()


def test_anonymous_is_sent_to_the_login_page_and_back(client, make_queued_petition):
    response = client.get("/moderation/")
    assert response.status_code == 302
    assert response.location == "/account/login?next=%2Fmoderation%2F"


def test_moderators_see_hidden_petitions_the_public_does_not(client, as_role, make_queued_petition):
    petition_id = make_queued_petition()
    as_role("moderator")
    html = client.get(f"/moderation/petitions/{petition_id}").get_data(as_text=True)
    token = csrf_token(html)
    hide = client.post(
        f"/moderation/petitions/{petition_id}/hide",
        data={"csrf_token": token, "reason": "Unlawful.", "confirm": "y"},
    )
    assert hide.status_code == 303
    assert client.get(f"/petitions/{petition_id}").status_code == 404
    review = client.get(f"/moderation/petitions/{petition_id}")
    assert review.status_code == 200 and "Unlawful." in review.get_data(as_text=True)
