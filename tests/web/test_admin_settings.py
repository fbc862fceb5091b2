"""The admins' runtime settings page and the site audit log: a change is in force at once,
audited with its old and new value; a bad value is refused with a message and not stored."""

from __future__ import annotations

import html
import threading

import pytest
from sqlalchemy import func, select

from petitions.extensions import db
from petitions.models import AdminEvent, SiteSetting
from tests.fixtures.actors import csrf_token, log_in_client


@pytest.fixture
def admin(make_user, login_as) -> int:
    user_id = make_user(email="admin@example.kg", role="admin", name="Asel Admin")
    login_as(user_id)
    return user_id


def change(client, key: str, value: str, language: str = ""):
    """`language`: on that language's pages (`/ru/admin/`)."""
    root = f"/{language}" if language else ""
    page = client.get(f"{root}/admin/")
    assert page.status_code == 200
    return client.post(
        f"{root}/admin/settings/{key}",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "value": value},
    )


def audit_entries(app) -> list[tuple[str, str, dict | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(AdminEvent.action, AdminEvent.target, AdminEvent.details).order_by(AdminEvent.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_the_page_lists_every_setting_with_its_default(client, admin):
    page = html.unescape(client.get("/admin/").get_data(as_text=True))
    assert 'data-setting="rate_sign_address"' in page
    assert 'data-setting="creation_paused"' in page
    assert "Signatures per client address" in page


def test_pausing_creation_shows_organisers_a_clear_page_and_is_audited(
    app, client, admin, make_user
):
    response = change(client, "creation_paused", "yes")
    assert response.status_code == 303

    organiser = app.test_client()
    log_in_client(app, organiser, make_user(email="writer@example.kg"))
    page = organiser.get("/organiser/petitions/new")
    assert page.status_code == 503
    assert "Starting petitions is paused" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    refused = organiser.post("/organiser/petitions/new", data={"csrf_token": token, "title": "x"})
    assert refused.status_code == 503
    assert audit_entries(app) == [
        ("setting_changed", "creation_paused", {"old": False, "new": True})
    ]


def test_reset_brings_back_the_default_and_is_audited(app, client, admin, make_user):
    change(client, "rate_sign_address", "2/minute")
    page = client.get("/admin/").get_data(as_text=True)
    response = client.post(
        "/admin/settings/rate_sign_address/reset", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303
    default = app.config["RATE_SIGN_ADDRESS"]
    assert audit_entries(app)[-1] == (
        "setting_reset",
        "rate_sign_address",
        {"old": "2/minute", "new": default},
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SiteSetting)) == 0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("rate_sign_address", "lots", 'Write rates as "number/period"'),
        ("mail_cap_per_recipient", "-3", "Write zero or more."),
        ("sign_min_seconds", "a while", "Write a number of seconds."),
        ("proof_of_work", "perhaps", "Write yes or no."),
        ("over_limit_signatures", "ignore", "Choose one of: flag, refuse."),
        ("trending_threshold", "", "Please type a value."),
    ],
)
def test_a_bad_value_is_refused_with_a_message_and_nothing_is_stored(
    app, client, admin, key, value, message
):
    response = change(client, key, value)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SiteSetting)) == 0
    assert audit_entries(app) == []


def test_an_unknown_setting_is_404(client, admin):
    assert change(client, "no_such_setting", "1").status_code == 404


def test_the_changed_value_its_author_and_the_log_are_shown(app, client, admin):
    change(client, "rate_sign_network", "50/hour")
    page = client.get("/admin/").get_data(as_text=True)
    row = page.split('data-setting="rate_sign_network"')[1].split("</tr>")[0]
    assert "50/hour" in row and "Asel Admin" in row

    log = html.unescape(client.get("/admin/log").get_data(as_text=True))
    assert "setting changed" in log and "rate_sign_network" in log and "new: 50/hour" in log


def test_a_moderator_cannot_change_settings(app, client, make_user, login_as):
    login_as(make_user(email="mod@example.kg", role="moderator"))
    assert client.get("/admin/").status_code == 403
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post(
        "/admin/settings/creation_paused", data={"csrf_token": token, "value": "yes"}
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SiteSetting)) == 0


def test_admins_see_the_admin_link(client, admin):
    assert 'href="/admin/"' in client.get("/").get_data(as_text=True)


def test_two_admins_setting_a_key_for_the_first_time_at_once_both_succeed(app, make_user):
    """The first change of a key inserts its row: a second admin's change made before the first
    commits waits for it and then wins, instead of failing on the primary key."""
    from petitions.models import utcnow
    from petitions.services import site_settings

    first, second = (make_user(email=f"admin{n}@example.kg", role="admin") for n in range(2))
    errors: list[BaseException] = []

    def change(actor_id: int, value: str) -> None:
        site_settings.change(
            db.session,
            "rate_sign_address",
            value,
            config=app.config,
            actor_id=actor_id,
            now=utcnow(),
        )

    def later() -> None:
        with app.app_context():
            try:
                change(second, "4/minute")
                db.session.commit()
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
            finally:
                db.session.remove()

    with app.app_context():
        change(first, "3/minute")
        thread = threading.Thread(target=later)
        thread.start()
        thread.join(timeout=0.5)
        db.session.commit()
        db.session.remove()
    thread.join(timeout=30)

    assert errors == []
    with app.app_context():
        stored = db.session.scalar(
            select(SiteSetting.value).where(SiteSetting.key == "rate_sign_address")
        )
        db.session.remove()
    assert stored == "4/minute"


@pytest.mark.parametrize(("lang", "yes", "no"), [("ru", "да", "нет"), ("ky", "Ооба", "жок")])
def test_an_admin_may_answer_yes_or_no_in_their_language(app, client, admin, lang, yes, no):
    assert change(client, "creation_paused", yes, lang).status_code == 303
    assert change(client, "creation_paused", no, lang).status_code == 303
    assert [entry[2] for entry in audit_entries(app)] == [
        {"old": False, "new": True},
        {"old": True, "new": False},
    ]
