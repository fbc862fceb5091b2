"""Organiser accounts: sign-up, email confirmation, login throttling, password and address
changes, deletion, roles.

Nothing here tells a stranger whether an address has an account: sign-up and password reset
give the same answer for every address, and only the email that address receives differs;
a failed login is one outcome (`None`) whatever the reason.

Emailed links are signed, expiring tokens (itsdangerous) that carry the account's
`credentials_version`. Every change of password or address bumps it, which ends the account's
sessions (see `User.get_id`) and makes every link sent before unusable, so a reset link works
once.

Functions take the session and a policy explicitly, commit what they change, and never read
the request: the views, the CLI and the tests use them alike.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import links, outbox, passwords
from ..database import dialect_insert
from ..emailaddr import (
    BUILTIN_ALIAS_RULES,
    AliasRules,
    InvalidEmail,
    identity_forms,
    normalise_for_identity,
)
from ..models import Petition, Role, User

logger = logging.getLogger(__name__)


@cache
def _dummy_hash() -> str:
    """Verified against when no account matches, so an unknown address costs as much time as
    a wrong password (the response time does not tell whether an account exists)."""
    return passwords.hash_password("no account has this password, it only takes time")


@dataclass(frozen=True)
class AccountPolicy:
    """The settings accounts depend on, read from the app config at the call site."""

    secret_key: str
    base_url: str
    token_max_age: timedelta
    max_failures: int
    lock_time: timedelta
    #: Which addresses are one mailbox (config EMAIL_ALIAS_RULES; see emailaddr.py).
    alias_rules: AliasRules = BUILTIN_ALIAS_RULES

    @classmethod
    def from_config(cls, config: Mapping) -> AccountPolicy:
        return cls(
            secret_key=config["SECRET_KEY"],
            base_url=config["PUBLIC_BASE_URL"],
            token_max_age=timedelta(seconds=config["ACCOUNT_TOKEN_MAX_AGE_SECONDS"]),
            max_failures=config["LOGIN_MAX_FAILURES"],
            lock_time=timedelta(seconds=config["LOGIN_LOCK_SECONDS"]),
            alias_rules=config["EMAIL_ALIAS_RULES"],
        )


class AccountError(Exception):
    """A request the account rules refuse; the message is safe to show an operator."""


class AccountExists(AccountError):
    pass


class NoSuchAccount(AccountError):
    pass


# --- tokens --------------------------------------------------------------------------------


class TokenPurpose(enum.StrEnum):
    """Each kind of link is signed with its own salt: one can never stand in for another."""

    CONFIRM = "account-confirm"
    RESET = "account-password-reset"
    EMAIL = "account-email-change"


class TokenProblem(enum.Enum):
    EXPIRED = "expired"
    #: Malformed, altered, for a deleted account, or used up (the credentials changed since).
    INVALID = "invalid"


@dataclass(frozen=True)
class TokenCheck:
    """A decoded link: the account it is for, or why it cannot be used."""

    user: User | None = None
    problem: TokenProblem | None = None
    #: The new address, for a change-of-address link.
    new_email: str | None = None


def make_token(purpose: TokenPurpose, user, policy: AccountPolicy, extra: str = "") -> str:
    """A signed link token for `user` (a User, or a row with `id` and `credentials_version`)."""
    serializer = URLSafeTimedSerializer(policy.secret_key, salt=str(purpose))
    return serializer.dumps([user.id, user.credentials_version, extra])


def check_token(
    session: Session, purpose: TokenPurpose, token: str, policy: AccountPolicy
) -> TokenCheck:
    """The account a link is for, if it is intact, fresh and still fits; never raises.

    A link whose account changed its credentials since is INVALID (used), even if expired too.
    """
    serializer = URLSafeTimedSerializer(policy.secret_key, salt=str(purpose))
    expired = False
    try:
        payload = serializer.loads(token, max_age=int(policy.token_max_age.total_seconds()))
    except SignatureExpired as exc:
        expired = True
        try:
            payload = serializer.load_payload(exc.payload)
        except BadSignature:
            return TokenCheck(problem=TokenProblem.INVALID)
    except (BadSignature, UnicodeError, ValueError):
        return TokenCheck(problem=TokenProblem.INVALID)
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and all(isinstance(part, int) and not isinstance(part, bool) for part in payload[:2])
        and isinstance(payload[2], str)
    ):
        return TokenCheck(problem=TokenProblem.INVALID)
    user_id, version, extra = payload
    user = session.get(User, user_id)
    if user is None or user.credentials_version != version:
        return TokenCheck(problem=TokenProblem.INVALID)
    if expired:
        return TokenCheck(user=user, problem=TokenProblem.EXPIRED)
    return TokenCheck(user=user, new_email=extra or None)


# --- lookups ---------------------------------------------------------------------------------


def find_by_email(
    session: Session, email: str, *, rules: AliasRules = BUILTIN_ALIAS_RULES
) -> User | None:
    """The account whose mailbox `email` reaches (case, +tags, provider aliases ignored).

    Accounts made before a change of the alias rules keep the form they had then, so every
    form the address had is looked for; one with the current form comes first.
    """
    try:
        forms = identity_forms(email, rules)
    except InvalidEmail:
        return None
    found = session.scalars(select(User).where(User.email_canonical.in_(forms))).all()
    return min(found, key=lambda user: (forms.index(user.email_canonical), user.id), default=None)


# --- sign-up and confirmation ----------------------------------------------------------------


def sign_up(
    session: Session,
    *,
    email: str,
    display_name: str,
    password: str,
    now: datetime,
    policy: AccountPolicy,
    locale: str = "en",
) -> None:
    """Register an organiser, or answer a repeat by mail only; commits.

    - a new address: a pending account and its confirmation link;
    - an unconfirmed account: the newest sign-up wins (name and password replaced, earlier
      links void), and a fresh link goes out. Whoever signed up first with someone else's
      address therefore cannot own the account once its holder signs up;
    - a confirmed account: a "you already have an account" mail with the way to log in.

    Every branch does the same work, so the response time does not tell whether the address
    has an account: one password hash, one lookup, one `INSERT ... ON CONFLICT DO UPDATE`
    that creates the account or (only if unconfirmed) takes it over, and returns the row
    either way (two sign-ups racing for one address meet at the unique key), one outbox row,
    one commit.
    """
    password_hash = passwords.hash_password(password)
    # An account found under an older form of the address (emailaddr.identity_forms) is taken
    # over under its stored key, so a rule change never gives one mailbox two accounts.
    existing = find_by_email(session, email, rules=policy.alias_rules)
    canonical = (
        existing.email_canonical
        if existing is not None
        else normalise_for_identity(email, policy.alias_rules)
    )
    unconfirmed = User.email_confirmed_at.is_(None)
    table = User.__table__
    insert = dialect_insert(session)(User)

    def if_unconfirmed(column, new_value):
        return case((unconfirmed, new_value), else_=table.c[column])

    row = session.execute(
        insert.values(
            email=email,
            email_canonical=canonical,
            password_hash=password_hash,
            display_name=display_name,
            role=Role.ORGANISER,
            created_at=now,
            failed_logins=0,
            credentials_version=1,
            locale=locale,
        )
        .on_conflict_do_update(
            index_elements=[User.email_canonical],
            set_={
                "display_name": if_unconfirmed("display_name", insert.excluded.display_name),
                "password_hash": if_unconfirmed("password_hash", insert.excluded.password_hash),
                "email": if_unconfirmed("email", insert.excluded.email),
                "locale": if_unconfirmed("locale", insert.excluded.locale),
                "credentials_version": if_unconfirmed(
                    "credentials_version", User.credentials_version + 1
                ),
            },
        )
        .returning(
            User.id,
            User.email,
            User.display_name,
            User.locale,
            User.credentials_version,
            User.email_confirmed_at,
        )
    ).one()
    if row.email_confirmed_at is not None:
        outbox.enqueue(
            session,
            kind="account_exists",
            to=row.email,
            locale=row.locale,
            context={
                "name": row.display_name,
                "login_url": links.login(policy.base_url),
                "reset_url": links.password_reset(policy.base_url),
            },
        )
    else:
        token = make_token(TokenPurpose.CONFIRM, row, policy)
        outbox.enqueue(
            session,
            kind="account_confirm",
            to=row.email,
            locale=row.locale,
            context={
                "name": row.display_name,
                "confirm_url": links.account(policy.base_url, "confirm", token),
                "hours": _hours(policy),
            },
        )
    session.commit()
    logger.info("sign-up answered for account %s", row.id)


def _hours(policy: AccountPolicy) -> int:
    return max(1, int(policy.token_max_age.total_seconds()) // 3600)


def confirm_email(session: Session, user: User, *, now: datetime) -> bool:
    """Mark the account's address confirmed; False if it already was. Commits."""
    if user.email_confirmed_at is not None:
        return False
    user.email_confirmed_at = now
    session.commit()
    logger.info("account %s confirmed its address", user.id)
    return True


