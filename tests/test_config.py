"""Configuration: the environment picks and overrides settings, production refuses unsafe ones,
and every page carries the security headers."""

from pathlib import Path

import pytest

import config
from petitions import create_app, database_url
from petitions.emailaddr import configured_alias_rules

#: Every variable the app or gunicorn.conf.py reads: the rows of config.SETTINGS.
CONFIG_VARIABLES = set(config.ENVIRONMENT_VARIABLES)
README = Path(__file__).resolve().parent.parent / "README.md"

REAL_SECRET = "a-long-random-production-secret-3f9c2b7e0d41a6"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No setting leaks in from the shell that runs the tests; the database is a temp file."""
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'config.sqlite3'}")


def test_the_variables_were_found():
    assert {"SECRET_KEY", "DATABASE_URL", "MAIL_PORT", "COUNT_SHARDS"} <= CONFIG_VARIABLES
    assert {"PETITIONS_ENV", "WEB_WORKERS", "WEB_BIND"} <= CONFIG_VARIABLES


# --- the table of settings -------------------------------------------------------------------


def test_each_setting_and_variable_is_written_once():
    names = [row.name for row in config.SETTINGS]
    variables = [row.variable for row in config.SETTINGS]
    assert len(set(names)) == len(names)
    assert len(set(variables)) == len(variables)
    assert all(row.meaning.strip() for row in config.SETTINGS)


def test_a_setting_cannot_also_be_a_plain_attribute():
    """Its default is the row's; a second one in the class body would be a second truth."""
    with pytest.raises(TypeError, match="MAIL_PORT is a row of SETTINGS"):

        @config._with_settings
        class Twice:
            MAIL_PORT = 2525


def test_readme_has_the_table_the_settings_print(runner):
    """Regenerate it with `flask --app petitions config-docs --readme README.md`."""
    readme = README.read_text(encoding="utf-8")
    assert readme.count(config.DOCS_START) == 1
    assert readme.count(config.DOCS_END) == 1
    assert config.readme_with_table(readme) == readme
    printed = runner.invoke(args=["config-docs"])
    assert printed.exit_code == 0, printed.output
    assert f"{config.DOCS_START}\n{printed.output}{config.DOCS_END}" in readme


