"""Admins' block, allow and review rules for email domains, addresses and IP ranges.

Patterns are stored in one canonical form, so a rule matches however a signer types an
address and two spellings of one range are one rule (the table's unique constraint):

- a domain: lower-case ASCII (IDNA, via emailaddr.email_domain) unless it has glob characters
  (`*`, `?`, `[`), which are kept lower-case as typed; `example.com` also covers its
  subdomains (emailaddr.domain_matches);
- an address: emailaddr.normalise_for_identity (aliases and tags folded);
- a range: ipaddress's network form (`203.0.113.7/24` is refused: host bits set).

services/screening.py (the signing checks) reads the table with the runtime settings'
TTL, so a change is in force on every instance within SITE_SETTINGS_SECONDS and at once on
this one (`rules_changed`). Every change is audited in `admin_events`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import datetime

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..emailaddr import InvalidEmail, email_domain, normalise_for_identity, validate_address
from ..models import AccessRule, RuleAction, RuleKind
from . import site_settings

PATTERN_MAX = 254
NOTE_MAX = 500
GLOB_CHARACTERS = "*?["
#: What a domain pattern may contain once lower-cased (globs included).
_DOMAIN_PATTERN = re.compile(r"^[a-z0-9*?\[\]!._-]+$")


class RuleError(ValueError):
    """A pattern or rule an admin typed that cannot be stored; the message says why."""


def canonical_pattern(kind: str, pattern: str, *, config: Mapping | None = None) -> str:
    """The pattern as stored and compared, or RuleError saying what is wrong with it."""
    text = (pattern or "").strip()
    if not text:
        raise RuleError(_l("Please type a pattern."))
    if len(text) > PATTERN_MAX:
        raise RuleError(_l("Please use at most %(max)d characters.", max=PATTERN_MAX))
    if kind == RuleKind.NETWORK:
        try:
            return str(ipaddress.ip_network(text, strict=True))
        except ValueError:
            raise RuleError(
                _l(
                    "Write an IP range in CIDR notation with no host bits set, e.g. "
                    "203.0.113.0/24 or 2001:db8::/32 (a single address: 203.0.113.7/32)."
                )
            ) from None
    if kind == RuleKind.DOMAIN:
        return _domain_pattern(text)
    if kind == RuleKind.ADDRESS:
        try:
            validate_address(text)
        except InvalidEmail:
            raise RuleError(_l("Write a whole email address, e.g. someone@example.com.")) from None
        rules = (config or {}).get("EMAIL_ALIAS_RULES")
        return normalise_for_identity(text, rules) if rules else normalise_for_identity(text)
    raise RuleError(_l("Choose a kind of rule."))


def _domain_pattern(text: str) -> str:
    text = text.removeprefix("@").rstrip(".")
    if "@" in text:
        raise RuleError(_l("Write a domain without the name before @, e.g. example.com."))
    if any(c in text for c in GLOB_CHARACTERS):
        pattern = text.lower()
        if not _DOMAIN_PATTERN.match(pattern) or pattern.strip("*?.") == "":
            raise RuleError(
                _l(
                    "A domain pattern names at least part of a domain, e.g. *.example.com or "
                    "mailinator.*; a lone * would match every address."
                )
            )
        return pattern
    domain = email_domain("x@" + text)
    if "." not in domain or not _DOMAIN_PATTERN.match(domain) or ".." in domain:
        raise RuleError(_l("Write a domain name, e.g. example.com."))
    return domain


def add_rule(
    session: Session,
    *,
    kind: str,
    action: str,
    pattern: str,
    note: str | None,
    actor_id: int | None,
    now: datetime,
    config: Mapping | None = None,
) -> AccessRule:
    """Store a rule (validated, canonical); audited; flushes, the caller commits. One rule per
    kind and pattern: adding an existing pattern is refused (remove it to change its action)."""
    if kind not in set(RuleKind):
        raise RuleError(_l("Choose a kind of rule."))
    if action not in set(RuleAction):
        raise RuleError(_l("Choose what the rule does."))
    canonical = canonical_pattern(kind, pattern, config=config)
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise RuleError(_l("Please keep the note under %(max)d characters.", max=NOTE_MAX))
    existing = session.scalar(
        select(AccessRule).where(AccessRule.kind == kind, AccessRule.pattern == canonical)
    )
    if existing is not None:
        raise RuleError(
            _l(
                "There is already a rule for %(pattern)s (%(action)s); remove it first to "
                "change it.",
                pattern=canonical,
                action=existing.action,
            )
        )
    rule = AccessRule(
        kind=kind, action=action, pattern=canonical, note=note, created_at=now, created_by=actor_id
    )
    session.add(rule)
    session.flush()
    site_settings.audit(
        session, "rule_added", canonical, actor_id=actor_id, now=now, kind=kind, action=action
    )
    session.flush()
    rules_changed()
    return rule


def remove_rule(session: Session, rule_id: int, *, actor_id: int | None, now: datetime) -> bool:
    """Delete a rule (audited); False if it was already gone. Flushes."""
    rule = session.get(AccessRule, rule_id)
    if rule is None:
        return False
    site_settings.audit(
        session,
        "rule_removed",
        rule.pattern,
        actor_id=actor_id,
        now=now,
        kind=rule.kind,
        action=rule.action,
    )
    session.delete(rule)
    session.flush()
    rules_changed()
    return True


def list_rules(session: Session) -> list[AccessRule]:
    return list(session.scalars(select(AccessRule).order_by(AccessRule.kind, AccessRule.pattern)))


def rules_changed() -> None:
    """This instance reads the rules (and the settings) again at their next use; the others
    within SITE_SETTINGS_SECONDS."""
    if has_app_context():
        site_settings.forget()
        current_app.extensions.pop("access_rules", None)