# --- login -----------------------------------------------------------------------------------


def authenticate(
    session: Session, email: str, password: str, *, now: datetime, policy: AccountPolicy
) -> User | None:
    """The account, if the password is right and it may log in now; commits.

    One outcome for every refusal (unknown address, wrong password, unconfirmed, locked), so
    the caller cannot tell them apart either. `policy.max_failures` wrong passwords in a row
    lock the account for `policy.lock_time`; while locked, even the right password is refused.
    A success clears the failures, records the time and upgrades an outdated hash.
    """
    user = find_by_email(session, email, rules=policy.alias_rules)
    if user is None:
        passwords.verify_password(_dummy_hash(), password)
        return None
    if user.locked_until is not None and user.locked_until > now:
        passwords.verify_password(_dummy_hash(), password)
        return None
    if not passwords.verify_password(user.password_hash, password):
        _record_failure(session, user, now=now, policy=policy)
        return None
    if user.email_confirmed_at is None:
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.commit()
    return user


def _record_failure(session: Session, user: User, *, now: datetime, policy: AccountPolicy) -> None:
    """Count a wrong password atomically (parallel guesses all count); lock at the limit."""
    failures = session.scalar(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    )
    if failures is not None and failures >= policy.max_failures:
        session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=0, locked_until=now + policy.lock_time)
        )
        logger.warning("account %s locked after %d failed logins", user.id, failures)
    session.commit()


