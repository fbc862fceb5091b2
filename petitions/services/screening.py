"""Who may sign, and which signatures wait for a moderator: the checks the sign views (public
and sponsor) run before `signing.sign_petition`.

A signature is refused, with a message saying why, when

- an admin's BLOCK rule matches its address, its email domain (globs, parent domains) or the
  client's IP range;
- its domain (or a parent domain) is on the maintained list of disposable mail services
  (`disposable_email_domains.blocklist`), unless an ALLOW rule covers the domain or address;
- it is over a signing rate and `over_limit_signatures` is "refuse" (a 429 page).

Otherwise it is accepted, and quietly flagged (`SignatureFlag`: same page, same mail as anyone;
held instead of counted when confirmed) when a REVIEW rule matches (LISTED), the hidden field
was filled (HONEYPOT), the form came back sooner than `sign_min_seconds` after it was served
or without its signed "served at" token (TOO_FAST; the check is off at 0 seconds), the proof
of work was asked for and is missing, wrong or replayed (NO_PROOF), or it is over a signing
rate (RATE, the default of `over_limit_signatures`). One flag is kept, in that order.

Which rule wins: a rule for the very address decides (an ALLOW lets one address of a blocked
domain through); otherwise any matching BLOCK refuses; REVIEW flags; ALLOW (domain, network)
overrides the disposable list (domain) and exempts from the signing rates, which are then
not even counted.

Cost: the rules are read once per SITE_SETTINGS_SECONDS per instance (`current_rules`, one
SELECT), at once again after a change on this instance (access_rules.rules_changed), so the
sign POST runs no SQL for screening in steady state. Nothing here reads signatures, so the
work is the same whether or not the address has signed.
"""

from __future__ import annotations

import enum
import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clientaddr import IPNetwork, in_ranges, parse_address
from ..emailaddr import InvalidEmail, domain_matches, normalise_for_identity
from ..extensions import db
from ..models import AccessRule, RuleAction, RuleKind, SignatureFlag
from ..proofofwork import ProofCheck
from .signing import RequestFacts
from .site_settings import SiteSettings

#: The key of the app's cache (access_rules.rules_changed empties it).
CACHE_KEY = "access_rules"


@dataclass(frozen=True)
class RuleSet:
    """The admins' rules as screening reads them, grouped by kind."""

    #: (canonical address, action).
    addresses: Mapping[str, str] = field(default_factory=dict)
    #: (domain pattern, action), globs included.
    domains: tuple[tuple[str, str], ...] = ()
    #: (network, action).
    networks: tuple[tuple[IPNetwork, str], ...] = ()

    def allowed_domains(self) -> list[str]:
        """The domain patterns admins allowed (globs included)."""
        return [pattern for pattern, action in self.domains if action == RuleAction.ALLOW]


def load_rules(session: Session) -> RuleSet:
    """Every rule, in one SELECT."""
    addresses: dict[str, str] = {}
    domains: list[tuple[str, str]] = []
    networks: list[tuple[IPNetwork, str]] = []
    for kind, pattern, action in session.execute(
        select(AccessRule.kind, AccessRule.pattern, AccessRule.action)
    ):
        if kind == RuleKind.ADDRESS:
            addresses[pattern] = action
        elif kind == RuleKind.DOMAIN:
            domains.append((pattern, action))
        elif kind == RuleKind.NETWORK:
            networks.append((ipaddress.ip_network(pattern, strict=False), action))
    return RuleSet(addresses, tuple(domains), tuple(networks))


class _Cache:
    def __init__(self) -> None:
        self.rules: RuleSet | None = None
        self.read_at = float("-inf")


def current_rules() -> RuleSet:
    """This instance's copy of the rules, read again every SITE_SETTINGS_SECONDS (as the
    runtime settings are) or after access_rules.rules_changed."""
    app = current_app._get_current_object()  # noqa: SLF001 - the cache belongs to the app
    cache = app.extensions.setdefault(CACHE_KEY, _Cache())
    if (
        cache.rules is None
        or time.monotonic() - cache.read_at >= app.config["SITE_SETTINGS_SECONDS"]
    ):
        cache.rules = load_rules(db.session)
        cache.read_at = time.monotonic()
    return cache.rules


