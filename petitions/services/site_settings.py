"""Settings admins change at run time: rates, how over-limit signatures are treated, mail caps,
bot friction, the kill switches.

The environment gives each one's default (a row of config.SETTINGS, named by `Tunable.config`);
an admin's change is a row of `site_settings`, written with an `admin_events` entry. Each
instance keeps what it read for `SITE_SETTINGS_SECONDS` (one small SELECT per period, never
per request), so a change is in force on every instance within seconds and at once on the
instance that made it. Rules for domains, addresses and IP ranges (`access_rules`) are read the
same way, by services/screening.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from limits import parse_many
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import dialect_insert
from ..extensions import db
from ..models import AdminEvent, SiteSetting, User
from ..pagination import Page, bounds


class SettingError(ValueError):
    """A value an admin typed that the setting cannot take; the message says why."""


def _rate(value: Any) -> str:
    text = str(value).strip()
    try:
        if not parse_many(text):
            raise ValueError(text)
    except ValueError:
        raise SettingError(
            _l('Write rates as "number/period", several with ";", e.g. "3/minute;20/hour".')
        ) from None
    return text


def _count(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingError(_l("Write a whole number.")) from None
    if number < 0:
        raise SettingError(_l("Write zero or more."))
    return number


def _seconds(value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise SettingError(_l("Write a number of seconds.")) from None
    if not 0 <= number <= 3600:
        raise SettingError(_l("Write a number of seconds from 0 to 3600."))
    return number


def _flag(value: Any) -> bool:
    """yes or no: in English, or in the admin's language as the settings page writes it
    (its "yes" and "no", so an admin types back the word they read)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in {"1", "true", "yes", "on", str(_l("yes")).casefold()}:
        return True
    if text in {"0", "false", "no", "off", "", str(_l("no")).casefold()}:
        return False
    raise SettingError(_l("Write yes or no."))


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise SettingError(_l("Choose one of: %(choices)s.", choices=", ".join(choices)))
        return text

    return parse


@dataclass(frozen=True)
class Tunable:
    """One runtime setting."""

    key: str
    #: The app.config key of its default (a row of config.SETTINGS), or None: `default`.
    config: str | None
    #: Parses and checks an admin's value (raises SettingError with a clear message).
    parse: Callable[[Any], Any]
    #: What it does, for the admin page.
    meaning: str
    default: Any = None


TUNABLES: dict[str, Tunable] = {
    t.key: t
    for t in (
        Tunable(
            "rate_sign_address", "RATE_SIGN_ADDRESS", _rate, _l("Signatures per client address")
        ),
        Tunable("rate_sign_network", "RATE_SIGN_NETWORK", _rate, _l("Signatures per network")),
        Tunable(
            "rate_sign_domain",
            "RATE_SIGN_DOMAIN",
            _rate,
            _l("Signatures per email domain, petition"),
        ),
        Tunable("rate_sign_petition", "RATE_SIGN_PETITION", _rate, _l("Signatures per petition")),
        Tunable(
            "rate_confirm", "RATE_CONFIRM", _rate, _l("Confirmation clicks per client address")
        ),
        Tunable("rate_signup", "RATE_SIGNUP", _rate, _l("Sign-ups per client address")),
        Tunable("rate_login_address", "RATE_LOGIN_ADDRESS", _rate, _l("Logins per client address")),
        Tunable("rate_login_account", "RATE_LOGIN_ACCOUNT", _rate, _l("Logins per account")),
        Tunable(
            "rate_password_reset", "RATE_PASSWORD_RESET", _rate, _l("Password resets per address")
        ),
        Tunable("rate_email_change", "RATE_EMAIL_CHANGE", _rate, _l("Email changes per address")),
        Tunable("rate_new_petition", "RATE_NEW_PETITION", _rate, _l("New petitions per address")),
        Tunable("rate_unsubscribe", "RATE_UNSUBSCRIBE", _rate, _l("Unsubscribes per address")),
        Tunable(
            "over_limit_signatures",
            "OVER_LIMIT_SIGNATURES",
            _choice("flag", "refuse"),
            _l("Over-limit signatures: flag for review, or refuse with a 429 page"),
        ),
        Tunable(
            "mail_cap_per_recipient",
            "MAIL_CAP_PER_RECIPIENT",
            _count,
            _l("Account and signing emails per address per day"),
        ),
        Tunable(
            "sign_min_seconds",
            "SIGN_MIN_SECONDS",
            _seconds,
            _l("Signatures posted sooner after the page are flagged"),
        ),
        Tunable("proof_of_work", "PROOF_OF_WORK", _flag, _l("Ask browsers for a proof of work")),
        Tunable(
            "proof_of_work_bits",
            "PROOF_OF_WORK_BITS",
            _count,
            _l("Proof of work: zero bits needed"),
        ),
        Tunable(
            "trending_threshold",
            "TRENDING_THRESHOLD",
            _count,
            _l("Signatures of one petition per hour from one network that make it trending"),
        ),
        Tunable(
            "trending_domain_threshold",
            "TRENDING_DOMAIN_THRESHOLD",
            _count,
            _l(
                "Signatures of one petition per hour from one email domain that make it "
                "trending (0: off; big providers and allowed domains never trend)"
            ),
        ),
        Tunable(
            "signing_paused",
            None,
            _flag,
            _l("Pause signing on the whole site (deadlines move on by the pause)"),
            False,
        ),
        Tunable("creation_paused", None, _flag, _l("Pause the creation of petitions"), False),
    )
}