# --- password reset and change ---------------------------------------------------------------


def request_password_reset(session: Session, email: str, *, policy: AccountPolicy) -> None:
    """Mail a reset link if `email` has an account; commits.

    Without an account a withheld record takes the message's place, so both answers do the
    same work (one lookup, one outbox row, one commit) and take the same time.
    """
    user = find_by_email(session, email, rules=policy.alias_rules)
    if user is None:
        outbox.withhold(session, kind="account_reset", reason="no account")
    else:
        token = make_token(TokenPurpose.RESET, user, policy)
        outbox.enqueue(
            session,
            kind="account_reset",
            to=user.email,
            locale=user.locale,
            context={
                "name": user.display_name,
                "reset_url": links.account(policy.base_url, "reset", token),
                "hours": _hours(policy),
            },
        )
    session.commit()


def set_locale(session: Session, user: User, locale: str, *, offered: Sequence[str]) -> None:
    """The language the account's emails are written in from now on (and their links open
    the site in). Only a language the site offers; commits."""
    if locale not in offered:
        raise ValueError(f"not an offered language: {locale!r}")
    user.locale = locale
    session.commit()


def set_password(session: Session, user: User, password: str, *, now: datetime) -> None:
    """A new password: every session and emailed link of the account ends. Commits.

    Used by a reset link, which also proves the address works (so it confirms it), and by
    "change password". Failures and a lock are cleared: the holder proved who they are.
    """
    user.password_hash = passwords.hash_password(password)
    user.credentials_version += 1
    user.failed_logins = 0
    user.locked_until = None
    session.commit()
    logger.info("account %s changed its password", user.id)


def reset_password(session: Session, user: User, password: str, *, now: datetime) -> None:
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now
    set_password(session, user, password, now=now)


