"""Rate limits: Flask-Limiter on every state-changing public endpoint, its rates read from the
runtime settings (services/site_settings.py) so an admin can tighten them during an attack.

Counters live in `RATELIMIT_STORAGE_URI`: memory (one process) or Redis, which several app
instances share. Two ways to meet a limit:

- the decorators (`limiter.limit(rate("rate_login_address"), ...)`) refuse with 429, which
  errors.py renders as a clear page (or problem+json in the API);
- signing counts against its limits itself (`signing_limits_exceeded`) and, by default, does
  not refuse: the signature is accepted, confirmed by email like any other and held for
  review (SignatureFlag.RATE), so a bot author cannot find the limits by probing.

The client's address is `request.remote_addr`, which clientaddr.py has made trustworthy.

Only what changes state counts (`limit_posts`: the POST of a form, never the page that shows
it). Login meets two limits, per client address and per account (`account_key`), and every
attempt counts, failed or not: the check and the count are then one step (with Flask-Limiter's
`deduct_when`, parallel guesses would all pass the check before any failure was counted), the
argon2 hash each attempt costs is bounded whatever its outcome, and a person rarely logs in
ten times a minute. The per-account limit adds to the account lockout (LOGIN_MAX_FAILURES),
which counts only wrong passwords.

If the storage (Redis) cannot be reached, limits go on in this process's memory
(`in_memory_fallback_enabled` in extensions.py) and requests are not refused; Flask-Limiter
tries the storage again with a growing pause and goes back to it when it answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy.exc import SQLAlchemyError

from . import clientaddr
from .emailaddr import InvalidEmail, domain_matches, identity_key
from .extensions import db, limiter
from .services import site_settings

logger = logging.getLogger(__name__)

#: Redis options: a storage that hangs must not hold requests (a second, then memory), and
#: its errors arrive as StorageError.
REDIS_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0, "wrap_exceptions": True}

#: What the decorators count: a form sent, not a page shown.
COUNTED_METHODS = ("POST",)


def client_key() -> str:
    return request.remote_addr or "unknown"


def account_key() -> str:
    """The account a login form names: a keyed hash of its canonical address (the storage,
    Redis say, never holds addresses), so `a.b@gmail.com` and `ab@gmail.com` share one limit.

    Reads the form body only, safely: a missing, repeated, overlong or odd value gets a key
    too (all such requests share one), never an error.
    """
    value = request.form.get("email", "") if request.mimetype in FORM_BODIES else ""
    text = value.strip()[:320] if isinstance(value, str) else ""
    if not text:
        return "account:none"
    config = current_app.config
    try:
        return "account:" + identity_key(
            text, config["SIGNER_HASH_KEY"], config["EMAIL_ALIAS_RULES"]
        )
    except (InvalidEmail, UnicodeError, ValueError):
        return "account:" + identity_key(f"{text.casefold()}@invalid", config["SIGNER_HASH_KEY"])


def network_key() -> str:
    address = clientaddr.parse_address(request.remote_addr)
    return clientaddr.network_of(address) if address else "unknown"


#: Bodies whose fields request.form holds (any other is refused by the form, see forms.py).
FORM_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")


def rate(key: str, methods: tuple[str, ...] = COUNTED_METHODS) -> Callable[[], str]:
    """The current value of a rate setting, for a decorator (evaluated on every request).

    Flask-Limiter asks for a limit's value on every request to its view, also those whose
    method it does not count; these get the environment's default without reading the
    runtime settings, so showing a page costs no query.
    """

    def value() -> str:
        default = current_app.config[site_settings.TUNABLES[key].config]
        if request.method not in methods:
            return default
        try:
            return site_settings.current()[key]
        except SQLAlchemyError:
            # The database is down: the environment's rate holds, and the view, which needs
            # the database too, answers 503 (errors.py) rather than the limiter failing.
            db.session.rollback()
            return default

    return value


def limit_posts(key: str, key_func: Callable[[], str] = client_key):
    """Decorator: the view's POSTs meet the rate setting `key`, counted per `key_func`."""
    return limiter.limit(
        rate(key), key_func=key_func, methods=list(COUNTED_METHODS), scope=key.removeprefix("rate_")
    )


def signing_limits_exceeded(
    *, petition_id: int, email_domain: str, settings: site_settings.SiteSettings, config
) -> list[str]:
    """Count one signature against every signing limit; the names of those it exceeds.

    Every limit is counted every time (no early exit), so the cost of a request does not
    depend on which limit an address is near.
    """
    if not limiter.enabled:
        return []
    strategy = limiter.limiter
    checks: list[tuple[str, str, tuple[str, ...]]] = [
        ("address", settings["rate_sign_address"], (client_key(),)),
        ("network", settings["rate_sign_network"], (network_key(),)),
        ("petition", settings["rate_sign_petition"], (str(petition_id),)),
    ]
    if not any(domain_matches(email_domain, glob) for glob in config["RATE_SIGN_DOMAIN_EXEMPT"]):
        checks.append(("domain", settings["rate_sign_domain"], (str(petition_id), email_domain)))
    prefix = tuple(filter(None, [current_app.config.get("RATELIMIT_KEY_PREFIX")]))
    exceeded = []
    for name, rates, identifiers in checks:
        over = False
        for item in parse_many(rates):
            if not _hit(strategy, item, *prefix, "sign", name, *identifiers):
                over = True
        if over:
            exceeded.append(name)
    return exceeded


@cache
def _memory_fallback() -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(MemoryStorage())


def _hit(strategy, item: RateLimitItem, *identifiers: str) -> bool:
    """Count a hit; with the storage unreachable, in this process's memory (as the
    decorators' limits do), never an error for the request."""
    try:
        return strategy.hit(item, *identifiers)
    except StorageError as error:
        logger.warning("rate-limit storage unreachable, counting in memory: %s", error)
        return _memory_fallback().hit(item, *identifiers)


def check_settings(config) -> None:
    """Refuse to start with a rate or choice the limiter could not use (a typo in the
    environment would otherwise surface as errors on the first request)."""
    for tunable in site_settings.TUNABLES.values():
        if tunable.config is None:
            continue
        try:
            config[tunable.config] = tunable.parse(config[tunable.config])
        except site_settings.SettingError as error:
            raise RuntimeError(f"{tunable.config}={config[tunable.config]!r}: {error}") from None


def init_app(app: Flask) -> None:
    check_settings(app.config)
    if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://")):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", REDIS_OPTIONS)
    # One Limiter serves every app the process creates (the tests create one per test), and
    # init_app keeps some of what the previous app set: the key prefix, the storage options,
    # whether the storage was found dead. Each app starts from its own config.
    limiter._key_prefix = ""  # noqa: SLF001
    limiter._storage_options = {}  # noqa: SLF001
    limiter._storage_dead = False  # noqa: SLF001
    limiter.init_app(app)