def test_config_docs_rewrites_a_stale_table(runner, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Intro\n\n{config.DOCS_START}\n| old |\n{config.DOCS_END}\n\nMore.\n")
    result = runner.invoke(args=["config-docs", "--readme", str(readme)])
    assert result.exit_code == 0, result.output
    assert "table updated" in result.output
    text = readme.read_text()
    assert "| old |" not in text
    assert text.startswith(f"# Intro\n\n{config.DOCS_START}\n| Variable | Default | Meaning |")
    assert text.endswith(f" |\n{config.DOCS_END}\n\nMore.\n")
    for row in config.SETTINGS:
        assert f"| `{row.variable}` |" in text
    again = runner.invoke(args=["config-docs", "--readme", str(readme)])
    assert "table up to date" in again.output


def test_config_docs_needs_the_markers(runner, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# No table here\n")
    result = runner.invoke(args=["config-docs", "--readme", str(readme)])
    assert result.exit_code != 0
    assert "config-docs: start" in result.output
    assert readme.read_text() == "# No table here\n"


#: A value of each kind the environment can give, and what the app makes of it.
SAMPLES = {
    "str": ("sample-value", "sample-value"),
    "url": ("https://sample.example.kg/", "https://sample.example.kg"),
    "int": ("7", 7),
    "float": ("2.5", 2.5),
    "bool": ("true", True),
    "list": ("a.example.kg, b.example.kg", ["a.example.kg", "b.example.kg"]),
    "int_list": ("7,70", (7, 70)),
}
#: Settings whose sample of their kind the app would refuse or rewrite.
SAMPLE_OVERRIDES = {
    "SQLALCHEMY_DATABASE_URI": ("sqlite:///{tmp}/sample.sqlite3", "sqlite:///{tmp}/sample.sqlite3"),
    "DATABASE_REPLICA_URL": (
        "postgres://reader@replica.example.kg/petitions",
        "postgresql+psycopg://reader@replica.example.kg/petitions",
    ),
    "PASSWORD_HASH_PROFILE": ("RFC_9106_HIGH_MEMORY", "RFC_9106_HIGH_MEMORY"),
    "EMAIL_ALIAS_RULES": ("corp.kg: ignore=.", configured_alias_rules("corp.kg: ignore=.")),
    "WEB_THREADS": ("12", 12),
    "LIVE_MAX_STREAMS": ("1", 1),
    "TRUSTED_PROXIES": ("10.0.0.0/8, 192.168.0.0/16", ["10.0.0.0/8", "192.168.0.0/16"]),
    "RATELIMIT_STORAGE_URI": ("redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/15"),
    "RATELIMIT_ENABLED": ("false", False),
    "OVER_LIMIT_SIGNATURES": ("refuse", "refuse"),
    **{
        row.name: ("7/minute;70/day", "7/minute;70/day")
        for row in config.SETTINGS
        if row.name.startswith("RATE_") and row.kind == "str"
    },
}


@pytest.mark.parametrize("row", config.APP_SETTINGS, ids=lambda row: row.variable)
def test_every_setting_is_read_from_its_variable(monkeypatch, tmp_path, row):
    raw, expected = SAMPLE_OVERRIDES.get(row.name, SAMPLES[row.kind])
    if isinstance(raw, str):
        raw = raw.format(tmp=tmp_path)
    if isinstance(expected, str):
        expected = expected.format(tmp=tmp_path)
    monkeypatch.setenv(row.variable, raw)
    assert getattr(config.TestingConfig, row.name) != expected, "the sample is the default"
    app = create_app({"PETITIONS_ENV": "testing"})
    assert app.config[row.name] == expected
    assert type(app.config[row.name]) is type(expected)


def test_the_other_rows_are_read_where_they_say():
    assert {row.variable: row.read_by for row in config.SETTINGS if row.read_by != "app"} == {
        "PETITIONS_ENV": "create_app",
        "WEB_WORKERS": "gunicorn",
        "WEB_BIND": "gunicorn",
        "WEB_TIMEOUT": "gunicorn",
        "WEB_GRACEFUL_TIMEOUT": "gunicorn",
        "WEB_KEEPALIVE": "gunicorn",
        "WEB_MAX_REQUESTS": "gunicorn",
        "WEB_MAX_REQUESTS_JITTER": "gunicorn",
        "WEB_LIMIT_REQUEST_LINE": "gunicorn",
        "WEB_LIMIT_REQUEST_FIELDS": "gunicorn",
        "WEB_LIMIT_REQUEST_FIELD_SIZE": "gunicorn",
    }
    gunicorn_conf = (README.parent / "gunicorn.conf.py").read_text()
    for row in config.SETTINGS:
        if row.read_by == "gunicorn":
            assert f'setting("{row.variable}").read(' in gunicorn_conf
            assert row.name not in create_app({"PETITIONS_ENV": "testing"}).config


# --- production refuses unsafe secrets -------------------------------------------------------


@pytest.mark.parametrize(
    "secret_from_env",
    [None, "", "   ", config.DEFAULT_SECRET_KEY],
    ids=["unset", "empty", "blank", "default"],
)
def test_production_refuses_the_default_or_an_empty_secret(monkeypatch, secret_from_env):
    monkeypatch.setenv("PETITIONS_ENV", "production")
    if secret_from_env is not None:
        monkeypatch.setenv("SECRET_KEY", secret_from_env)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


@pytest.mark.parametrize("secret", ["", None, config.DEFAULT_SECRET_KEY])
def test_production_refuses_an_unsafe_secret_from_test_config(secret):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"PETITIONS_ENV": "production", "SECRET_KEY": secret})