@dataclass(frozen=True)
class SiteSettings:
    """The runtime settings as one instance sees them now."""

    values: Mapping[str, Any]
    #: When each changed value was set (for the pause: since when).
    changed_at: Mapping[str, datetime] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def is_default(self, key: str) -> bool:
        return key not in self.changed_at


def defaults(config: Mapping) -> dict[str, Any]:
    return {t.key: config[t.config] if t.config else t.default for t in TUNABLES.values()}


def load(session: Session, config: Mapping) -> SiteSettings:
    """The defaults with the admins' changes over them (one SELECT)."""
    values = defaults(config)
    changed: dict[str, datetime] = {}
    for row in session.scalars(select(SiteSetting)):
        tunable = TUNABLES.get(row.key)
        if tunable is None:  # a setting a later version removed
            continue
        values[row.key] = row.value
        changed[row.key] = row.updated_at
    return SiteSettings(values, changed)


class _Cache:
    def __init__(self) -> None:
        self.settings: SiteSettings | None = None
        self.read_at = float("-inf")


def current() -> SiteSettings:
    """This instance's view of the runtime settings, read again every SITE_SETTINGS_SECONDS
    (in a request or app context; services that decide take the settings as an argument)."""
    if has_request_context() and "site_settings" in g:
        return g.site_settings  # one request sees one version (and reads it once at most)
    app = current_app._get_current_object()  # noqa: SLF001 - the cache belongs to the app
    cache = app.extensions.setdefault("site_settings", _Cache())
    if (
        cache.settings is None
        or time.monotonic() - cache.read_at >= app.config["SITE_SETTINGS_SECONDS"]
    ):
        cache.settings = load(db.session, app.config)
        cache.read_at = time.monotonic()
    if has_request_context():
        g.site_settings = cache.settings
    return cache.settings


def forget() -> None:
    """Read the settings again at the next use (this instance just changed one)."""
    cache = current_app.extensions.get("site_settings")
    if cache is not None:
        cache.settings = None
    if has_request_context():
        g.pop("site_settings", None)


def audit(
    session: Session,
    action: str,
    target: str,
    /,
    *,
    actor_id: int | None,
    now: datetime,
    **details: Any,
) -> None:
    """One entry of the site audit log (flushes with the caller's transaction). The first
    three are positional only, so any name (even `action`) can be a detail."""
    session.add(
        AdminEvent(
            actor_id=actor_id, action=action, target=target, details=details or None, created_at=now
        )
    )


def change(
    session: Session,
    key: str,
    raw: Any,
    *,
    config: Mapping,
    actor_id: int | None,
    now: datetime,
) -> Any:
    """Set one runtime setting (validated; audited with its old and new value); flushes, the
    caller commits. Returns the stored value. Setting a value equal to the default still
    stores it (the admin's explicit choice survives a change of the environment's default)."""
    tunable = TUNABLES.get(key)
    if tunable is None:
        raise SettingError(_l("There is no setting %(key)s.", key=key))
    value = tunable.parse(raw)
    row = session.get(SiteSetting, key)
    old = row.value if row is not None else defaults(config)[key]
    # An upsert: two admins setting a key for the first time at once both succeed (the later
    # commit wins), where an INSERT would give one of them a primary-key error.
    statement = dialect_insert(session)(SiteSetting).values(
        key=key, value=value, updated_at=now, updated_by=actor_id
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[SiteSetting.key],
            set_={"value": value, "updated_at": now, "updated_by": actor_id},
        )
    )
    if row is not None:
        session.expire(row)
    audit(session, "setting_changed", key, actor_id=actor_id, now=now, old=old, new=value)
    session.flush()
    return value


def reset(session: Session, key: str, *, config: Mapping, actor_id: int | None, now: datetime):
    """Back to the environment's default (audited); flushes."""
    row = session.get(SiteSetting, key)
    if row is None:
        return
    audit(
        session,
        "setting_reset",
        key,
        actor_id=actor_id,
        now=now,
        old=row.value,
        new=defaults(config)[key],
    )
    session.delete(row)
    session.flush()


@dataclass(frozen=True)
class SettingRow:
    """One runtime setting as the admin page shows it."""

    tunable: Tunable
    value: Any
    default: Any
    #: When an admin set it and who (None: the environment's default is in force).
    changed_at: datetime | None
    changed_by: str | None


def overview(session: Session, config: Mapping) -> list[SettingRow]:
    """Every tunable with its value now, its default and who changed it when (one SELECT)."""
    base = defaults(config)
    changed = {
        row.key: (row, name)
        for row, name in session.execute(
            select(SiteSetting, User.display_name).outerjoin(
                User, User.id == SiteSetting.updated_by
            )
        )
    }
    rows = []
    for key, tunable in TUNABLES.items():
        row, name = changed.get(key, (None, None))
        rows.append(
            SettingRow(
                tunable,
                row.value if row is not None else base[key],
                base[key],
                row.updated_at if row is not None else None,
                name,
            )
        )
    return rows


def audit_log(session: Session, *, page: int, per_page: int) -> Page:
    """The site audit log, newest first, with each actor's name."""
    query = select(AdminEvent, User.display_name).outerjoin(User, User.id == AdminEvent.actor_id)
    total, pages, page = bounds(session, query, page=page, per_page=per_page)
    rows = session.execute(
        query.order_by(AdminEvent.created_at.desc(), AdminEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([(event, name) for event, name in rows], page, pages, total)
