"""One table of who may use every route, checked against the app's URL map.

A new route fails `test_every_route_is_classified` until it is added here, so no page ships
without an access rule and a test of it. Each feature's own tests go deeper (what the allowed
user sees); these check the refusals, uniformly: anonymous visitors are sent to log in,
another organiser and the moderators get 404 for an organiser's petition (never its data),
organisers get 403 on moderation pages.
"""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import select, update

from petitions.extensions import db
from petitions.models import BulkAction, Petition, PetitionTranslation, utcnow
from tests.fixtures.actors import session_csrf_token

PUBLIC, TOKEN, ACCOUNT, OWNER, MODERATOR, ADMIN = (
    "public",
    "token",
    "account",
    "owner",
    "moderator",
    "admin",
)

ACCESS = {
    "static": PUBLIC,
    "public.index": PUBLIC,
    "public.petition": PUBLIC,
    "public.count_json": PUBLIC,
    "public.privacy": PUBLIC,
    "public.search_page": PUBLIC,
    "public.accessibility": PUBLIC,
    # Open data (petitions/api/): read-only, no personal data, CORS open.
    "api.index": PUBLIC,
    "api.openapi": PUBLIC,
    "api.petitions": PUBLIC,
    "api.petitions_csv": PUBLIC,
    "api.translations_csv": PUBLIC,
    "api.petition": PUBLIC,
    "api.timeseries": PUBLIC,
    "api.timeseries_csv": PUBLIC,
    "api.countries_csv": PUBLIC,
    "api.regions_csv": PUBLIC,
    "api.removals_csv": PUBLIC,
    "languages.choose": PUBLIC,
    "api.snapshots": PUBLIC,
    "api.snapshot_csv": PUBLIC,
    "live.count_stream": PUBLIC,
    "live.embed": PUBLIC,
    "feed.atom": PUBLIC,
    "signing.sign": PUBLIC,
    "signing.check_email": PUBLIC,
    "signing.challenge": PUBLIC,
    "auth.signup": PUBLIC,
    "auth.login": PUBLIC,
    "auth.check_email": PUBLIC,
    "auth.reset_request": PUBLIC,
    # Authenticated by the signed token in the URL (tested with the flows that mail them).
    "signing.confirm": TOKEN,
    "signing.resend": TOKEN,
    "sponsors.sponsor": TOKEN,
    "sponsors.check_email": TOKEN,
    "unsubscribe.confirm_page": TOKEN,
    "unsubscribe.unsubscribe": TOKEN,
    "auth.confirm": TOKEN,
    "auth.reset_password": TOKEN,
    "auth.change_email": TOKEN,
    "auth.logout": PUBLIC,  # harmless when logged out: it just goes home
    "auth.settings": ACCOUNT,
    "auth.change_email_request": ACCOUNT,
    "auth.change_language": ACCOUNT,
    "auth.change_password": ACCOUNT,
    "auth.delete_account": ACCOUNT,
    "organiser.my_petitions": ACCOUNT,
    "organiser.new_petition": ACCOUNT,
    "organiser.petition": OWNER,
    "organiser.dashboard": OWNER,
    "organiser.edit": OWNER,
    "organiser.preview": OWNER,
    "organiser.submit": OWNER,
    "organiser.close": OWNER,
    "organiser.new_update": OWNER,
    "organiser.new_translation": OWNER,
    "organiser.edit_translation": OWNER,
    "organiser.delete_translation": OWNER,
    "organiser_export.signatures_csv": OWNER,
    "moderation.queue": MODERATOR,
    "moderation.review": MODERATOR,
    "moderation.log": MODERATOR,
    "moderation.approve": MODERATOR,
    "moderation.reject": MODERATOR,
    "moderation.hide": MODERATOR,
    "moderation.send_back": MODERATOR,
    "moderation.edit": MODERATOR,
    "moderation.response": MODERATOR,
    "moderation.pause_signing": MODERATOR,
    "moderation.resume_signing": MODERATOR,
    "moderation.approve_translation": MODERATOR,
    "moderation.reject_translation": MODERATOR,
    "moderation.correct_translation": MODERATOR,
    "investigation.investigate": MODERATOR,
    "investigation.bulk_preview": MODERATOR,
    "investigation.bulk_start": MODERATOR,
    "investigation.action": MODERATOR,
    "investigation.cancel": MODERATOR,
    "investigation.undo": MODERATOR,
    # Runtime settings, rules, kill switches, trending sources, the site audit log.
    "admin.settings": ADMIN,
    "admin.change_setting": ADMIN,
    "admin.reset_setting": ADMIN,
    "admin.switches": ADMIN,
    "admin.switch": ADMIN,
    "admin.rules": ADMIN,
    "admin.add_rule": ADMIN,
    "admin.remove_rule": ADMIN,
    "admin.log": ADMIN,
    "admin.trending_sources": ADMIN,
}

#: Values for the other arguments of routes (a setting's key, a rule, a switch).
ROUTE_ARGUMENTS = {
    "key": "creation_paused",
    "rule_id": 1,
    "switch": "creation",
    "language": "ru",
}


