"""Accounts: who is logged in, and what their role lets them do."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, current_app, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from ..extensions import db, login_manager
from ..models import Role, User, utcnow
from ..services import sessions

#: Where the Flask session keeps the key of its server-side login (services/sessions.py).
SESSION_KEY = "_login_key"


def load_user(session_id: str) -> User | None:
    """The user of a session whose server-side row is live and whose credentials version still
    matches (see User.get_id); one query. A cookie from before server-side sessions has no key
    and is simply logged out."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return sessions.session_user(db.session, int(user_id), int(version), session.get(SESSION_KEY))


def log_in(user: User) -> None:
    """Log `user` in in this browser with a new server-side session (login, and again after a
    change of password or address); a session this browser had before ends."""
    now = utcnow()
    previous = session.pop(SESSION_KEY, None)
    if previous is not None:
        sessions.end_session(db.session, previous, now=now)
    session[SESSION_KEY] = sessions.start_session(db.session, user, now=now)
    login_user(user)


def log_out() -> None:
    """End this browser's session on the server too, so a copy of its cookie opens nothing."""
    key = session.pop(SESSION_KEY, None)
    if key is not None:
        sessions.end_session(db.session, key, now=utcnow())
    logout_user()


def role_required(role: Role) -> Callable:
    """View decorator: logged in (else to the login page) and at least `role` (else 403)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def is_endpoint(name: str) -> bool:
    """Jinja test `'blueprint.view' is endpoint`: link to a page only if the app has it."""
    return name in current_app.view_functions


def init_app(app: Flask) -> None:
    from .cli import users_cli

    app.cli.add_command(users_cli)
    app.jinja_env.tests["endpoint"] = is_endpoint
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.session_protection = "basic"
