"""Which petition an organiser's page is about: only the logged-in user's own."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..extensions import db
from ..models import Petition
from ..services import lifecycle
from ..services.petitions import MAX_PETITION_ID


def own_petition(petition_id: int) -> Petition:
    """The logged-in user's petition, or 404 (never another account's data, whatever the
    user's role)."""
    if not 0 < petition_id <= MAX_PETITION_ID:
        abort(404)
    petition = lifecycle.owned_petition(db.session, petition_id, current_user.id)
    if petition is None:
        abort(404)
    return petition
