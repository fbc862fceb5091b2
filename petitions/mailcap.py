"""The per-recipient mail cap: at most `mail_cap_per_recipient` account and signing emails to
one address per UTC day, whoever asks for them, so the site cannot be used to mail-bomb anyone.

The rate limits count requests per client; a botnet has many clients. The per-signature cap
(CONFIRMATION_MAX_SENDS) counts mail per signature; an attacker signs many petitions. This
cap counts what one mailbox receives, whatever caused it: fifteen sign-ups or fifteen
password resets of one address send it five mails, not fifteen.

The mail worker applies it (outbox.deliver_batch), not the request: a request does the same
work whether its mail will go or not (emails.py), and the worker is the one place every
message passes. When it reads a batch, before sending any of it, the worker takes one of the
day's places for the recipient of each capped message with a single conditional upsert
(`reserve`), so two workers cannot both send the sixth; a message that then fails to go, or
that the batch hands back untried, gives its place back (`release`). A message over
the cap is withheld: given up with the reason, erased like any other, and logged, never sent.

Recipients are keyed hashes of their canonical address (emailaddr.identity_key), so
`a.b+x@gmail.com` and `ab@gmail.com` share one count and the table holds no address.
Housekeeping deletes the rows of past days (`purge`).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import bindparam, delete
from sqlalchemy.orm import Session

from .database import dialect_insert
from .emailaddr import BUILTIN_ALIAS_RULES, AliasRules, InvalidEmail, identity_key
from .models import MailRecipientCount

#: The kinds of petitions/emails.py the cap counts: those a stranger can make the site send to
#: any address (signing one, signing up or resetting a password with it, moving an account to
#: it). Not capped: what the recipient asked for (updates, responses, closings of petitions they
#: signed and opted into), what concerns their own petition (moderation, milestones), and the
#: notice that their account's address was changed (a security notice no one can repeat at
#: will: each needs a link sent to the new address).
CAPPED_KINDS = frozenset(
    {
        "confirmation",
        "already_signed",
        "account_confirm",
        "account_exists",
        "account_reset",
        "account_email_taken",
        "account_email_change",
    }
)

#: Days of counts kept: today's, and yesterday's for a worker still sending at midnight.
KEEP_DAYS = 2

#: The reason a withheld message records (outbox last_error).
WITHHELD_REASON = "withheld: mail cap per recipient reached"


def recipient_key(address: str, secret: str, rules: AliasRules = BUILTIN_ALIAS_RULES) -> str:
    """The recipient's key: a keyed hash of the canonical mailbox (of the address as written,
    if it is not one we can read; such a message will not be delivered anyway)."""
    try:
        return identity_key(address, secret, rules)
    except InvalidEmail:
        return identity_key(f"{address.strip().casefold()}@invalid", secret, rules)


def reserve(session: Session, key: str, day: date, cap: int) -> bool:
    """Take one of `day`'s places for recipient `key`; False if `cap` are taken. Flushes, the
    caller commits.

    One statement, atomic on PostgreSQL and SQLite alike: the increment happens only while the
    count is under the cap (`ON CONFLICT ... DO UPDATE ... WHERE`), so parallel workers cannot
    both take the last place.
    """
    if cap <= 0:
        return False
    row = session.execute(
        _reserve_statement(session), {"recipient_key": key, "day": day, "sent": 1, "cap": cap}
    ).first()
    return row is not None


#: `reserve`'s upsert per database dialect, built once: it runs for every capped message.
_RESERVES: dict[str, object] = {}


def _reserve_statement(session: Session):
    dialect = session.get_bind().dialect.name
    statement = _RESERVES.get(dialect)
    if statement is None:
        table = MailRecipientCount.__table__
        statement = _RESERVES[dialect] = (
            dialect_insert(session)(table)
            .on_conflict_do_update(
                index_elements=[table.c.recipient_key, table.c.day],
                set_={"sent": table.c.sent + 1},
                where=table.c.sent < bindparam("cap"),
            )
            .returning(table.c.sent)
        )
    return statement


def release(session: Session, key: str, day: date) -> None:
    """Give back a place taken for a message that was not sent after all (a failure)."""
    session.execute(
        MailRecipientCount.__table__.update()
        .where(
            MailRecipientCount.recipient_key == key,
            MailRecipientCount.day == day,
            MailRecipientCount.sent > 0,
        )
        .values(sent=MailRecipientCount.sent - 1)
    )


def purge(session: Session, *, today: date) -> int:
    """Delete the counts of days before the last KEEP_DAYS; flushes, the caller commits."""
    cutoff = today - timedelta(days=KEEP_DAYS - 1)
    return session.execute(
        delete(MailRecipientCount).where(MailRecipientCount.day < cutoff)
    ).rowcount
