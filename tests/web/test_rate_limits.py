"""Issue 9: the rate limits of every state-changing public endpoint but signing
(petitions/limits.py), the 429 answer, the client's address behind proxies
(petitions/clientaddr.py) and what happens when the limits' Redis is down.

Each test sets the rates it tests (the tests' config is generous, for the other features'
tests). Limits are counted in the app's own memory, new for each test's app; the Redis tests
are in tests/test_shared_limits.py.
"""

from __future__ import annotations

import pytest

from petitions.errors import too_many_requests
from petitions.limits import signing_limits_exceeded
from petitions.services import site_settings
from tests.fixtures.actors import csrf_token
from tests.fixtures.net import free_port

PASSWORD = "correct horse battery"


def form_token(client) -> str:
    """A CSRF token of the client's session (valid for every form of the site)."""
    return csrf_token(client.get("/account/reset").get_data(as_text=True))


def log_in(client, email: str, password: str = PASSWORD, token: str | None = None, **request):
    data = {"csrf_token": token or form_token(client), "email": email, "password": password}
    return client.post("/account/login", data=data, **request)


def from_address(address: str) -> dict:
    """The test client's request as if from the socket address `address`."""
    return {"environ_base": {"REMOTE_ADDR": address}}


def rate_settings(**values: str) -> dict:
    """Rate settings by their names without RATE_, e.g. login_address="3/minute"."""
    return {f"RATE_{name.upper()}": value for name, value in values.items()}


@pytest.fixture
def rates(app):
    """Set the environment's default of some rates in the running app (the runtime settings
    read them at once: the tests' SITE_SETTINGS_SECONDS is 0)."""

    def set_rates(**values: str) -> None:
        app.config.update(rate_settings(**values))

    return set_rates


# --- every endpoint --------------------------------------------------------------------------

#: (rate setting, path, whether it needs a logged-in organiser). Token paths take a bogus token:
#: the limit counts before the token is read, so a script guessing tokens meets it too.
ENDPOINTS = [
    ("signup", "/account/signup", False),
    ("login_address", "/account/login", False),
    ("password_reset", "/account/reset", False),
    ("password_reset", "/account/reset/not-a-token", False),
    ("confirm", "/account/confirm/not-a-token", False),
    ("confirm", "/confirm/not-a-token", False),
    ("confirm", "/confirm/not-a-token/resend", False),
    ("email_change", "/account/email/not-a-token", False),
    ("email_change", "/account/settings/email", True),
    ("login_address", "/account/settings/password", True),
    ("login_address", "/account/settings/delete", True),
    ("new_petition", "/organiser/petitions/new", True),
    ("unsubscribe", "/unsubscribe/not-a-token", False),
]


@pytest.mark.parametrize(
    ("setting", "path", "logged_in"), ENDPOINTS, ids=[f"{s} {p}" for s, p, _ in ENDPOINTS]
)
def test_each_state_changing_endpoint_refuses_posts_beyond_its_rate(
    rates, app, client, make_user, login_as, setting, path, logged_in
):
    rates(**{setting: "2/minute"})
    if logged_in:
        login_as(make_user())
    token = form_token(client)
    answers = [client.post(path, data={"csrf_token": token}).status_code for _ in range(3)]
    assert 429 not in answers[:2], answers
    assert answers[2] == 429


def test_showing_a_form_does_not_count(rates, app, client, make_user):
    rates(login_address="2/minute")
    make_user(email="aigul@example.kg")
    for _ in range(5):
        assert client.get("/account/login").status_code == 200
    assert log_in(client, "aigul@example.kg").status_code == 303


def test_a_confirmation_link_opened_often_still_confirms(rates, app, signer, petition):
    """Mail scanners open links: the confirmation page (GET) changes nothing and does not count."""
    rates(confirm="1/minute")
    assert signer.sign(petition, "scanned@example.kg").status_code == 303
    path = signer.confirmation_path("scanned@example.kg")
    for _ in range(3):
        assert signer.client.get(path).status_code == 200
    assert signer.confirm(path).status_code == 200
    assert signer.count(petition) == 1


# --- the 429 answer --------------------------------------------------------------------------


