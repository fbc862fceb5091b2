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
import math
import threading
import time
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
    checks = _signing_checks(petition_id, settings)
    if not any(domain_matches(email_domain, glob) for glob in config["RATE_SIGN_DOMAIN_EXEMPT"]):
        checks.append(("domain", settings["rate_sign_domain"], (str(petition_id), email_domain)))
    prefix = _prefix()
    exceeded = []
    for name, rates, identifiers in checks:
        over = False
        for item in parse_many(rates):
            if not _hit(strategy, item, *prefix, "sign", name, *identifiers):
                over = True
        if over:
            exceeded.append(name)
    return exceeded


def _signing_checks(petition_id: int, settings: site_settings.SiteSettings):
    """The per-source and per-petition signing limits: (name, rates, identifiers)."""
    return [
        ("address", settings["rate_sign_address"], (client_key(),)),
        ("network", settings["rate_sign_network"], (network_key(),)),
        ("petition", settings["rate_sign_petition"], (str(petition_id),)),
    ]


def signing_rates_reached(*, petition_id: int, settings: site_settings.SiteSettings) -> list[str]:
    """Which of the client's address, network and the petition are at their signing rate now,
    without counting anything (the proof of work's difficulty rises for them)."""
    if not limiter.enabled:
        return []
    strategy = limiter.limiter
    prefix = _prefix()
    reached = []
    for name, rates, identifiers in _signing_checks(petition_id, settings):
        if not all(
            _test(strategy, item, *prefix, "sign", name, *identifiers) for item in parse_many(rates)
        ):
            reached.append(name)
    return reached


def signing_retry_after(
    *, petition_id: int, email_domain: str, exceeded: list[str], settings
) -> int:
    """Seconds until every exceeded signing limit's window ends (for the 429's Retry-After)."""
    strategy = limiter.limiter
    prefix = _prefix()
    checks = _signing_checks(petition_id, settings) + [
        ("domain", settings["rate_sign_domain"], (str(petition_id), email_domain))
    ]
    latest = 0.0
    for name, rates, identifiers in checks:
        if name not in exceeded:
            continue
        for item in parse_many(rates):
            try:
                stats = strategy.get_window_stats(item, *prefix, "sign", name, *identifiers)
            except StorageError:
                return RETRY_AFTER_UNKNOWN
            if stats.remaining == 0:
                latest = max(latest, stats.reset_time)
    return max(1, math.ceil(latest - time.time())) if latest else RETRY_AFTER_UNKNOWN


#: Retry-After when a window cannot be read (the storage went away).
RETRY_AFTER_UNKNOWN = 60


def first_use(token_id: str, seconds: int) -> bool:
    """Record one use of a single-use token (a proof-of-work challenge) in the limits'
    storage, kept `seconds`; False if it was used before. Several instances sharing Redis
    share the record; with the storage unreachable, this process's memory keeps it."""
    key = "/".join((*_prefix(), "once", token_id))
    try:
        uses = limiter.storage.incr(key, seconds)
    except StorageError as error:
        logger.warning("rate-limit storage unreachable, recording in memory: %s", error)
        uses = _memory_fallback().storage.incr(key, seconds)
    return uses == 1


class LockedMemoryStorage(MemoryStorage):
    """limits' memory storage, safe under a threaded server (gunicorn's gthread workers).

    limits 5.8.0's MemoryStorage starts its expiry timer without a lock: two threads counting
    at the moment the previous timer ended both create one, and one of them starts the other's
    timer a second time, a RuntimeError ("threads can only be started once") and a 500 on the
    sign POST (seen in bench/load.py with 64 clients). Fixed upstream (alisaifee/limits#352);
    until a release has it, `memory://` means this storage here (`init_app`). Its `incr` also
    loses a count when threads make a key's lock at once; one lock for the whole storage
    (held for microseconds) makes both exact.
    """

    STORAGE_SCHEME = ["petitions-memory"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()

    def _MemoryStorage__schedule_expiry(self) -> None:
        with self._lock:
            MemoryStorage._MemoryStorage__schedule_expiry(self)  # noqa: SLF001

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._lock:
            return super().incr(key, expiry, amount)


def _prefix() -> tuple[str, ...]:
    return tuple(filter(None, [current_app.config.get("RATELIMIT_KEY_PREFIX")]))


def _test(strategy, item: RateLimitItem, *identifiers: str) -> bool:
    try:
        return strategy.test(item, *identifiers)
    except StorageError as error:
        logger.warning("rate-limit storage unreachable, testing in memory: %s", error)
        return _memory_fallback().test(item, *identifiers)


@cache
def _memory_fallback() -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(LockedMemoryStorage())


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
    if app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"].replace(
            "memory://", "petitions-memory://", 1
        )
    limiter.init_app(app)
    if limiter._fallback_limiter is not None:  # noqa: SLF001 - its storage is a plain one
        limiter._fallback_storage = LockedMemoryStorage()  # noqa: SLF001
        limiter._fallback_limiter = type(limiter._fallback_limiter)(limiter._fallback_storage)  # noqa: SLF001
