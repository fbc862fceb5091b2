"""An organiser chooses the language of their emails in their account settings; the mails
the site sends them afterwards, and the links in them, are in it."""

from __future__ import annotations

from petitions.extensions import db
from petitions.models import User
from tests.fixtures.actors import csrf_token

RESET_SUBJECT_RU = "Сброс пароля"


def choose(client, code: str):
    page = client.get("/account/settings")
    return client.post(
        "/account/settings/language",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "locale": code},
    )


def request_reset(client, email: str) -> None:
    page = client.get("/account/reset")
    client.post(
        "/account/reset",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "email": email},
    )


def test_the_settings_page_offers_every_language_named_in_itself(client, make_user, login_as):
    login_as(make_user())
    page = client.get("/account/settings").get_data(as_text=True)
    assert all(name in page for name in ("English", "Русский", "Кыргызча", "Bahasa Indonesia"))


def test_a_chosen_language_is_kept_on_the_account(app, client, make_user, login_as):
    user_id = make_user()
    login_as(user_id)
    assert choose(client, "ky").status_code == 303
    with app.app_context():
        assert db.session.get(User, user_id).locale == "ky"


def test_mail_after_the_choice_is_in_that_language(client, make_user, login_as, mailbox, deliver):
    login_as(make_user(email="aigul@example.kg"))
    choose(client, "ru")
    request_reset(client, "aigul@example.kg")
    deliver()
    assert mailbox.last_to("aigul@example.kg")["Subject"] == RESET_SUBJECT_RU


def test_a_language_the_site_does_not_offer_is_refused(app, client, make_user, login_as):
    user_id = make_user()
    login_as(user_id)
    answer = choose(client, "xx")
    assert answer.status_code == 422
    with app.app_context():
        assert db.session.get(User, user_id).locale == "en"