def test_the_429_page_says_what_happened_and_when_to_try_again(rates, app, client):
    rates(password_reset="1/hour")
    token = form_token(client)
    data = {"csrf_token": token, "email": "someone@example.kg"}
    assert client.post("/account/reset", data=data).status_code == 303
    refused = client.post("/account/reset", data=data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    # The hour's window ends within the hour (Flask-Limiter rounds its end up a second).
    assert 0 < int(refused.headers["Retry-After"]) <= 3600 + 1
    assert "Too many attempts" in html
    assert "Please try again in" in html
    assert "Traceback" not in html
    assert refused.headers["Cache-Control"] == "no-store"


def test_api_clients_get_problem_json_with_retry_after(app):
    with app.test_request_context("/api/petitions"):
        response = too_many_requests(42)
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "42"
    assert response.get_json()["status"] == 429
    assert "42 seconds" in response.get_json()["detail"]


# --- login -----------------------------------------------------------------------------------


def test_failed_logins_from_one_address_meet_its_limit(rates, app, client):
    """Each attempt costs an argon2 hash: a client cannot make the site hash for ever."""
    rates(login_address="3/minute")
    token = form_token(client)
    answers = [
        log_in(client, f"guess{n}@example.kg", "wrong", token=token).status_code for n in range(4)
    ]
    assert answers == [401, 401, 401, 429]


def test_guesses_at_one_account_from_many_addresses_meet_the_account_limit(
    rates, app, client, make_user
):
    rates(login_account="3/minute")
    make_user(email="aigul@example.kg")
    token = form_token(client)
    # The same mailbox however it is written: the limit is the account's.
    spellings = ["aigul@example.kg", "Aigul@Example.KG", " aigul@example.kg", "AIGUL@example.kg"]
    answers = [
        log_in(client, email, "wrong", token=token, **from_address(f"198.51.100.{n}")).status_code
        for n, email in enumerate(spellings, 1)
    ]
    assert answers == [401, 401, 401, 429]


def test_the_account_limit_leaves_other_accounts_alone(rates, app, client, make_user):
    rates(login_account="2/minute")
    make_user(email="aigul@example.kg")
    make_user(email="bakyt@example.kg", name="Bakyt")
    token = form_token(client)
    for _ in range(3):
        log_in(client, "aigul@example.kg", "wrong", token=token)
    assert log_in(client, "bakyt@example.kg", token=token).status_code == 303


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"email": ""},
        {"email": "no at sign"},
        {"email": "@"},
        {"email": "x" * 5000 + "@example.kg"},
        {"email": "a\x00b@example.kg"},
        {"email": "ä@xn--invalid-.kg"},
        {"email": ["one@example.kg", "two@example.kg"]},
    ],
    ids=["missing", "empty", "no @", "only @", "huge", "NUL", "bad IDN", "repeated"],
)
def test_an_odd_login_email_gets_a_clear_answer(rates, app, client, data):
    rates(login_account="2/minute")
    token = form_token(client)
    answers = [
        client.post("/account/login", data={"csrf_token": token, "password": "x", **data})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers[:2]] in ([422, 422], [401, 401])
    assert answers[2].status_code == 429


def test_a_login_that_is_not_a_form_is_refused_clearly(rates, app, client):
    rates(login_account="1/minute")
    token = form_token(client)
    for _ in range(2):
        response = client.post(
            "/account/login",
            json={"email": "aigul@example.kg", "password": "x"},
            headers={"X-CSRFToken": token},
        )
        assert response.status_code in (415, 429)


# --- the client's address --------------------------------------------------------------------


def test_without_proxies_a_clients_own_x_forwarded_for_gains_nothing(rates, app, client):
    rates(login_address="3/minute")
    token = form_token(client)
    answers = [
        log_in(
            client,
            f"guess{n}@example.kg",
            "wrong",
            token=token,
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(4)
    ]
    assert answers == [401, 401, 401, 429]


@pytest.mark.parametrize(
    "proxies",
    [{"PROXY_FIX_HOPS": 1}, {"TRUSTED_PROXIES": ["127.0.0.0/8"]}],
    ids=["PROXY_FIX_HOPS", "TRUSTED_PROXIES"],
)
def test_behind_a_configured_proxy_each_forwarded_client_has_its_own_limit(
    app_config, client_factory, proxies
):
    app_config.update(proxies, **rate_settings(login_address="2/minute"))
    client = client_factory()

    def attempt(forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        token = csrf_token(client.get("/account/login", headers=headers).get_data(as_text=True))
        return log_in(client, "guess@example.kg", "wrong", token=token, headers=headers).status_code

    assert [attempt(f"203.0.113.{n}") for n in range(4)] == [401] * 4
    assert [attempt("198.51.100.7") for _ in range(3)] == [401, 401, 429]


@pytest.fixture
def client_factory(app_config, mailbox):
    """The app's test client, for tests that change app_config after the `rates` fixture."""
    from petitions import create_app
    from petitions.extensions import db
    from tests.fixtures.database import empty_tables

    apps = []

    def make():
        app = create_app(app_config)
        apps.append(app)
        with app.app_context():
            empty_tables()
        return app.test_client()

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            empty_tables()
            db.engine.dispose()


# --- Redis down ------------------------------------------------------------------------------


def test_with_its_redis_down_the_limits_go_on_in_memory(app_config, client_factory):
    """Nothing listens on the port: requests are answered (not refused, no 500), and the
    limits still hold, per process."""
    app_config["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{free_port()}/0"
    app_config.update(rate_settings(login_address="3/minute"))
    client = client_factory()
    token = form_token(client)
    answers = [
        log_in(client, f"guess{n}@example.kg", "wrong", token=token).status_code for n in range(4)
    ]
    assert answers == [401, 401, 401, 429]


def test_with_its_redis_down_the_signing_limits_count_in_memory(app_config, client_factory):
    """The sign POST counts its own limits (limits.signing_limits_exceeded): no error either."""
    app_config["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{free_port()}/0"
    app_config.update(rate_settings(sign_address="2/minute"))
    app = client_factory().application
    with app.test_request_context("/petitions/1/sign", method="POST"):
        settings = site_settings.current()
        exceeded = [
            signing_limits_exceeded(
                petition_id=1, email_domain="example.kg", settings=settings, config=app.config
            )
            for _ in range(3)
        ]
    assert exceeded == [[], [], ["address"]]
