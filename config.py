"""Configuration classes; every value can be overridden by an environment variable.

`create_app()` picks a class by `PETITIONS_ENV` (development, testing, production) and then
applies the environment, so the same variables work under `make run`, tests and gunicorn.
README.md lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

#: The development default; production refuses to start with it.
DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable the way operators write them (1/0, true/false, yes/no, on/off)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int)


def env_list(name: str, default: list[str] | None) -> list[str] | None:
    """Comma-separated words, e.g. TRUSTED_HOSTS=petitions.example.kg,www.petitions.example.kg."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


def env_int_list(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated positive whole numbers, e.g. MILESTONES=100,1000,10000; empty: none."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        numbers = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, not {value!r}") from None
    if any(n <= 0 for n in numbers):
        raise ValueError(f"{name} must be positive numbers, not {value!r}")
    return numbers


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float)


def _env_number(name, default, kind):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None


def env_str(name: str, default: str | None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value


class Config:
    """Defaults shared by every environment."""

    SECRET_KEY = DEFAULT_SECRET_KEY
    #: Key for the keyed hash of signers' normalised email addresses; must never change once
    #: signatures exist (the one-signature-per-person constraint depends on it). Falls back to
    #: SECRET_KEY.
    SIGNER_HASH_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'petitions.sqlite3'}"
    #: pool_pre_ping tests a pooled connection before use: after a database restart the next
    #: request reconnects instead of failing on a dead connection (every environment, keep it).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    #: Base URL used in links sent by email (no trailing slash).
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"

    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_TIMEOUT = 20
    MAIL_DEFAULT_SENDER = "Petitions <no-reply@localhost>"
    OUTBOX_BATCH_SIZE = 50
    OUTBOX_MAX_ATTEMPTS = 25
    OUTBOX_LEASE_SECONDS = 120
    #: How long an idle worker waits before looking for due mail again.
    OUTBOX_POLL_SECONDS = 0.25

    #: argon2-cffi parameter profile for password hashes (argon2.profiles).
    PASSWORD_HASH_PROFILE = "RFC_9106_LOW_MEMORY"  # noqa: S105 (a profile name)
    #: How long an emailed confirmation link stays valid.
    CONFIRMATION_MAX_AGE_SECONDS = 7 * 24 * 3600
    #: How many confirmation emails one pending signature may receive in all.
    CONFIRMATION_MAX_SENDS = 3
    #: How many "you already signed" notices one signature may trigger.
    ALREADY_SIGNED_MAX_NOTICES = 2
    #: Unconfirmed signatures (and their addresses) are deleted after this many days.
    UNCONFIRMED_RETENTION_DAYS = 30
    #: DNS lookups on email domains; off by default so signing works offline and fast.
    EMAIL_CHECK_DELIVERABILITY = False
    #: Alias rules added to the built-in ones (petitions/emailaddr.py), e.g.
    #: "example.kg, example.org: one-mailbox tag=+-"; create_app() replaces the text with the
    #: parsed table and refuses to start if it cannot be read.
    EMAIL_ALIAS_RULES = ""

    #: Counter shards per petition (see petitions/services/counts.py).
    COUNT_SHARDS = 16
    #: Seconds each app process remembers a petition's total for count.json (0: off).
    COUNT_MEMO_SECONDS = 1.0
    #: max-age of count.json for browsers and reverse proxies.
    COUNT_CACHE_MAX_AGE = 2
    #: A live-count stream (server-sent events) ends after this many seconds and the browser
    #: reconnects: each open stream holds a server thread (see petitions/public/live.py).
    LIVE_STREAM_SECONDS = 30
    #: Live-count streams one app process serves at once; beyond it the page polls count.json.
    #: None: a quarter of WEB_THREADS (rounded down); more is refused at start-up, since each
    #: open stream holds a thread that pages need (see petitions/public/live.py).
    LIVE_MAX_STREAMS: int | None = None
    #: Threads per server process: gunicorn.conf.py starts gunicorn with this many, and the
    #: live-stream cap is derived from it.
    WEB_THREADS = 8
    #: How often a page without a stream polls count.json.
    LIVE_POLL_SECONDS = 10
    #: A comment line sent this often on an otherwise quiet stream, so proxies keep it open.
    LIVE_HEARTBEAT_SECONDS = 15

    #: Seconds each app process reuses a petition's public statistics (breakdowns, time series)
    #: before reading the signatures again; count.json stays the live total.
    STATS_MEMO_SECONDS = 30.0
    #: Petitions whose statistics one process keeps at most.
    STATS_MEMO_ENTRIES = 1000
    #: max-age of the API's answers for browsers and reverse proxies (count.json has its own).
    API_CACHE_MAX_AGE = 10

    #: Failed logins in a row before an account is locked for LOGIN_LOCK_SECONDS.
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_SECONDS = 15 * 60
    #: How long the links emailed to account holders work (confirm, reset, change of address).
    ACCOUNT_TOKEN_MAX_AGE_SECONDS = 2 * 3600

    #: Confirmed sponsor signatures (through the organiser's share link) that send a submitted
    #: petition to the moderation queue; 0 sends it there as soon as it is submitted.
    SPONSORS_REQUIRED = 5

    PETITIONS_PER_PAGE = 20
    #: How long a petition approved by a moderator stays open for signatures (about 6 months).
    DEFAULT_PETITION_DAYS = 182
    #: Official-response emails queued per transaction (see services/moderation.py).
    RESPONSE_MAIL_BATCH_SIZE = 500
    #: Batches of response emails queued per request or worker round (bounds each round).
    RESPONSE_MAIL_MAX_BATCHES = 20
    #: Totals at which the organiser is emailed (besides the petition's own goal).
    MILESTONES = (100, 1000, 10000, 100000)

    WTF_CSRF_TIME_LIMIT = 6 * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    PREFERRED_URL_SCHEME = "http"
    #: Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    PROXY_FIX_HOPS = 0
    #: Host names the app answers to (others get 400), so a forged Host header cannot put
    #: another site into absolute links (share metadata, embed code, API links) that a cache
    #: then serves to everyone. None: any host (development); production defaults to the host
    #: of PUBLIC_BASE_URL.
    TRUSTED_HOSTS: list[str] | None = None
    #: Strict-Transport-Security max-age: for this long a browser that saw the header reaches
    #: the site over HTTPS only (no first plain-HTTP request to intercept). 0: no header
    #: (development and testing, which run over HTTP); production: one year.
    HSTS_SECONDS = 0
    #: The same for every subdomain; only if all of them serve HTTPS.
    HSTS_INCLUDE_SUBDOMAINS = False
    #: Ask to be on browsers' built-in HTTPS list; hard to undo, so never by default.
    HSTS_PRELOAD = False

    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("en",)

    MAX_CONTENT_LENGTH = 256 * 1024

    @classmethod
    def from_environment(cls) -> dict:
        """Settings taken from the environment, layered over the class defaults."""
        settings = {
            "SECRET_KEY": env_str("SECRET_KEY", cls.SECRET_KEY),
            "SIGNER_HASH_KEY": env_str("SIGNER_HASH_KEY", cls.SIGNER_HASH_KEY),
            "SQLALCHEMY_DATABASE_URI": env_str("DATABASE_URL", cls.SQLALCHEMY_DATABASE_URI),
            "PUBLIC_BASE_URL": (env_str("PUBLIC_BASE_URL", cls.PUBLIC_BASE_URL) or "").rstrip("/"),
            "MAIL_SERVER": env_str("MAIL_SERVER", cls.MAIL_SERVER),
            "MAIL_PORT": env_int("MAIL_PORT", cls.MAIL_PORT),
            "MAIL_USERNAME": env_str("MAIL_USERNAME", cls.MAIL_USERNAME),
            "MAIL_PASSWORD": env_str("MAIL_PASSWORD", cls.MAIL_PASSWORD),
            "MAIL_USE_TLS": env_bool("MAIL_USE_TLS", cls.MAIL_USE_TLS),
            "MAIL_USE_SSL": env_bool("MAIL_USE_SSL", cls.MAIL_USE_SSL),
            "MAIL_TIMEOUT": env_int("MAIL_TIMEOUT", cls.MAIL_TIMEOUT),
            "MAIL_DEFAULT_SENDER": env_str("MAIL_DEFAULT_SENDER", cls.MAIL_DEFAULT_SENDER),
            "OUTBOX_MAX_ATTEMPTS": env_int("OUTBOX_MAX_ATTEMPTS", cls.OUTBOX_MAX_ATTEMPTS),
            "OUTBOX_BATCH_SIZE": env_int("OUTBOX_BATCH_SIZE", cls.OUTBOX_BATCH_SIZE),
            "OUTBOX_LEASE_SECONDS": env_int("OUTBOX_LEASE_SECONDS", cls.OUTBOX_LEASE_SECONDS),
            "OUTBOX_POLL_SECONDS": env_float("OUTBOX_POLL_SECONDS", cls.OUTBOX_POLL_SECONDS),
            "CONFIRMATION_MAX_AGE_SECONDS": env_int(
                "CONFIRMATION_MAX_AGE_SECONDS", cls.CONFIRMATION_MAX_AGE_SECONDS
            ),
            "CONFIRMATION_MAX_SENDS": env_int("CONFIRMATION_MAX_SENDS", cls.CONFIRMATION_MAX_SENDS),
            "UNCONFIRMED_RETENTION_DAYS": env_int(
                "UNCONFIRMED_RETENTION_DAYS", cls.UNCONFIRMED_RETENTION_DAYS
            ),
            "EMAIL_CHECK_DELIVERABILITY": env_bool(
                "EMAIL_CHECK_DELIVERABILITY", cls.EMAIL_CHECK_DELIVERABILITY
            ),
            "EMAIL_ALIAS_RULES": env_str("EMAIL_ALIAS_RULES", cls.EMAIL_ALIAS_RULES),
            "COUNT_SHARDS": env_int("COUNT_SHARDS", cls.COUNT_SHARDS),
            "COUNT_MEMO_SECONDS": env_float("COUNT_MEMO_SECONDS", cls.COUNT_MEMO_SECONDS),
            "COUNT_CACHE_MAX_AGE": env_int("COUNT_CACHE_MAX_AGE", cls.COUNT_CACHE_MAX_AGE),
            "STATS_MEMO_SECONDS": env_float("STATS_MEMO_SECONDS", cls.STATS_MEMO_SECONDS),
            "STATS_MEMO_ENTRIES": env_int("STATS_MEMO_ENTRIES", cls.STATS_MEMO_ENTRIES),
            "API_CACHE_MAX_AGE": env_int("API_CACHE_MAX_AGE", cls.API_CACHE_MAX_AGE),
            "LIVE_STREAM_SECONDS": env_int("LIVE_STREAM_SECONDS", cls.LIVE_STREAM_SECONDS),
            "LIVE_MAX_STREAMS": env_int("LIVE_MAX_STREAMS", cls.LIVE_MAX_STREAMS),
            "WEB_THREADS": env_int("WEB_THREADS", cls.WEB_THREADS),
            "LIVE_POLL_SECONDS": env_int("LIVE_POLL_SECONDS", cls.LIVE_POLL_SECONDS),
            "LIVE_HEARTBEAT_SECONDS": env_int("LIVE_HEARTBEAT_SECONDS", cls.LIVE_HEARTBEAT_SECONDS),
            "LOGIN_MAX_FAILURES": env_int("LOGIN_MAX_FAILURES", cls.LOGIN_MAX_FAILURES),
            "LOGIN_LOCK_SECONDS": env_int("LOGIN_LOCK_SECONDS", cls.LOGIN_LOCK_SECONDS),
            "ACCOUNT_TOKEN_MAX_AGE_SECONDS": env_int(
                "ACCOUNT_TOKEN_MAX_AGE_SECONDS", cls.ACCOUNT_TOKEN_MAX_AGE_SECONDS
            ),
            "SPONSORS_REQUIRED": env_int("SPONSORS_REQUIRED", cls.SPONSORS_REQUIRED),
            "PASSWORD_HASH_PROFILE": env_str("PASSWORD_HASH_PROFILE", cls.PASSWORD_HASH_PROFILE),
            "SESSION_COOKIE_SECURE": env_bool("SESSION_COOKIE_SECURE", cls.SESSION_COOKIE_SECURE),
            "PROXY_FIX_HOPS": env_int("PROXY_FIX_HOPS", cls.PROXY_FIX_HOPS),
            "TRUSTED_HOSTS": env_list("TRUSTED_HOSTS", cls.TRUSTED_HOSTS),
            "HSTS_SECONDS": env_int("HSTS_SECONDS", cls.HSTS_SECONDS),
            "HSTS_INCLUDE_SUBDOMAINS": env_bool(
                "HSTS_INCLUDE_SUBDOMAINS", cls.HSTS_INCLUDE_SUBDOMAINS
            ),
            "HSTS_PRELOAD": env_bool("HSTS_PRELOAD", cls.HSTS_PRELOAD),
            "DEFAULT_PETITION_DAYS": env_int("DEFAULT_PETITION_DAYS", cls.DEFAULT_PETITION_DAYS),
            "RESPONSE_MAIL_BATCH_SIZE": env_int(
                "RESPONSE_MAIL_BATCH_SIZE", cls.RESPONSE_MAIL_BATCH_SIZE
            ),
            "RESPONSE_MAIL_MAX_BATCHES": env_int(
                "RESPONSE_MAIL_MAX_BATCHES", cls.RESPONSE_MAIL_MAX_BATCHES
            ),
            "MILESTONES": env_int_list("MILESTONES", cls.MILESTONES),
        }
        return settings


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True
    #: Hundreds of sign-ups and logins; production-strength hashing has tests of its own.
    PASSWORD_HASH_PROFILE = "CHEAPEST"  # noqa: S105 (a profile name)
    #: Tests read totals right after changing them; the memo has tests of its own.
    COUNT_MEMO_SECONDS = 0.0
    STATS_MEMO_SECONDS = 0.0
    SQLALCHEMY_DATABASE_URI = "sqlite:///:memory:"
    PUBLIC_BASE_URL = "http://localhost"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    HSTS_SECONDS = 365 * 24 * 3600


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
