"""Organiser accounts end to end: sign-up, confirmation, login, throttling, reset, changes of
password and address, deletion. Mail goes to the real SMTP server; tests follow the links in it.

A stranger must never learn whether an address has an account: the pages for sign-up, login
failure and reset are compared byte for byte across known and unknown addresses.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update

from petitions.extensions import db
from petitions.http import safe_next
from petitions.models import Petition, User, utcnow
from petitions.passwords import PASSWORD_MAX, PASSWORD_MIN, needs_rehash
from petitions.services.accounts import TokenPurpose
from tests.fixtures.actors import csrf_token
from tests.fixtures.mail import links_in
from tests.fixtures.settings import TEST_SECRET

PASSWORD = "correct horse battery"
NEW_PASSWORD = "another long passphrase"
BASE = "http://localhost"
GENERIC_LOGIN_FAILURE = "We could not log you in with this email address and password."


class AccountActions:
    """What an organiser does in the browser, through one test client."""

    def __init__(self, client, mailbox, deliver) -> None:
        self.client = client
        self.mailbox = mailbox
        self.deliver = deliver

    def form_token(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        return csrf_token(page.get_data(as_text=True))

    def signup(self, email, name="Aigul Organiser", password=PASSWORD, password2=None, **extra):
        data = {
            "csrf_token": self.form_token("/account/signup"),
            "display_name": name,
            "email": email,
            "password": password,
            "password2": password if password2 is None else password2,
            "consent": "y",
            **extra,
        }
        return self.client.post("/account/signup", data={k: v for k, v in data.items() if v})

    def login(self, email, password=PASSWORD, next_=None):
        data = {"csrf_token": self.form_token("/account/login"), "email": email}
        data["password"] = password
        if next_ is not None:
            data["next"] = next_
        return self.client.post("/account/login", data=data)

    def logout(self):
        page = self.client.get("/account/settings")
        return self.client.post(
            "/account/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
        )

    def link(self, email: str, marker: str) -> str:
        """Deliver the outbox; the path of the one link containing `marker` in the newest
        mail to `email`."""
        self.deliver()
        found = [link for link in links_in(self.mailbox.last_to(email)) if marker in link]
        assert len(found) == 1, found
        assert found[0].startswith(BASE)
        return found[0].removeprefix(BASE)

    def press(self, path: str, **data):
        """Open an emailed link (GET), then send its form (POST) with `data`."""
        page = self.client.get(path)
        if page.status_code != 200 or b'name="csrf_token"' not in page.data:
            return page
        return self.client.post(
            path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data}
        )

    def signup_and_confirm(self, email, **kwargs):
        assert self.signup(email, **kwargs).status_code == 303
        response = self.press(self.link(email, "/account/confirm/"))
        assert response.status_code == 200
        assert "Your address is confirmed" in response.get_data(as_text=True)

    def settings_form(self, action: str, **data):
        return self.client.post(
            f"/account/settings/{action}",
            data={"csrf_token": self.form_token("/account/settings"), **data},
        )

    def logged_in(self) -> bool:
        return self.client.get("/account/settings").status_code == 200


@pytest.fixture
def account(client, mailbox, deliver) -> AccountActions:
    return AccountActions(client, mailbox, deliver)


@pytest.fixture
def other_browser(app, mailbox, deliver) -> AccountActions:
    return AccountActions(app.test_client(), mailbox, deliver)


def stored_user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        db.session.remove()
        return user


def set_user(app, user_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(**values))
        db.session.commit()
        db.session.remove()


def text(response) -> str:
    return response.get_data(as_text=True)


def mask(html: str, *variable: str) -> str:
    """The page with its CSRF token (random per session and time) and the typed address
    blanked: what remains must not depend on whether the address has an account."""
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1-", html)
    for value in variable:
        html = html.replace(value, "ADDRESS")
    return html


def aged(path: str, purpose: TokenPurpose, hours: float) -> str:
    """The same link signed `hours` ago: what it is when its holder opens it that late."""
    prefix, _, token = path.rpartition("/")
    serializer = URLSafeTimedSerializer(TEST_SECRET, salt=str(purpose))
    payload = serializer.loads(token)

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - hours * 3600)

    old = URLSafeTimedSerializer(TEST_SECRET, salt=str(purpose), signer=Past)
    return f"{prefix}/{old.dumps(payload)}"


# --- sign-up and confirmation ----------------------------------------------------------------


def test_signup_confirm_login_logout(app, account, mailbox):
    response = account.signup("aigul@example.kg", name="Айгүл Асанова")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/check-email")
    page = account.client.get(response.headers["Location"])
    assert "Check your email" in text(page)

    user = stored_user(app, "aigul@example.kg")
    assert user.display_name == "Айгүл Асанова" and user.role == "organiser"
    assert user.email_confirmed_at is None
    assert user.password_hash != PASSWORD

    path = account.link("aigul@example.kg", "/account/confirm/")
    assert mailbox.last_to("aigul@example.kg")["Subject"] == "Confirm your organiser account"
    # Opening the link (as a mail scanner does) changes nothing.
    page = account.client.get(path)
    assert page.status_code == 200 and "Confirm my address" in text(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert stored_user(app, "aigul@example.kg").email_confirmed_at is None
    assert account.login("aigul@example.kg").status_code == 401

    confirmed = account.press(path)
    assert "Your address is confirmed" in text(confirmed)
    assert stored_user(app, "aigul@example.kg").email_confirmed_at is not None
    # A second press is harmless.
    assert "already confirmed" in text(account.press(path))

    response = account.login("AIGUL@example.kg")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/settings"
    settings = account.client.get("/account/settings")
    assert settings.status_code == 200
    assert "Айгүл Асанова" in text(settings) and "Log out" in text(settings)
    assert stored_user(app, "aigul@example.kg").last_login_at is not None

    assert account.logout().status_code == 303
    assert not account.logged_in()


def test_unconfirmed_account_cannot_log_in(account):
    account.signup("new@example.kg")
    response = account.login("new@example.kg")
    assert response.status_code == 401
    assert GENERIC_LOGIN_FAILURE in text(response)


def test_signup_with_an_existing_account_sends_a_reminder_instead(app, account, mailbox):
    account.signup_and_confirm("aigul@example.kg")
    before = stored_user(app, "aigul@example.kg")
    mailbox.clear()

    response = account.signup("Aigul+petitions@Example.kg", name="Impostor", password="x" * 20)
    assert response.status_code == 303
    account.deliver()
    assert mailbox.to("aigul+petitions@example.kg") == []  # the account's own address is used
    reminder = mailbox.last_to("aigul@example.kg")
    assert reminder["Subject"] == "You already have an account"
    assert [link.removeprefix(BASE) for link in links_in(reminder)] == [
        "/account/login",
        "/account/reset",
    ]
    after = stored_user(app, "aigul@example.kg")
    assert (after.display_name, after.password_hash) == (before.display_name, before.password_hash)
    assert account.login("aigul@example.kg").status_code == 303


def test_signing_up_again_before_confirming_replaces_the_pending_account(app, account):
    account.signup("aigul@example.kg", name="First try", password="first password")
    first_link = account.link("aigul@example.kg", "/account/confirm/")
    account.signup("aigul@example.kg", name="Second try", password=PASSWORD)
    second_link = account.link("aigul@example.kg", "/account/confirm/")
    assert first_link != second_link

    stale = account.press(first_link)
    assert stale.status_code == 404
    assert "This link does not work" in text(stale)
    assert "Sign up again" in text(stale)
    assert "Your address is confirmed" in text(account.press(second_link))
    assert stored_user(app, "aigul@example.kg").display_name == "Second try"
    assert account.login("aigul@example.kg", "first password").status_code == 401
    assert account.login("aigul@example.kg", PASSWORD).status_code == 303


def test_an_expired_confirmation_link_offers_a_way_forward(app, account):
    account.signup("aigul@example.kg")
    path = aged(account.link("aigul@example.kg", "/account/confirm/"), TokenPurpose.CONFIRM, 3)
    for response in (account.client.get(path), account.press(path)):
        assert response.status_code == 410
        assert "This link has expired" in text(response)
        assert 'href="/account/signup"' in text(response)
    assert stored_user(app, "aigul@example.kg").email_confirmed_at is None
    # Signing up again sends a fresh link that works.
    account.signup_and_confirm("aigul@example.kg")


# --- no enumeration --------------------------------------------------------------------------


def test_signup_answers_the_same_for_new_and_existing_addresses(account, make_user, mailbox):
    make_user(email="known@example.kg")
    known = account.signup("known@example.kg")
    unknown = account.signup("unknown@example.kg")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known.data == unknown.data
    assert (
        account.client.get(known.headers["Location"]).data
        == account.client.get(unknown.headers["Location"]).data
    )
    account.deliver()
    assert mailbox.last_to("known@example.kg")["Subject"] == "You already have an account"
    assert mailbox.last_to("unknown@example.kg")["Subject"] == "Confirm your organiser account"


def test_every_login_failure_gets_the_same_page(app, account, make_user):
    make_user(email="right@example.kg")
    make_user(email="pending@example.kg", confirmed=False)
    locked = make_user(email="locked@example.kg")
    set_user(app, locked, locked_until=utcnow() + timedelta(minutes=5))

    cases = {
        "nobody@example.kg": PASSWORD,  # no such account
        "right@example.kg": "wrong password!",  # wrong password
        "pending@example.kg": PASSWORD,  # right password, address not confirmed
        "locked@example.kg": PASSWORD,  # right password, locked
    }
    pages = set()
    for email, password in cases.items():
        response = account.login(email, password)
        assert response.status_code == 401, email
        assert GENERIC_LOGIN_FAILURE in text(response)
        assert "Set-Cookie" not in response.headers
        pages.add(mask(text(response), email))
    assert len(pages) == 1


def test_reset_answers_the_same_for_known_and_unknown_addresses(account, make_user, mailbox):
    make_user(email="known@example.kg")
    responses = []
    for email in ("known@example.kg", "unknown@example.kg"):
        token = account.form_token("/account/reset")
        responses.append(
            account.client.post("/account/reset", data={"csrf_token": token, "email": email})
        )
    known, unknown = responses
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known.data == unknown.data
    account.deliver()
    assert [m["Subject"] for m in mailbox.messages] == ["Reset your password"]


# --- throttling ------------------------------------------------------------------------------


def test_failed_logins_lock_the_account_until_the_lock_time_passes(app, account, make_user):
    user_id = make_user(email="aigul@example.kg")
    for attempt in range(app.config["LOGIN_MAX_FAILURES"]):
        assert account.login("aigul@example.kg", f"guess number {attempt}").status_code == 401
    user = stored_user(app, "aigul@example.kg")
    assert user.locked_until is not None
    lock = user.locked_until - utcnow()
    assert timedelta(seconds=app.config["LOGIN_LOCK_SECONDS"] - 60) < lock
    assert lock <= timedelta(seconds=app.config["LOGIN_LOCK_SECONDS"])

    # Locked: even the right password is refused, with the same message.
    response = account.login("aigul@example.kg", PASSWORD)
    assert response.status_code == 401 and GENERIC_LOGIN_FAILURE in text(response)

    # The lock time passes.
    set_user(app, user_id, locked_until=utcnow() - timedelta(seconds=1))
    assert account.login("aigul@example.kg", PASSWORD).status_code == 303
    user = stored_user(app, "aigul@example.kg")
    assert user.failed_logins == 0 and user.locked_until is None


def test_a_success_resets_the_failure_count(app, account, make_user):
    make_user(email="aigul@example.kg")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        account.login("aigul@example.kg", "not the password")
    assert stored_user(app, "aigul@example.kg").failed_logins == 4
    assert account.login("aigul@example.kg").status_code == 303
    assert stored_user(app, "aigul@example.kg").failed_logins == 0


@pytest.mark.parametrize("limit", [1, 3])
def test_the_failure_limit_is_configurable(app_config, limit, request):
    app_config["LOGIN_MAX_FAILURES"] = limit
    app = request.getfixturevalue("app")
    make_user = request.getfixturevalue("make_user")
    account = request.getfixturevalue("account")
    make_user(email="aigul@example.kg")
    for _ in range(limit - 1):
        account.login("aigul@example.kg", "not the password")
    assert stored_user(app, "aigul@example.kg").locked_until is None
    account.login("aigul@example.kg", "not the password")
    assert stored_user(app, "aigul@example.kg").locked_until is not None


def test_an_outdated_hash_is_upgraded_at_login(app, account, make_user):
    user_id = make_user(email="aigul@example.kg")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with app.app_context():
        assert needs_rehash(weak)
    set_user(app, user_id, password_hash=weak)
    assert account.login("aigul@example.kg").status_code == 303
    upgraded = stored_user(app, "aigul@example.kg").password_hash
    assert upgraded != weak
    with app.app_context():
        assert not needs_rehash(upgraded), "hashed with the configured parameters"
    account.logout()
    assert account.login("aigul@example.kg").status_code == 303


# --- redirects after login -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account/settings", "/account/settings"),
        ("/petitions/1?tab=2", "/petitions/1?tab=2"),
        ("https://evil.example/", "/account/settings"),
        ("//evil.example/", "/account/settings"),
        ("/\\evil.example/", "/account/settings"),
        ("\\\\evil.example", "/account/settings"),
        ("javascript:alert(1)", "/account/settings"),
        ("http:/evil.example", "/account/settings"),
        ("/ok\r\nSet-Cookie: x=1", "/account/settings"),
        ("", "/account/settings"),
    ],
)
def test_login_redirects_only_to_local_paths(account, make_user, target, expected):
    make_user(email="aigul@example.kg")
    response = account.login("aigul@example.kg", next_=target)
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_the_login_page_keeps_next_from_the_query(account, make_user):
    make_user(email="aigul@example.kg")
    redirected = account.client.get("/account/settings")
    assert redirected.status_code == 302
    login_page = redirected.headers["Location"]
    assert login_page.startswith("/account/login?next=")
    page = account.client.get(login_page)
    data = {
        "csrf_token": csrf_token(text(page)),
        "email": "aigul@example.kg",
        "password": PASSWORD,
        "next": re.search(r'name="next" type="hidden" value="([^"]*)"', text(page)).group(1),
    }
    response = account.client.post("/account/login", data=data)
    assert response.headers["Location"] == "/account/settings"


@pytest.mark.parametrize(
    "target", ["//x.example", "https://x.example", "/\\x", "x", None, "/a" * 1500]
)
def test_safe_next_refuses_other_sites(target):
    assert safe_next(target) is None


# --- password reset --------------------------------------------------------------------------


def test_password_reset_by_emailed_link(app, account, other_browser, make_user, mailbox):
    make_user(email="aigul@example.kg")
    assert other_browser.login("aigul@example.kg").status_code == 303

    token = account.form_token("/account/reset")
    account.client.post("/account/reset", data={"csrf_token": token, "email": "aigul@example.kg"})
    path = account.link("aigul@example.kg", "/account/reset/")
    assert mailbox.last_to("aigul@example.kg")["Subject"] == "Reset your password"
    page = account.client.get(path)
    assert page.status_code == 200 and "Choose a new password" in text(page)

    response = account.press(path, password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/account/login"
    assert "Your password has been changed" in text(account.client.get("/account/login"))

    assert not other_browser.logged_in()  # every session of the account ended
    assert account.login("aigul@example.kg", PASSWORD).status_code == 401
    assert account.login("aigul@example.kg", NEW_PASSWORD).status_code == 303

    # The link works once.
    used = account.client.get(path)
    assert used.status_code == 404
    assert "already been used" in text(used)
    assert 'href="/account/reset"' in text(used)


def test_reset_unlocks_and_confirms(app, account, make_user):
    user_id = make_user(email="aigul@example.kg", confirmed=False)
    set_user(app, user_id, locked_until=utcnow() + timedelta(minutes=10), failed_logins=3)
    token = account.form_token("/account/reset")
    account.client.post("/account/reset", data={"csrf_token": token, "email": "aigul@example.kg"})
    path = account.link("aigul@example.kg", "/account/reset/")
    account.press(path, password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert account.login("aigul@example.kg", NEW_PASSWORD).status_code == 303


def test_a_reset_link_stops_working_after_a_password_change(app, account, make_user):
    make_user(email="aigul@example.kg")
    token = account.form_token("/account/reset")
    account.client.post("/account/reset", data={"csrf_token": token, "email": "aigul@example.kg"})
    path = account.link("aigul@example.kg", "/account/reset/")
    account.login("aigul@example.kg")
    account.settings_form(
        "password", current_password=PASSWORD, password=NEW_PASSWORD, password2=NEW_PASSWORD
    )
    assert account.client.get(path).status_code == 404


def test_an_expired_reset_link_offers_a_new_one(account, make_user):
    make_user(email="aigul@example.kg")
    token = account.form_token("/account/reset")
    account.client.post("/account/reset", data={"csrf_token": token, "email": "aigul@example.kg"})
    path = aged(account.link("aigul@example.kg", "/account/reset/"), TokenPurpose.RESET, 2.1)
    response = account.press(path)
    assert response.status_code == 410
    assert "This link has expired" in text(response)
    assert 'href="/account/reset"' in text(response)
    still = account.client.post(
        path,
        data={
            "csrf_token": account.form_token("/account/reset"),
            "password": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert still.status_code == 410
    assert account.login("aigul@example.kg").status_code == 303


@pytest.mark.parametrize("kind", ["confirm", "reset", "email"])
@pytest.mark.parametrize(
    "token",
    ["", "x", "not-a-token", "eyJhbGciOi.abc.def", "WzEsMSwiIl0.aaaaaa.bbbbbbbbbbbbbbbb", "%00"],
)
def test_broken_links_get_a_clear_page(account, make_user, kind, token):
    make_user()
    for response in (
        account.client.get(f"/account/{kind}/{token}"),
        account.client.post(
            f"/account/{kind}/{token}", data={"csrf_token": account.form_token("/account/login")}
        ),
    ):
        assert response.status_code in (404, 405), response.status_code
        if response.status_code == 404 and token:
            assert "This link does not work" in text(response) or "Page not found" in text(response)


@pytest.mark.parametrize(
    ("minted_for", "opened_as"),
    [
        (TokenPurpose.RESET, "confirm"),
        (TokenPurpose.CONFIRM, "reset"),
        (TokenPurpose.CONFIRM, "email"),
    ],
)
def test_a_link_of_one_kind_never_works_as_another(app, account, make_user, minted_for, opened_as):
    user_id = make_user(confirmed=False)
    serializer = URLSafeTimedSerializer(TEST_SECRET, salt=str(minted_for))
    token = serializer.dumps([user_id, 1, "x@example.kg"])
    response = account.client.get(f"/account/{opened_as}/{token}")
    assert response.status_code == 404
    assert "This link does not work" in text(response)


def test_a_tampered_link_does_not_work(account):
    account.signup("aigul@example.kg")
    path = account.link("aigul@example.kg", "/account/confirm/")
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    response = account.press(tampered)
    assert response.status_code == 404
    assert "This link does not work" in text(response)


# --- settings: password, address, deletion ---------------------------------------------------


def test_change_password_keeps_this_session_and_ends_the_others(
    app, account, other_browser, make_user
):
    make_user(email="aigul@example.kg")
    account.login("aigul@example.kg")
    other_browser.login("aigul@example.kg")

    wrong = account.settings_form(
        "password", current_password="not it at all", password=NEW_PASSWORD, password2=NEW_PASSWORD
    )
    assert wrong.status_code == 422
    assert "This is not your current password." in text(wrong)

    response = account.settings_form(
        "password", current_password=PASSWORD, password=NEW_PASSWORD, password2=NEW_PASSWORD
    )
    assert response.status_code == 303
    page = account.client.get("/account/settings")  # still logged in
    assert page.status_code == 200 and "Your password has been changed" in text(page)
    assert not other_browser.logged_in()
    assert other_browser.login("aigul@example.kg", PASSWORD).status_code == 401
    assert other_browser.login("aigul@example.kg", NEW_PASSWORD).status_code == 303


def test_change_email_needs_the_new_address_confirmed(app, account, other_browser, mailbox):
    account.signup_and_confirm("old@example.kg")
    account.login("old@example.kg")

    wrong = account.settings_form("email", email="new@example.kg", password="nope nope nope")
    assert wrong.status_code == 422 and "This is not your current password." in text(wrong)

    response = account.settings_form("email", email="new@example.kg", password=PASSWORD)
    assert response.status_code == 303
    path = account.link("new@example.kg", "/account/email/")
    assert mailbox.last_to("new@example.kg")["Subject"] == "Confirm your new email address"
    # Nothing changes before the link is used, even when it is opened.
    page = account.client.get(path)
    assert page.status_code == 200 and "new@example.kg" in text(page)
    assert stored_user(app, "old@example.kg") is not None

    done = account.press(path)
    assert done.status_code == 200 and "Your email address is changed" in text(done)
    assert account.logged_in()  # the browser that confirmed stays logged in
    assert stored_user(app, "old@example.kg") is None
    assert stored_user(app, "new@example.kg").email_confirmed_at is not None

    account.deliver()
    notice = mailbox.last_to("old@example.kg")
    assert notice["Subject"] == "Your account's email address was changed"
    assert "new@example.kg" in notice.get_body(preferencelist=("plain",)).get_content()

    assert other_browser.login("old@example.kg").status_code == 401
    assert other_browser.login("new@example.kg").status_code == 303
    assert account.client.get(path).status_code == 404  # used


def test_change_email_to_a_taken_address_tells_that_address(app, account, make_user, mailbox):
    make_user(email="taken@example.kg", name="Someone Else")
    account.signup_and_confirm("aigul@example.kg")
    account.login("aigul@example.kg")
    mailbox.clear()
    response = account.settings_form("email", email="Taken@example.kg", password=PASSWORD)
    assert response.status_code == 303  # the same answer as for a free address
    account.deliver()
    mail = mailbox.last_to("Taken@example.kg")
    assert mail["Subject"] == "Someone tried to move an account to your address"
    assert all("/account/email/" not in link for link in links_in(mail))
    assert stored_user(app, "aigul@example.kg") is not None


def test_delete_account_keeps_its_petitions(app, account, make_petition, get_petition):
    account.signup_and_confirm("aigul@example.kg")
    user_id = stored_user(app, "aigul@example.kg").id
    petition_id = make_petition(title="Clean air for Bishkek")
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(owner_id=user_id)
        )
        db.session.commit()
        db.session.remove()
    account.login("aigul@example.kg")
    shown = text(account.client.get(f"/petitions/{petition_id}"))
    assert "Started by " in shown and "former organiser" not in shown

    wrong = account.settings_form("delete", password="not my password", confirm="y")
    assert wrong.status_code == 422 and "This is not your current password." in text(wrong)
    unticked = account.settings_form("delete", password=PASSWORD)
    assert unticked.status_code == 422 and "Please tick the box to confirm." in text(unticked)
    assert stored_user(app, "aigul@example.kg") is not None

    done = account.settings_form("delete", password=PASSWORD, confirm="y")
    assert done.status_code == 200 and "Your account is deleted" in text(done)
    assert stored_user(app, "aigul@example.kg") is None
    assert not account.logged_in()

    petition = get_petition(petition_id)
    assert petition.owner_id is None and petition.owner_removed_at is not None
    page = account.client.get(f"/petitions/{petition_id}")
    assert page.status_code == 200 and "Clean air for Bishkek" in text(page)
    assert "Started by a former organiser" in text(page)
    # The address is free again.
    assert account.signup("aigul@example.kg").status_code == 303


# --- access, CSRF, cookies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/account/settings"),
        ("post", "/account/settings/password"),
        ("post", "/account/settings/email"),
        ("post", "/account/settings/delete"),
    ],
)
def test_anonymous_users_are_sent_to_login(app, client, method, path):
    app.config["WTF_CSRF_ENABLED"] = False
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")


@pytest.mark.parametrize(
    "path", ["/account/signup", "/account/login", "/account/reset", "/account/logout"]
)
def test_forms_without_csrf_token_get_the_expired_form_page(client, path):
    response = client.post(path, data={"email": "a@example.kg", "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in text(response)


def test_logout_is_a_post_with_csrf(account, make_user):
    make_user(email="aigul@example.kg")
    account.login("aigul@example.kg")
    assert account.client.get("/account/logout").status_code == 405
    assert account.client.post("/account/logout").status_code == 400
    assert account.logged_in()
    page = account.client.get("/")
    assert 'action="/account/logout"' in text(page)
    account.client.post("/account/logout", data={"csrf_token": csrf_token(text(page))})
    assert not account.logged_in()


def copy_of_cookie(app, browser: AccountActions) -> AccountActions:
    """Another client holding a copy of `browser`'s session cookie, as a thief would."""
    cookie = browser.client.get_cookie("session", domain="localhost")
    assert cookie is not None
    thief = AccountActions(app.test_client(), browser.mailbox, browser.deliver)
    thief.client.set_cookie("session", cookie.value, domain="localhost")
    return thief


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, account, make_user):
    make_user(email="aigul@example.kg")
    account.login("aigul@example.kg")
    thief = copy_of_cookie(app, account)
    assert thief.logged_in()  # the copy works while the session lasts

    assert account.logout().status_code == 303
    response = thief.client.get("/account/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/login?next=%2Faccount%2Fsettings"


def test_logging_out_leaves_other_devices_logged_in(account, other_browser, make_user):
    make_user(email="aigul@example.kg")
    account.login("aigul@example.kg")
    other_browser.login("aigul@example.kg")
    account.logout()
    assert not account.logged_in()
    assert other_browser.logged_in()


def test_logging_in_again_ends_the_browsers_earlier_session(app, account, make_user):
    make_user(email="aigul@example.kg")
    account.login("aigul@example.kg")
    earlier = copy_of_cookie(app, account)
    # The login form of a logged-in browser redirects; a form posted from another tab does not.
    again = account.client.post(
        "/account/login",
        data={
            "csrf_token": account.form_token("/account/settings"),
            "email": "aigul@example.kg",
            "password": PASSWORD,
        },
    )
    assert again.status_code == 303
    assert account.logged_in()
    assert not earlier.logged_in()


def test_a_session_from_before_server_side_sessions_is_logged_out(app, client, make_user):
    """A cookie made before the deploy names the user but has no session key."""
    user_id = make_user(email="aigul@example.kg")
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:1"
        session["_fresh"] = True
    response = client.get("/account/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/login?next=%2Faccount%2Fsettings"
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/account/login"' in text(home)


def test_a_password_change_ends_the_sessions_of_copied_cookies(app, account, make_user):
    make_user(email="aigul@example.kg")
    account.login("aigul@example.kg")
    thief = copy_of_cookie(app, account)
    response = account.settings_form(
        "password", current_password=PASSWORD, password=NEW_PASSWORD, password2=NEW_PASSWORD
    )
    assert response.status_code == 303
    assert account.logged_in()
    assert not thief.logged_in()


def test_navigation_shows_who_is_logged_in(account, make_user, app):
    anonymous = text(account.client.get("/"))
    assert 'href="/account/login"' in anonymous and 'href="/account/signup"' in anonymous
    make_user(email="aigul@example.kg", name="Aigul Navigator")
    account.login("aigul@example.kg")
    page = text(account.client.get("/"))
    assert "Aigul Navigator" in page and 'href="/account/signup"' not in page
    has_my_petitions = "organiser.my_petitions" in app.view_functions
    assert ("My petitions" in page) == has_my_petitions


def test_session_cookie_flags(account, make_user):
    make_user(email="aigul@example.kg")
    response = account.login("aigul@example.kg")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # testing runs over http


def test_session_cookie_is_secure_in_production(app_config, request):
    """The login form's CSRF token is the first thing stored in the session."""
    app_config["PETITIONS_ENV"] = "production"
    client = request.getfixturevalue("client")
    cookie = client.get("/account/login").headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- input -----------------------------------------------------------------------------------

CONTROL = "bad\x07value"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", "", "Please enter your name."),
        ("display_name", "...", "Please enter your name."),
        ("display_name", "A" * 101, "Please use at most 100 characters."),
        ("display_name", CONTROL, "characters we cannot accept"),
        ("email", "", "Please enter your email address."),
        ("email", "not-an-address", "does not look like an email address"),
        ("email", "a" * 250 + "@example.kg", "Please use at most 254 characters."),
        ("email", "a\x00b@example.kg", "characters we cannot accept"),
        ("password", "short", f"Please use at least {PASSWORD_MIN} characters."),
        ("password", "p" * (PASSWORD_MAX + 1), f"Please use at most {PASSWORD_MAX} characters."),
        ("password", "long enough\x1b[31m", "characters we cannot accept"),
        ("password2", "something else entirely", "The two passwords are not the same."),
        ("consent", "", "We can only open an account with your agreement."),
    ],
)
def test_signup_input_is_checked(app, account, field, value, message):
    data = {
        "display_name": "Aigul",
        "email": "aigul@example.kg",
        "password": PASSWORD,
        "password2": PASSWORD,
        "consent": "y",
    }
    if field == "password":
        data["password2"] = value
    data[field] = value
    data = {key: val for key, val in data.items() if val}
    response = account.client.post(
        "/account/signup", data={"csrf_token": account.form_token("/account/signup"), **data}
    )
    assert response.status_code == 422
    assert message in text(response)
    assert stored_user(app, "aigul@example.kg") is None


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("", PASSWORD, "Please enter your email address."),
        ("aigul@example.kg", "", "Please enter your password"),
        ("a" * 300, PASSWORD, "Please use at most 254 characters."),
        ("aigul@example.kg", "p" * 1000, f"Please use at most {PASSWORD_MAX} characters."),
        ("aigul\x00@example.kg", PASSWORD, "characters we cannot accept"),
    ],
)
def test_login_input_is_checked(account, make_user, email, password, message):
    make_user(email="aigul@example.kg")
    response = account.login(email, password)
    assert response.status_code == 422
    assert message in text(response)


def test_undecodable_bytes_are_refused_clearly(account):
    token = account.form_token("/account/signup")
    body = (
        f"csrf_token={token}&display_name=Ai%FFgul&email=aigul%40example.kg"
        f"&password=correct+horse+battery&password2=correct+horse+battery&consent=y"
    )
    response = account.client.post(
        "/account/signup", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422
    assert "characters we cannot accept" in text(response)


def test_passwords_are_compared_in_nfc(account, make_user):
    make_user(email="aigul@example.kg", password="Kyrgyzstan café ü")
    decomposed = "Kyrgyzstan cafe\u0301 u\u0308"
    assert account.login("aigul@example.kg", decomposed).status_code == 303


def test_wrong_current_passwords_count_towards_the_lock(app, account, make_user):
    make_user(email="aigul@example.kg")
    account.login("aigul@example.kg")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = account.settings_form("delete", password="a wrong guess", confirm="y")
        assert response.status_code == 422
    assert stored_user(app, "aigul@example.kg").locked_until is not None
    refused = account.settings_form("delete", password=PASSWORD, confirm="y")
    assert refused.status_code == 422 and "This is not your current password." in text(refused)
    assert stored_user(app, "aigul@example.kg") is not None