def test_production_starts_with_a_real_secret(monkeypatch):
    monkeypatch.setenv("PETITIONS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    app = create_app()
    assert app.config["PETITIONS_ENV"] == "production"
    assert app.config["SECRET_KEY"] == REAL_SECRET
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["PREFERRED_URL_SCHEME"] == "https"
    assert not app.config.get("TESTING")
    assert not app.debug
    # Without its own key, the signer hash falls back to the (real) secret.
    assert app.config["SIGNER_HASH_KEY"] == REAL_SECRET


def test_production_secure_cookie_can_be_turned_off_explicitly(monkeypatch):
    """For a deployment tested over plain HTTP on a private network."""
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")
    app = create_app({"PETITIONS_ENV": "production", "SECRET_KEY": REAL_SECRET})
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_development_is_the_default_and_accepts_the_default_secret():
    app = create_app()
    assert app.config["PETITIONS_ENV"] == "development"
    assert app.config["SECRET_KEY"] == config.DEFAULT_SECRET_KEY
    assert app.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize("name", ["staging", "prod", "Production", " production"])
def test_unknown_environment_is_a_clear_error(monkeypatch, name):
    monkeypatch.setenv("PETITIONS_ENV", name)
    with pytest.raises(RuntimeError) as caught:
        create_app()
    message = str(caught.value)
    assert "PETITIONS_ENV" in message
    assert repr(name) in message
    for known in ("development", "production", "testing"):
        assert known in message


def test_unknown_environment_from_test_config_is_a_clear_error():
    with pytest.raises(RuntimeError, match="PETITIONS_ENV must be one of"):
        create_app({"PETITIONS_ENV": "qa"})


# --- the environment overrides settings ------------------------------------------------------


def test_environment_overrides_settings(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'from-env.sqlite3'}"
    monkeypatch.setenv("PETITIONS_ENV", "testing")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.kg")
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://petitions.example.kg/")
    monkeypatch.setenv("CONFIRMATION_MAX_AGE_SECONDS", "3600")
    monkeypatch.setenv("COUNT_SHARDS", "32")
    monkeypatch.setenv("SECRET_KEY", "secret-from-env")
    monkeypatch.setenv("SIGNER_HASH_KEY", "hash-key-from-env")
    app = create_app()
    assert app.config["PETITIONS_ENV"] == "testing"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert app.config["MAIL_SERVER"] == "smtp.example.kg"
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["MAIL_USE_TLS"] is True
    # No trailing slash, so links are built as base + "/confirm/...".
    assert app.config["PUBLIC_BASE_URL"] == "https://petitions.example.kg"
    assert app.config["CONFIRMATION_MAX_AGE_SECONDS"] == 3600
    assert app.config["COUNT_SHARDS"] == 32
    assert app.config["SECRET_KEY"] == "secret-from-env"
    assert app.config["SIGNER_HASH_KEY"] == "hash-key-from-env"


def test_defaults_without_environment():
    app = create_app({"PETITIONS_ENV": "testing"})
    assert app.config["MAIL_PORT"] == config.Config.MAIL_PORT
    assert app.config["MAIL_USE_TLS"] is False
    assert app.config["CONFIRMATION_MAX_AGE_SECONDS"] == config.Config.CONFIRMATION_MAX_AGE_SECONDS
    assert app.config["COUNT_SHARDS"] == config.Config.COUNT_SHARDS
    assert app.config["PUBLIC_BASE_URL"] == config.TestingConfig.PUBLIC_BASE_URL


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("True", True),
        ("yes", True),
        ("on", True),
        (" TRUE ", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        # Empty means "not set": the default.
        ("", False),
    ],
)
def test_boolean_variables(monkeypatch, value, expected):
    monkeypatch.setenv("MAIL_USE_TLS", value)
    assert create_app({"PETITIONS_ENV": "testing"}).config["MAIL_USE_TLS"] is expected


