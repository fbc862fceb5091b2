"""Admins' block, allow and review rules: validated, stored canonical, audited, removable."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import AccessRule, AdminEvent
from tests.fixtures.actors import csrf_token


@pytest.fixture
def admin(make_user, login_as) -> int:
    user_id = make_user(email="admin@example.kg", role="admin", name="Asel Admin")
    login_as(user_id)
    return user_id


def add(client, kind: str, pattern: str, action: str = "block", note: str = ""):
    page = client.get("/admin/rules")
    assert page.status_code == 200
    return client.post(
        "/admin/rules",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "kind": kind,
            "action": action,
            "pattern": pattern,
            "note": note,
        },
    )


def stored(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(AccessRule.kind, AccessRule.pattern, AccessRule.action).order_by(AccessRule.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("kind", "typed", "kept"),
    [
        ("network", "203.0.113.0/24", "203.0.113.0/24"),
        ("network", "2001:DB8::/32", "2001:db8::/32"),
        ("domain", "Example.COM", "example.com"),
        ("domain", "@mail.example.org.", "mail.example.org"),
        ("domain", "пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("domain", "*.Mailinator.com", "*.mailinator.com"),
        ("domain", "mailinator.*", "mailinator.*"),
        ("address", "Aibek.Asanov+petitions@Gmail.com", "aibekasanov@gmail.com"),
    ],
)
def test_a_rule_is_stored_in_its_canonical_form(app, client, admin, kind, typed, kept):
    response = add(client, kind, typed)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert stored(app) == [(kind, kept, "block")]
    assert kept in client.get("/admin/rules").get_data(as_text=True)


@pytest.mark.parametrize(
    ("kind", "typed", "message"),
    [
        ("network", "203.0.113.7/24", "no host bits set"),
        ("network", "not a range", "CIDR notation"),
        ("domain", "*", "a lone * would match every address"),
        ("domain", "localhost", "Write a domain name"),
        ("domain", "someone@example.com", "without the name before @"),
        ("domain", "exa mple.com", "Write a domain name"),
        ("address", "not-an-address", "Write a whole email address"),
        ("network", "", "Please type a pattern."),
    ],
)
def test_a_bad_pattern_is_refused_with_a_message(app, client, admin, kind, typed, message):
    response = add(client, kind, typed)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    assert stored(app) == []
    with app.app_context():
        assert db.session.scalar(select(AdminEvent.id)) is None


def test_a_second_rule_for_one_pattern_is_refused(app, client, admin):
    add(client, "network", "198.51.100.0/24", action="review")
    response = add(client, "network", "198.51.100.0/24", action="allow")
    assert response.status_code == 422
    assert "There is already a rule for 198.51.100.0/24" in html.unescape(
        response.get_data(as_text=True)
    )
    assert stored(app) == [("network", "198.51.100.0/24", "review")]


def test_adding_and_removing_a_rule_is_audited(app, client, admin):
    add(client, "domain", "spam.example", action="review", note="seen in the attack")
    with app.app_context():
        rule_id = db.session.scalar(select(AccessRule.id))
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "seen in the attack" in page
    response = client.post(f"/admin/rules/{rule_id}/remove", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert stored(app) == []
    with app.app_context():
        events = db.session.execute(
            select(
                AdminEvent.action, AdminEvent.target, AdminEvent.details, AdminEvent.actor_id
            ).order_by(AdminEvent.id)
        ).all()
    assert [tuple(e) for e in events] == [
        ("rule_added", "spam.example", {"kind": "domain", "action": "review"}, admin),
        ("rule_removed", "spam.example", {"kind": "domain", "action": "review"}, admin),
    ]
    log = client.get("/admin/log").get_data(as_text=True)
    assert "rule added" in log and "rule removed" in log


def test_removing_a_rule_twice_says_it_is_gone(client, admin):
    page = client.get("/admin/rules").get_data(as_text=True)
    response = client.post(
        "/admin/rules/999/remove", data={"csrf_token": csrf_token(page)}, follow_redirects=True
    )
    assert "That rule was already removed." in response.get_data(as_text=True)


def test_an_unknown_kind_or_action_is_refused(app, client, admin):
    response = add(client, "phone", "+996 555 000 000")
    assert response.status_code == 422
    response = add(client, "network", "192.0.2.0/24", action="shrug")
    assert response.status_code == 422
    assert stored(app) == []
