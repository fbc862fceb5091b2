"""The moderators' area: the queue, reviews and decisions, official responses, the audit log,
and the investigation of a petition's signatures with bulk actions."""

from __future__ import annotations

from flask import abort, current_app
from flask_login import current_user

from ..auth import role_required
from ..extensions import login_manager
from ..models import Role


def moderators_only():
    """Every page here is for moderators and admins: anonymous visitors are sent to log in
    (401 while no login page is registered), organisers get 403. A blueprint's
    `before_request`."""
    if not current_user.is_authenticated and login_manager.login_view not in (
        current_app.view_functions
    ):
        abort(401)
    return _check_role()


@role_required(Role.MODERATOR)
def _check_role():
    return None