def is_disposable(domain: str) -> bool:
    """The domain, or a domain it is under, is a disposable mail service."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in DISPOSABLE_DOMAINS for i in range(len(labels) - 1))


class Refusal(enum.StrEnum):
    DISPOSABLE = "disposable"
    BLOCKED = "blocked"
    BLOCKED_NETWORK = "blocked_network"
    #: Over a signing rate, with `over_limit_signatures` = "refuse".
    OVER_LIMIT = "over_limit"


REFUSAL_MESSAGES = {
    Refusal.DISPOSABLE: _l(
        "Addresses of disposable email services cannot sign here. Please use an address you "
        "keep: each signature is confirmed by email, and counts once per person."
    ),
    Refusal.BLOCKED: _l(
        "Signatures from this email address or its domain are not accepted on this site. "
        "If you think this is a mistake, please sign with another address you use."
    ),
    Refusal.BLOCKED_NETWORK: _l(
        "Signatures from your internet connection are not accepted on this site at the "
        "moment. Please try again from another connection (at home or on your phone's data)."
    ),
}


@dataclass(frozen=True)
class Evidence:
    """What the posted form says about who filled it."""

    #: The hidden field a person never fills had a value.
    honeypot_filled: bool = False
    #: The proof of work; None when it was not asked for.
    proof: ProofCheck | None = None


@dataclass(frozen=True)
class Screening:
    #: Why the signature is refused; None: accepted.
    refusal: Refusal | None = None
    #: Why an accepted signature waits for review when confirmed; None: counted.
    flag: SignatureFlag | None = None
    #: The signing rates exceeded (counted by this request): "address", "network", ...
    exceeded: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return self.refusal is not None

    @property
    def message(self):
        return REFUSAL_MESSAGES.get(self.refusal) if self.refusal else None


def _rule_action(
    email: str, facts: RequestFacts, rules: RuleSet, config: Mapping
) -> tuple[str | None, set[str]]:
    """The address rule's action (or None), and the actions of every other matching rule."""
    try:
        canonical = normalise_for_identity(email, config["EMAIL_ALIAS_RULES"])
    except InvalidEmail:
        canonical = email.casefold()
    actions = set()
    domain = facts.email_domain or ""
    for pattern, action in rules.domains:
        if domain_matches(domain, pattern):
            actions.add(action)
    address = parse_address(facts.client_ip)
    if address is not None:
        for network, action in rules.networks:
            if in_ranges(address, (network,)):
                actions.add(action)
    return rules.addresses.get(canonical), actions


def screen(
    *,
    email: str,
    facts: RequestFacts,
    evidence: Evidence,
    settings: SiteSettings,
    rules: RuleSet,
    config: Mapping,
    count_rates: Callable[[], list[str]],
) -> Screening:
    """Refuse, or accept with a flag or none (see the module docstring).

    `count_rates` counts this signature against every signing limit and names those it
    exceeds (limits.signing_limits_exceeded, bound to the request); it is called once, unless
    the signature is refused by a rule or exempt by an ALLOW rule.
    """
    address_action, actions = _rule_action(email, facts, rules, config)
    allowed = address_action == RuleAction.ALLOW
    if address_action == RuleAction.BLOCK:
        return Screening(Refusal.BLOCKED)
    if not allowed and RuleAction.BLOCK in actions:
        network_only = not any(
            domain_matches(facts.email_domain or "", p) and a == RuleAction.BLOCK
            for p, a in rules.domains
        )
        return Screening(Refusal.BLOCKED_NETWORK if network_only else Refusal.BLOCKED)
    domain_allowed = allowed or any(
        a == RuleAction.ALLOW and domain_matches(facts.email_domain or "", p)
        for p, a in rules.domains
    )
    if not domain_allowed and is_disposable(facts.email_domain or ""):
        return Screening(Refusal.DISPOSABLE)
    exempt = allowed or RuleAction.ALLOW in actions
    exceeded = () if exempt else tuple(count_rates())
    if exceeded and settings["over_limit_signatures"] == "refuse":
        return Screening(Refusal.OVER_LIMIT, exceeded=exceeded)
    return Screening(flag=_flag(address_action, actions, facts, evidence, settings, exceeded))


def _flag(address_action, actions, facts, evidence, settings, exceeded) -> SignatureFlag | None:
    min_ms = float(settings["sign_min_seconds"]) * 1000
    if address_action == RuleAction.REVIEW or (
        address_action is None and RuleAction.REVIEW in actions
    ):
        return SignatureFlag.LISTED
    if evidence.honeypot_filled:
        return SignatureFlag.HONEYPOT
    if min_ms > 0 and (facts.submit_ms is None or facts.submit_ms < min_ms):
        return SignatureFlag.TOO_FAST
    if evidence.proof is not None and evidence.proof is not ProofCheck.VALID:
        return SignatureFlag.NO_PROOF
    if exceeded:
        return SignatureFlag.RATE
    return None
