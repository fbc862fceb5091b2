"""The organiser's download of their petition's signatures as CSV (services/export.py).

Only the petition's owner gets it: anyone else logged in (another organiser, a moderator, an
admin) gets a 404, as for every organiser page, and anonymous visitors go to the login page.
The file is streamed batch by batch, so a petition with a million signatures costs the same
memory as one with ten.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, stream_with_context
from flask_babel import get_locale
from flask_login import current_user, login_required

from ..extensions import db
from ..services import lifecycle
from ..services.export import csv_chunks, header, signature_rows
from ..services.petitions import MAX_PETITION_ID

logger = logging.getLogger(__name__)

bp = Blueprint("organiser_export", __name__, url_prefix="/organiser")


@bp.get("/petitions/<int:petition_id>/signatures.csv")
@login_required
def signatures_csv(petition_id: int):
    if not 0 < petition_id <= MAX_PETITION_ID:
        abort(404)
    petition = lifecycle.owned_petition(db.session, petition_id, current_user.id)
    if petition is None:
        abort(404)
    logger.info("signatures of petition %s exported by user %s", petition.id, current_user.id)
    locale = str(get_locale())
    chunks = csv_chunks(header(), signature_rows(db.session, petition.id, locale=locale))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="petition-{petition.id}-signatures.csv"'
    )
    # Signers' names and addresses: for this organiser only, never kept by a cache.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