def test_empty_variables_mean_the_default(monkeypatch):
    for name in ("MAIL_PORT", "COUNT_SHARDS", "PUBLIC_BASE_URL", "CONFIRMATION_MAX_AGE_SECONDS"):
        monkeypatch.setenv(name, "")
    app = create_app({"PETITIONS_ENV": "testing"})
    assert app.config["MAIL_PORT"] == config.Config.MAIL_PORT
    assert app.config["COUNT_SHARDS"] == config.Config.COUNT_SHARDS
    assert app.config["PUBLIC_BASE_URL"] == config.TestingConfig.PUBLIC_BASE_URL


def test_test_config_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("COUNT_SHARDS", "32")
    app = create_app({"PETITIONS_ENV": "testing", "MAIL_PORT": 1025})
    assert app.config["MAIL_PORT"] == 1025
    assert app.config["COUNT_SHARDS"] == 32


@pytest.mark.parametrize("name", ["MAIL_PORT", "COUNT_SHARDS", "CONFIRMATION_MAX_AGE_SECONDS"])
def test_a_number_that_is_not_a_number_stops_the_start(monkeypatch, name):
    monkeypatch.setenv(name, "twenty")
    with pytest.raises(ValueError, match="twenty"):
        create_app({"PETITIONS_ENV": "testing"})