def _rules(app, kind: str):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if ACCESS.get(rule.endpoint) == kind),
        key=lambda rule: rule.endpoint,
    )


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ACCESS), {
        "routes without an access rule": endpoints - set(ACCESS),
        "rules for routes that no longer exist": set(ACCESS) - endpoints,
    }


@pytest.fixture
def owned_petition(app, make_petition, make_user):
    """An open petition belonging to an organiser; returns (petition id, owner id)."""
    owner = make_user(email="owner@example.kg")
    petition_id = make_petition(state="open")
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(owner_id=owner)
        )
        # A translation waiting for review, for the routes of one (`language`).
        db.session.add(
            PetitionTranslation(
                petition_id=petition_id,
                language="ru",
                title="Не отправляйте войска за границу",
                action="Голосуйте против.",
                background="",
                state="pending",
                submitted_at=utcnow(),
            )
        )
        # A finished bulk action on it, for the routes of one (`action_id`).
        db.session.add(
            BulkAction(
                petition_id=petition_id, kind="validate", criteria={"flag": "any"}, state="done"
            )
        )
        db.session.commit()
    return petition_id, owner


def _call(app, client, rule, petition_id: int, public_petition: int):
    """GET the route, or POST it with a valid CSRF token when it takes only POST."""
    with app.test_request_context():
        args = {name: ROUTE_ARGUMENTS.get(name, petition_id) for name in rule.arguments}
        if "action_id" in args:
            args["action_id"] = db.session.scalar(
                select(BulkAction.id).where(BulkAction.petition_id == petition_id)
            )
        url = url_for(rule.endpoint, **args)
    if "GET" in rule.methods:
        return client.get(url)
    token = session_csrf_token(client)
    return client.post(url, data={"csrf_token": token})


def _sent_to_login(response) -> bool:
    return response.status_code == 302 and "/account/login" in response.location


@pytest.mark.parametrize("kind", [ACCOUNT, OWNER, MODERATOR, ADMIN])
def test_anonymous_visitors_are_sent_to_log_in(app, client, owned_petition, kind):
    petition_id, _ = owned_petition
    rules = _rules(app, kind)
    assert rules
    for rule in rules:
        response = _call(app, client, rule, petition_id, petition_id)
        assert _sent_to_login(response), (rule.endpoint, response.status_code)


@pytest.mark.parametrize("intruder", ["organiser", "moderator", "admin"])
def test_an_organisers_petition_is_404_to_everyone_else(
    app, client, owned_petition, make_user, login_as, intruder
):
    petition_id, _ = owned_petition
    login_as(make_user(email=f"other-{intruder}@example.kg", role=intruder))
    for rule in _rules(app, OWNER):
        response = _call(app, client, rule, petition_id, petition_id)
        assert response.status_code == 404, (rule.endpoint, response.status_code)
        assert "Do not send troops abroad" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Petition, petition_id).state == "open", "a refused POST acted"


def test_the_owner_is_let_in(app, client, owned_petition, login_as):
    petition_id, owner = owned_petition
    login_as(owner)
    for rule in _rules(app, OWNER):
        response = _call(app, client, rule, petition_id, petition_id)
        # Allowed: the page, a redirect, or a clear refusal of the action in this state.
        assert response.status_code in (200, 302, 303, 409), (rule.endpoint, response.status_code)


def test_organisers_get_403_on_moderation(app, client, owned_petition, login_as):
    petition_id, owner = owned_petition
    login_as(owner)
    for rule in _rules(app, MODERATOR):
        response = _call(app, client, rule, petition_id, petition_id)
        assert response.status_code == 403, (rule.endpoint, response.status_code)


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_moderators_reach_every_moderation_route(
    app, client, owned_petition, make_user, login_as, role
):
    petition_id, _ = owned_petition
    login_as(make_user(email=f"{role}@example.kg", role=role))
    for rule in _rules(app, MODERATOR):
        response = _call(app, client, rule, petition_id, petition_id)
        # Empty forms get a clear 422/409, never a refusal of access or a server error.
        assert response.status_code in (200, 302, 303, 409, 422), (
            rule.endpoint,
            response.status_code,
        )


@pytest.mark.parametrize("role", ["organiser", "moderator"])
def test_only_admins_reach_admin_pages(app, client, owned_petition, make_user, login_as, role):
    petition_id, _ = owned_petition
    login_as(make_user(email=f"not-admin-{role}@example.kg", role=role))
    for rule in _rules(app, ADMIN):
        response = _call(app, client, rule, petition_id, petition_id)
        assert response.status_code == 403, (rule.endpoint, response.status_code)


def test_admins_reach_every_admin_route(app, client, owned_petition, make_user, login_as):
    petition_id, _ = owned_petition
    login_as(make_user(email="admin@example.kg", role="admin"))
    for rule in _rules(app, ADMIN):
        response = _call(app, client, rule, petition_id, petition_id)
        # Empty forms get a clear 422, never a refusal of access or a server error.
        assert response.status_code in (200, 303, 422), (rule.endpoint, response.status_code)
