"""Accounts of organisers, moderators and admins."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import BigId, UTCDateTime, one_of, utcnow


class Role(enum.StrEnum):
    ORGANISER = "organiser"
    MODERATOR = "moderator"
    ADMIN = "admin"


#: What each role may do beyond the one below it.
ROLE_RANK = {Role.ORGANISER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}

DISPLAY_NAME_MAX = 100


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role_known"),
        CheckConstraint("length(display_name) > 0", name="name_not_empty"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The address as the user gave it (validated), where their mail goes.
    email: Mapped[str] = mapped_column(String(254))
    #: The mailbox it reaches (see emailaddr.normalise_for_identity): one account per mailbox.
    email_canonical: Mapped[str] = mapped_column(String(254), unique=True)
    #: argon2id hash (argon2-cffi), rehashed on login when the parameters change.
    password_hash: Mapped[str] = mapped_column(String(255))
    #: Name shown to moderators and, as the petition's creator, to the public.
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX))
    role: Mapped[str] = mapped_column(String(16), default=Role.ORGANISER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set once the user opened the link sent to their address; they cannot log in before.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Failed logins since the last success; with `locked_until`, throttles password guessing.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Bumped when the password or email changes: sessions and emailed tokens issued before
    #: carry the old value and stop working.
    credentials_version: Mapped[int] = mapped_column(Integer, default=1)
    #: The language the account holder uses the site in; their emails are written in it.
    locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")

    def get_id(self) -> str:
        """Flask-Login's session key: the id and the credentials version together."""
        return f"{self.id}:{self.credentials_version}"

    def has_role(self, role: Role) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[role]

    @property
    def is_moderator(self) -> bool:
        return self.has_role(Role.MODERATOR)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class UserSession(db.Model):
    """One login (a browser's session), so that logging out ends it on the server: a cookie
    copied before the logout names an ended session and opens nothing."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: SHA-256 of the random session key kept in the (signed) session cookie.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set at logout; an ended session never opens again.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
