"""Issue 8, defect 3: timing must not tell who signed or who has an account.

Every answer of the sign form, the password reset and the sign-up does the same work: the
same number of SQL statements and the same templates rendered (mail is rendered later by the
worker). Counted deterministically here; bench/timing.py measures the times themselves.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from flask import template_rendered
from sqlalchemy import event

from petitions.extensions import db
from tests.fixtures.actors import csrf_token


@dataclass
class Work:
    statements: int = 0
    templates: list[str] = field(default_factory=list)


@contextmanager
def counting(app):
    """The SQL statements and templates of what runs inside (one request)."""
    work = Work()

    def on_statement(*_args, **_kwargs):
        work.statements += 1

    def on_template(_sender, template, **_extra):
        work.templates.append(template.name)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_statement)
    template_rendered.connect(on_template, app)
    try:
        yield work
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        template_rendered.disconnect(on_template, app)


def _sign_post(client, petition_id: int, email: str):
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "name": "Aibek Asanov",
        "email": email,
        "country": "KG",
        "region": "",
        "consent": "y",
    }
    return lambda: client.post(f"/petitions/{petition_id}/sign", data=data)


def _measure(app, post) -> Work:
    with counting(app) as work:
        response = post()
    assert response.status_code == 303, response.status_code
    return work


def test_every_answer_of_the_sign_form_costs_the_same(app, client, signer, petition):
    app.config["CONFIRMATION_MAX_SENDS"] = 2
    signer.sign_and_confirm(petition, "confirmed@example.kg")
    signer.sign(petition, "pending@example.kg")
    signer.sign(petition, "limited@example.kg")
    signer.sign(petition, "limited@example.kg")
    branches = {
        "new": _measure(app, _sign_post(client, petition, "new@example.kg")),
        "pending": _measure(app, _sign_post(client, petition, "pending@example.kg")),
        "confirmed": _measure(app, _sign_post(client, petition, "confirmed@example.kg")),
        "limit reached": _measure(app, _sign_post(client, petition, "limited@example.kg")),
    }
    assert len({(w.statements, tuple(w.templates)) for w in branches.values()}) == 1, branches


def _reset_post(client, email: str):
    data = {"csrf_token": csrf_token(client.get("/account/reset").get_data(as_text=True))}
    return lambda: client.post("/account/reset", data={**data, "email": email})


def test_a_password_reset_costs_the_same_with_or_without_an_account(app, client, make_user):
    make_user(email="holder@example.kg")
    with_account = _measure(app, _reset_post(client, "holder@example.kg"))
    without = _measure(app, _reset_post(client, "stranger@example.kg"))
    assert (with_account.statements, with_account.templates) == (
        without.statements,
        without.templates,
    )


def _signup_post(client, email: str):
    page = client.get("/account/signup").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "email": email,
        "display_name": "Aigul",
        "password": "a long enough password",
        "password2": "a long enough password",
        "consent": "y",
    }
    return lambda: client.post("/account/signup", data=data)


@pytest.mark.parametrize("existing", ["unconfirmed", "confirmed"])
def test_a_sign_up_costs_the_same_for_a_new_address(app, client, make_user, existing):
    make_user(email="taken@example.kg", confirmed=existing == "confirmed")
    new = _measure(app, _signup_post(client, "fresh@example.kg"))
    repeat = _measure(app, _signup_post(client, "taken@example.kg"))
    assert (repeat.statements, repeat.templates) == (new.statements, new.templates)
