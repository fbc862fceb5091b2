"""The petition page, rendered by the public blueprint and re-rendered by the signing one with
a refused form: one owner, and no blueprint imports another's views for it."""

from __future__ import annotations

from flask import render_template
from flask_babel import get_locale

from .. import figures
from ..extensions import db
from ..models import Petition, utcnow
from ..models.petition import COUNTED_STATES, PUBLISHED_STATES
from ..services import counts, updates
from ..services.public_numbers import derived, petition_stats, series_points
from ..signing.forms import SignForm


def render_petition(petition: Petition, form: SignForm | None = None, status: int = 200):
    """The page of a public petition, with `form` (a fresh sign form while it is open)."""
    total = counts.count_for(db.session, petition.id)
    now = utcnow()
    accepting = petition.accepts_signatures(now)
    if form is None and accepting:
        form = SignForm()
    return (
        render_template(
            "public/petition.html",
            petition=petition,
            total=total,
            form=form,
            accepting=accepting,
            figures=_figures(petition),
            updates=updates.updates_of(db.session, petition.id)
            if petition.state in PUBLISHED_STATES
            else [],
        ),
        status,
    )


def _figures(petition: Petition) -> figures.PublicFigures | None:
    """The chart and breakdowns, from the memoised public snapshot (services/public_numbers),
    so a crowd on a viral petition's page does not scan its signatures on every view."""
    if petition.state not in COUNTED_STATES:
        return None
    found = petition_stats(petition.id)
    if found is None:
        return None

    def build() -> figures.PublicFigures:
        days = [(p.start.date(), p.count) for p in series_points(petition, found, "day")]
        return figures.public_figures(found, days)

    return derived("figures", found, str(get_locale()), build=build)
