"""Who is logged in survives only as long as their credentials: the base of every access rule."""

from flask import session
from sqlalchemy import update

from petitions.auth import SESSION_KEY, load_user
from petitions.extensions import db
from petitions.models import Role, User, utcnow
from petitions.services.sessions import start_session


def test_roles_rank(app, make_user):
    ids = {role: make_user(email=f"{role}@example.kg", role=role) for role in Role}
    with app.app_context():
        organiser, moderator, admin = (db.session.get(User, ids[r]) for r in Role)
        assert organiser.has_role(Role.ORGANISER) and not organiser.has_role(Role.MODERATOR)
        assert moderator.is_moderator and not moderator.has_role(Role.ADMIN)
        assert admin.has_role(Role.MODERATOR) and admin.has_role(Role.ADMIN)


def test_sessions_end_when_credentials_change(app, make_user):
    user_id = make_user()
    with app.test_request_context():
        user = db.session.get(User, user_id)
        session_id = user.get_id()
        session[SESSION_KEY] = start_session(db.session, user, now=utcnow())
        assert load_user(session_id).id == user_id
        db.session.execute(update(User).values(credentials_version=User.credentials_version + 1))
        db.session.commit()
        assert load_user(session_id) is None
        for garbage in ("", "x", "1", "1:", ":1", "a:b", f"{user_id}:999", "99999:1"):
            assert load_user(garbage) is None
