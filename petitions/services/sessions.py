"""Login sessions kept on the server, so that logging out ends a session for good.

The session cookie is signed, not encrypted, and a copy of it (a shared computer, a proxy log,
malware) would otherwise keep working after the holder logged out: Flask-Login only forgets
the user in the browser that logs out. So each login gets a row in `user_sessions` and a random
key that only the cookie holds; the row stores the key's SHA-256, which is enough to find it
and useless to anyone who reads the table. A request is logged in only while its row exists,
belongs to the user the cookie names and has not ended; logging out sets `ended_at`.

A change of password or address still ends every session through the account's
`credentials_version` (see `User.get_id`), and deleting an account deletes its rows (the
foreign key cascades).

Functions take the session explicitly, commit what they change, and never read the request.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import User, UserSession

logger = logging.getLogger(__name__)

#: Longest key accepted from a cookie (ours are 43 characters): more is not ours.
KEY_MAX = 100


def key_hash(key: str) -> str:
    """What the table stores for a session key: its SHA-256, hex (64 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(session: Session, user: User, *, now: datetime) -> str:
    """A new session for `user`; returns its key, for the cookie only. Commits."""
    key = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, key_hash=key_hash(key), created_at=now)
    session.add(row)
    session.flush()
    logger.info("account %s logged in (session %s)", user.id, row.id)
    session.commit()
    return key


def end_session(session: Session, key: object, *, now: datetime) -> bool:
    """End the session of `key`; False if there was none or it had ended. Commits."""
    if not _plausible(key):
        return False
    ended = session.execute(
        update(UserSession)
        .where(UserSession.key_hash == key_hash(key), UserSession.ended_at.is_(None))
        .values(ended_at=now)
        .returning(UserSession.id, UserSession.user_id)
    ).first()
    session.commit()
    if ended is not None:
        logger.info("account %s logged out (session %s)", ended.user_id, ended.id)
    return ended is not None


def session_user(session: Session, user_id: int, version: int, key: object) -> User | None:
    """The user of a live session: its key is known and not ended, it belongs to `user_id`,
    and the account's credentials are still those of the login (`version`).

    One query, on the unique key hash joined to the user's primary key, for every request.
    A missing or malformed key (a cookie from before server-side sessions) is no session.
    """
    if not _plausible(key):
        return None
    return session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.key_hash == key_hash(key),
            UserSession.ended_at.is_(None),
            User.id == user_id,
            User.credentials_version == version,
        )
    )


def _plausible(key: object) -> bool:
    return isinstance(key, str) and 0 < len(key) <= KEY_MAX
