"""Form endpoints take what an HTML form sends (url-encoded or multipart), nothing else.

A JSON body with a valid CSRF token in the `X-CSRFToken` header passes CSRF protection, and
Flask-WTF's own FlaskForm would read it as form data, values of any type included: numbers,
lists, nulls and objects then reached validators that expect text, and the request ended in a
500. Every such body now gets one clear answer, 415, and nothing is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from petitions.extensions import db
from petitions.models import Petition, User
from petitions.services.accounts import AccountPolicy, TokenPurpose, make_token
from tests.fixtures.actors import creation_key, csrf_token, log_in_client
from tests.fixtures.database import scalar_sql


@dataclass
class FormEndpoint:
    """A page with a form, the URL its form posts to, and the fields it sends."""

    client: object
    page: str
    action: str
    fields: tuple[str, ...]


def _owned_open_petition(app, make_petition, user_id: int) -> int:
    petition_id = make_petition()
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(owner_id=user_id)
        )
        db.session.commit()
        db.session.remove()
    return petition_id


def _reset_path(app, user_id: int) -> str:
    with app.test_request_context():
        user = db.session.get(User, user_id)
        token = make_token(TokenPurpose.RESET, user, AccountPolicy.from_config(app.config))
        db.session.remove()
    return f"/account/reset/{token}"


def _endpoint(name: str, app, make_user, make_petition, make_queued_petition) -> FormEndpoint:
    client = app.test_client()
    if name == "sign":
        petition_id = make_petition()
        return FormEndpoint(
            client,
            f"/petitions/{petition_id}",
            f"/petitions/{petition_id}/sign",
            ("name", "email", "country", "region", "consent", "wants_updates", "show_name"),
        )
    if name == "login":
        make_user(email="aigul@example.kg")
        return FormEndpoint(client, "/account/login", "/account/login", ("email", "password"))
    if name == "sign-up":
        return FormEndpoint(
            client,
            "/account/signup",
            "/account/signup",
            ("display_name", "email", "password", "password2", "consent"),
        )
    if name == "password reset request":
        make_user(email="aigul@example.kg")
        return FormEndpoint(client, "/account/reset", "/account/reset", ("email",))
    if name == "new password":
        path = _reset_path(app, make_user(email="aigul@example.kg"))
        return FormEndpoint(client, path, path, ("password", "password2"))
    if name == "new petition":
        log_in_client(app, client, make_user(email="organiser@example.kg"))
        return FormEndpoint(
            client,
            "/organiser/petitions/new",
            "/organiser/petitions/new",
            ("title", "action", "background", "addressee", "signature_goal", "creation_key"),
        )
    if name == "organiser update":
        user_id = make_user(email="organiser@example.kg")
        log_in_client(app, client, user_id)
        path = f"/organiser/petitions/{_owned_open_petition(app, make_petition, user_id)}"
        path += "/updates/new"
        return FormEndpoint(client, path, path, ("title", "body", "creation_key"))
    if name == "moderation decision":
        log_in_client(app, client, make_user(email="mod@example.kg", role="moderator"))
        petition_id = make_queued_petition()
        return FormEndpoint(
            client,
            f"/moderation/petitions/{petition_id}",
            f"/moderation/petitions/{petition_id}/reject",
            ("reason", "note", "confirm"),
        )
    raise ValueError(name)


ENDPOINTS = [
    "sign",
    "login",
    "sign-up",
    "password reset request",
    "new password",
    "new petition",
    "organiser update",
    "moderation decision",
]

#: What a well-formed form would send, as JSON strings: refused too (form bodies only).
PLAUSIBLE = {
    "name": "Aibek Asanov",
    "email": "aigul@example.kg",
    "country": "KG",
    "region": "Chüy",
    "consent": "y",
    "wants_updates": "y",
    "show_name": "y",
    "password": "correct horse battery",
    "password2": "correct horse battery",
    "display_name": "Aigul",
    "title": "Light the road to Karakol",
    "action": "Install street lights.",
    "background": "It is dark.",
    "addressee": "Issyk-Kul regional administration",
    "signature_goal": "1000",
    "body": "We met the mayor.",
    "reason": "duplicate",
    "note": "There is one already.",
    "confirm": "y",
}


def _all(value):
    return lambda fields, key: {field: value for field in fields} | key


HOSTILE_BODIES = {
    "numbers": _all(12345),
    "floats and booleans": lambda fields, key: (
        {field: (1.5e308 if n % 2 else True) for n, field in enumerate(fields)} | key
    ),
    "nulls": _all(None),
    "lists": _all(["aigul@example.kg", "someone@example.kg"]),
    "empty lists": _all([]),
    "nested objects": _all({"$ne": "", "inner": {"deeper": [1, None]}}),
    "plausible strings": lambda fields, key: {f: PLAUSIBLE.get(f, "x") for f in fields} | key,
}


def _stored(app) -> dict:
    """What a form could have written: rows of each table, logins, changed passwords."""
    tables = (
        "signatures",
        "users",
        "user_sessions",
        "petitions",
        "petition_updates",
        "petition_events",
        "outbox_messages",
    )
    counts = {table: scalar_sql(app, f"SELECT count(*) FROM {table}") for table in tables}  # noqa: S608
    counts["logged in"] = scalar_sql(
        app, "SELECT count(*) FROM users WHERE last_login_at IS NOT NULL"
    )
    counts["new credentials"] = scalar_sql(
        app, "SELECT count(*) FROM users WHERE credentials_version <> 1"
    )
    return counts


@pytest.fixture
def endpoint(request, app, make_user, make_petition, make_queued_petition) -> FormEndpoint:
    return _endpoint(request.param, app, make_user, make_petition, make_queued_petition)


def _token_and_key(endpoint: FormEndpoint) -> tuple[str, dict]:
    page = endpoint.client.get(endpoint.page)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    key = {"creation_key": creation_key(html)} if "creation_key" in endpoint.fields else {}
    return csrf_token(html), key


@pytest.mark.parametrize("endpoint", ENDPOINTS, indirect=True)
@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_json_objects_are_refused_and_store_nothing(app, endpoint, body):
    token, key = _token_and_key(endpoint)
    fields = tuple(f for f in endpoint.fields if f != "creation_key")
    before = _stored(app)
    response = endpoint.client.post(
        endpoint.action,
        data=json.dumps(HOSTILE_BODIES[body](fields, key)),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 415
    assert "The form was not understood" in response.get_data(as_text=True)
    assert _stored(app) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, indirect=True)
@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", "[1, 2, 3]"),
        ("application/json", '"just a string"'),
        ("application/json", "{not json"),
        ("text/plain", "email=aigul@example.kg&password=correct+horse+battery"),
        ("application/xml", "<email>aigul@example.kg</email>"),
        ("application/octet-stream", "\x00\x01\x02"),
    ],
    ids=["json array", "json string", "broken json", "text", "xml", "bytes"],
)
def test_other_bodies_are_refused_and_store_nothing(app, endpoint, content_type, data):
    token, _key = _token_and_key(endpoint)
    before = _stored(app)
    response = endpoint.client.post(
        endpoint.action, data=data, content_type=content_type, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 415
    assert response.headers["Accept-Post"] == (
        "application/x-www-form-urlencoded, multipart/form-data"
    )
    assert _stored(app) == before


def test_a_form_body_still_works(app, client, petition):
    """The same endpoint with the same token, as a browser sends it: the signature is taken."""
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(html),
        "name": "Aibek Asanov",
        "email": "aibek@example.kg",
        "country": "KG",
        "consent": "y",
    }
    response = client.post(f"/petitions/{petition}/sign", data=data)
    assert response.status_code == 303
    assert scalar_sql(app, "SELECT count(*) FROM signatures") == 1


def test_a_multipart_body_works_and_its_files_are_not_form_values(app, client, petition):
    """A file sent under a field's name is not that field's value (no form takes files)."""
    from io import BytesIO

    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(html),
        "name": "Aibek Asanov",
        "email": (BytesIO(b"aibek@example.kg"), "email.txt"),
        "country": "KG",
        "consent": "y",
    }
    response = client.post(
        f"/petitions/{petition}/sign", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert "Please enter your email address." in response.get_data(as_text=True)
    assert scalar_sql(app, "SELECT count(*) FROM signatures") == 0


def test_a_csrf_header_without_a_body_is_not_a_415(app, client, make_user):
    """A button form (log out) has nothing but its token: the header and no body is fine."""
    user_id = make_user(email="aigul@example.kg")
    log_in_client(app, client, user_id)
    token = csrf_token(client.get("/account/settings").get_data(as_text=True))
    response = client.post("/account/logout", headers={"X-CSRFToken": token})
    assert response.status_code == 303
    assert client.get("/account/settings").status_code == 302
