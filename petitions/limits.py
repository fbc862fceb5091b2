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
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from limits import parse_many

from . import clientaddr
from .emailaddr import domain_matches
from .extensions import limiter
from .services import site_settings


def client_key() -> str:
    return request.remote_addr or "unknown"


def network_key() -> str:
    address = clientaddr.parse_address(request.remote_addr)
    return clientaddr.network_of(address) if address else "unknown"


def rate(key: str) -> Callable[[], str]:
    """The current value of a rate setting, for a decorator (evaluated on every request)."""
    return lambda: site_settings.current()[key]


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
    exceeded = []
    for name, rates, identifiers in checks:
        over = False
        for item in parse_many(rates):
            if not strategy.hit(item, "sign", name, *identifiers):
                over = True
        if over:
            exceeded.append(name)
    return exceeded


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
    limiter.init_app(app)