# --- database URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "used"),
    [
        # Heroku, Render, Fly and docker images hand out postgres:// URLs.
        (
            "postgres://user:pw@db.example.kg:5432/petitions",
            "postgresql+psycopg://user:pw@db.example.kg:5432/petitions",
        ),
        ("postgresql://user@localhost/petitions", "postgresql+psycopg://user@localhost/petitions"),
        (
            "postgresql+psycopg://user@localhost/petitions",
            "postgresql+psycopg://user@localhost/petitions",
        ),
        ("sqlite:///instance/petitions.sqlite3", "sqlite:///instance/petitions.sqlite3"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_database_url(given, used):
    assert database_url(given) == used


def test_postgres_url_from_the_environment_is_rewritten(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://petitions:secret@db.example.kg:5432/petitions")
    app = create_app({"PETITIONS_ENV": "testing"})
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"]
        == "postgresql+psycopg://petitions:secret@db.example.kg:5432/petitions"
    )
    with app.app_context():
        from petitions.extensions import db

        # The engine is built (not connected) with the psycopg 3 driver.
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.dialect.driver == "psycopg"
        db.engine.dispose()


def test_postgres_url_from_test_config_is_rewritten():
    app = create_app(
        {"PETITIONS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "postgres://u@localhost/p"}
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@localhost/p"


# --- security headers --------------------------------------------------------------------------

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives.get("default-src") == ["'self'"]
    assert directives.get("script-src") == ["'self'"]
    assert directives.get("object-src") == ["'none'"]
    assert directives.get("frame-ancestors") == ["'none'"]
    assert directives.get("form-action") == ["'self'"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp


@pytest.fixture
def pages(make_petition, client):
    """A few kinds of response: HTML pages, JSON, errors."""
    open_id = make_petition()
    closed_id = make_petition(state="closed")
    draft_id = make_petition(state="draft")
    return {
        "index": ("/", 200),
        "open petition": (f"/petitions/{open_id}", 200),
        "closed petition": (f"/petitions/{closed_id}", 200),
        "count.json": (f"/petitions/{open_id}/count.json", 200),
        "draft (404)": (f"/petitions/{draft_id}", 404),
        "no such page": ("/no/such/page", 404),
        "no such count": ("/petitions/999999/count.json", 404),
    }


def test_security_headers_on_pages(client, pages):
    for name, (path, status) in pages.items():
        response = client.get(path)
        assert response.status_code == status, name
        assert_security_headers(response)


def test_security_headers_on_a_refused_post(client, petition):
    """A forged cross-site POST is refused; the refusal carries the headers too."""
    response = client.post(
        f"/petitions/{petition}/sign",
        data={"name": "A"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert_security_headers(response)


def test_security_headers_in_production(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://petitions.example.kg")
    app = create_app({"PETITIONS_ENV": "production"})
    response = app.test_client().get("/no/such/page", base_url="https://petitions.example.kg")
    assert response.status_code == 404
    assert_security_headers(response)


# --- trusted hosts ---------------------------------------------------------------------------


def test_production_answers_only_to_its_public_host(monkeypatch):
    """A forged Host could otherwise put another site into absolute links a cache keeps."""
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://petitions.example.kg")
    app = create_app({"PETITIONS_ENV": "production"})
    client = app.test_client()
    assert client.get("/api/v1/", base_url="https://petitions.example.kg").status_code == 200
    forged = client.get("/api/v1/", base_url="https://evil.example")
    assert forged.status_code == 400
    assert "does not answer to that host name" in forged.get_data(as_text=True)
    assert "evil.example" not in forged.get_data(as_text=True)


def test_trusted_hosts_from_the_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://petitions.example.kg")
    monkeypatch.setenv("TRUSTED_HOSTS", "petitions.example.kg, www.petitions.example.kg")
    app = create_app({"PETITIONS_ENV": "production"})
    client = app.test_client()
    assert app.config["TRUSTED_HOSTS"] == ["petitions.example.kg", "www.petitions.example.kg"]
    assert client.get("/api/v1/", base_url="https://www.petitions.example.kg").status_code == 200
    assert client.get("/api/v1/", base_url="https://other.example.kg").status_code == 400


def test_development_answers_to_any_host():
    app = create_app({"PETITIONS_ENV": "development"})
    assert app.config["TRUSTED_HOSTS"] is None
    assert app.test_client().get("/api/v1/", base_url="http://192.0.2.7:5000").status_code == 200


# --- live streams and the server's threads -----------------------------------------------------


@pytest.mark.parametrize(
    ("threads", "streams"),
    [(None, 2), ("1", 0), ("3", 0), ("4", 1), ("7", 1), ("8", 2), ("16", 4)],
)
def test_live_streams_default_to_a_quarter_of_the_threads(monkeypatch, threads, streams):
    """Idle streams each hold a thread; three in four stay for pages (none below 4 threads)."""
    if threads is not None:
        monkeypatch.setenv("WEB_THREADS", threads)
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    app = create_app({"PETITIONS_ENV": "production"})
    assert app.config["LIVE_MAX_STREAMS"] == streams


@pytest.mark.parametrize(("threads", "streams"), [("8", "0"), ("8", "2"), ("4", "1"), ("3", "0")])
def test_a_stream_cap_that_leaves_pages_their_threads_is_kept(monkeypatch, threads, streams):
    monkeypatch.setenv("WEB_THREADS", threads)
    monkeypatch.setenv("LIVE_MAX_STREAMS", streams)
    assert create_app({"PETITIONS_ENV": "testing"}).config["LIVE_MAX_STREAMS"] == int(streams)


@pytest.mark.parametrize(
    ("threads", "streams", "allowed"),
    [(None, "20", 2), ("8", "3", 2), ("4", "4", 1), ("3", "1", 0), ("8", "-1", 2)],
)
def test_a_stream_cap_that_takes_the_threads_pages_need_stops_the_start(
    monkeypatch, threads, streams, allowed
):
    """The attack of issue 8: 20 streams on 4 threads left the home page no thread at all."""
    if threads is not None:
        monkeypatch.setenv("WEB_THREADS", threads)
    monkeypatch.setenv("LIVE_MAX_STREAMS", streams)
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    with pytest.raises(RuntimeError) as caught:
        create_app({"PETITIONS_ENV": "production"})
    message = str(caught.value)
    assert f"LIVE_MAX_STREAMS={streams}" in message
    assert f"between 0 and {allowed}" in message
    assert "WEB_THREADS" in message


def test_a_stream_cap_from_test_config_is_checked_too():
    with pytest.raises(RuntimeError, match="LIVE_MAX_STREAMS=5"):
        create_app({"PETITIONS_ENV": "testing", "WEB_THREADS": 4, "LIVE_MAX_STREAMS": 5})


@pytest.mark.parametrize("threads", ["0", "-4"])
def test_a_server_without_threads_stops_the_start(monkeypatch, threads):
    monkeypatch.setenv("WEB_THREADS", threads)
    with pytest.raises(RuntimeError, match=f"WEB_THREADS must be at least 1, not {threads}"):
        create_app({"PETITIONS_ENV": "testing"})


# --- Strict-Transport-Security -----------------------------------------------------------------

PRODUCTION_BASE = "https://petitions.example.kg"
ONE_YEAR = 365 * 24 * 3600


def production_app(monkeypatch, **environment):
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("PUBLIC_BASE_URL", PRODUCTION_BASE)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return create_app({"PETITIONS_ENV": "production"})


def test_production_sends_hsts_for_a_year_on_every_response(monkeypatch):
    client = production_app(monkeypatch).test_client()
    responses = {
        "page": client.get("/account/login", base_url=PRODUCTION_BASE),
        "not found": client.get("/no/such/page", base_url=PRODUCTION_BASE),
        "API": client.get("/api/v1/", base_url=PRODUCTION_BASE),
        "static file": client.get("/static/site.css", base_url=PRODUCTION_BASE),
        "refused POST": client.post("/account/login", base_url=PRODUCTION_BASE),
        "redirect": client.get("/account/settings", base_url=PRODUCTION_BASE),
    }
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {
        "page": 200,
        "not found": 404,
        "API": 200,
        "static file": 200,
        "refused POST": 400,
        "redirect": 302,
    }
    for name, response in responses.items():
        assert response.headers.get("Strict-Transport-Security") == f"max-age={ONE_YEAR}", name
        response.close()


def test_production_hsts_can_cover_subdomains(monkeypatch):
    app = production_app(monkeypatch, HSTS_INCLUDE_SUBDOMAINS="true")
    response = app.test_client().get("/api/v1/", base_url=PRODUCTION_BASE)
    assert response.headers["Strict-Transport-Security"] == (
        f"max-age={ONE_YEAR}; includeSubDomains"
    )


def test_hsts_preload_only_when_asked(monkeypatch):
    app = production_app(
        monkeypatch, HSTS_SECONDS="63072000", HSTS_INCLUDE_SUBDOMAINS="1", HSTS_PRELOAD="1"
    )
    response = app.test_client().get("/api/v1/", base_url=PRODUCTION_BASE)
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=63072000; includeSubDomains; preload"
    )


def test_production_hsts_can_be_turned_off(monkeypatch):
    app = production_app(monkeypatch, HSTS_SECONDS="0")
    response = app.test_client().get("/api/v1/", base_url=PRODUCTION_BASE)
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize("environment", ["development", "testing"])
def test_no_hsts_outside_production(environment):
    app = create_app({"PETITIONS_ENV": environment})
    assert app.config["HSTS_SECONDS"] == 0
    response = app.test_client().get("/account/login")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_a_negative_hsts_age_stops_the_start(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("HSTS_SECONDS", "-1")
    with pytest.raises(ValueError, match="HSTS_SECONDS"):
        create_app({"PETITIONS_ENV": "production"})


def test_a_rate_the_limiter_cannot_read_refuses_to_start(monkeypatch):
    monkeypatch.setenv("RATE_SIGN_ADDRESS", "three a minute")
    with pytest.raises(RuntimeError, match="RATE_SIGN_ADDRESS"):
        create_app({"PETITIONS_ENV": "testing"})