def check_password(
    session: Session, user: User, password: str, *, now: datetime, policy: AccountPolicy
) -> bool:
    """A logged-in user's current password, before a sensitive change; commits failures.

    Wrong guesses count towards the same lock as failed logins, so a session left open on a
    shared computer does not allow unlimited guessing of the password.
    """
    if user.locked_until is not None and user.locked_until > now:
        return False
    if passwords.verify_password(user.password_hash, password):
        return True
    _record_failure(session, user, now=now, policy=policy)
    session.refresh(user)
    return False


# --- change of address -----------------------------------------------------------------------


def request_email_change(
    session: Session, user: User, new_email: str, *, policy: AccountPolicy
) -> None:
    """Mail a confirmation link to the new address; nothing changes until it is used. Commits.

    If another account already has that mailbox, the new address is told so instead (the
    requester sees the same page, so this cannot be used to find who has an account).
    """
    owner = find_by_email(session, new_email, rules=policy.alias_rules)
    if owner is not None and owner.id != user.id:
        outbox.enqueue(
            session,
            kind="account_email_taken",
            to=new_email,
            locale=user.locale,
            context={
                "login_url": links.login(policy.base_url),
                "reset_url": links.password_reset(policy.base_url),
            },
        )
    else:
        token = make_token(TokenPurpose.EMAIL, user, policy, extra=new_email)
        outbox.enqueue(
            session,
            kind="account_email_change",
            to=new_email,
            locale=user.locale,
            context={
                "name": user.display_name,
                "new_email": new_email,
                "confirm_url": links.account(policy.base_url, "email", token),
                "hours": _hours(policy),
            },
        )
    session.commit()


def change_email(
    session: Session,
    user: User,
    new_email: str,
    *,
    now: datetime,
    rules: AliasRules = BUILTIN_ALIAS_RULES,
) -> None:
    """Move the account to a confirmed new address and tell the old one; commits.

    Raises AccountExists if the mailbox got an account since the link was sent.
    """
    old_email = user.email
    user.email = new_email
    user.email_canonical = normalise_for_identity(new_email, rules)
    user.email_confirmed_at = now
    user.credentials_version += 1
    outbox.enqueue(
        session,
        kind="account_email_changed",
        to=old_email,
        locale=user.locale,
        context={"name": user.display_name, "new_email": new_email},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountExists(new_email) from None
    logger.info("account %s changed its email address", user.id)


# --- deletion --------------------------------------------------------------------------------


def delete_account(session: Session, user: User, *, now: datetime) -> int:
    """Delete the account; its petitions stay, marked as from a former organiser. Commits.

    Returns how many petitions it owned. The audit log keeps its entries (actor set to NULL
    by the foreign key).
    """
    kept = session.execute(
        update(Petition)
        .where(Petition.owner_id == user.id)
        .values(owner_id=None, owner_removed_at=now)
    ).rowcount
    user_id = user.id
    session.delete(user)
    session.commit()
    logger.info("account %s deleted; %d petitions kept without owner", user_id, kept)
    return kept


# --- operators -------------------------------------------------------------------------------


def create_account(
    session: Session,
    *,
    email: str,
    display_name: str,
    password: str,
    role: Role,
    now: datetime,
    rules: AliasRules = BUILTIN_ALIAS_RULES,
) -> User:
    """An account made by an operator: confirmed at once (the operator vouches). Commits."""
    if find_by_email(session, email, rules=rules) is not None:
        raise AccountExists(f"An account for {email} already exists.")
    user = User(
        email=email,
        email_canonical=normalise_for_identity(email, rules),
        password_hash=passwords.hash_password(password),
        display_name=display_name,
        role=role,
        created_at=now,
        email_confirmed_at=now,
        failed_logins=0,
        credentials_version=1,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountExists(f"An account for {email} already exists.") from None
    logger.info("account %s created by an operator with role %s", user.id, role)
    return user


def set_role(
    session: Session, email: str, role: Role, *, rules: AliasRules = BUILTIN_ALIAS_RULES
) -> User:
    """Give the account of `email` this role; commits."""
    user = find_by_email(session, email, rules=rules)
    if user is None:
        raise NoSuchAccount(f"No account for {email}.")
    user.role = role
    session.commit()
    logger.info("account %s now has role %s", user.id, role)
    return user


def list_accounts(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))
