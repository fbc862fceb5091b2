"""The petition page, rendered by the public blueprint and re-rendered by the signing one with
a refused form: one owner, and no blueprint imports another's views for it."""

from __future__ import annotations

import hashlib

from flask import (
    current_app,
    get_template_attribute,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from markupsafe import Markup

from .. import figures
from ..extensions import db
from ..i18n import petition_zone
from ..languages import request_language
from ..models import Petition, utcnow
from ..models.petition import COUNTED_STATES
from ..services import pauses, site_settings, translations, updates
from ..services.public_numbers import current_total, derived, petition_stats, series_points
from ..share import share_links
from ..signing import screen
from ..signing.forms import SignForm


def render_petition(petition: Petition, form: SignForm | None = None, status: int = 200):
    """The petition page; the signing blueprint re-renders it with a failed form.

    What a page view costs is what a crowd on a viral petition costs, so the page reads the
    database once or twice (the petition with its organiser's name; its updates if it is open
    or closed; its approved translations come with the petition, in the same query) and takes
    the rest from per-process memos: the total from the one count.json
    and the live stream use (COUNT_MEMO_SECONDS), the chart and tables as HTML made once per
    statistics snapshot and language, and a new form's fields made once per language. A
    rejected petition shows neither a total nor updates, so it reads neither.
    """
    now = utcnow()
    accepting = petition.accepts_signatures(now)
    paused = False
    blank_fields = None
    if accepting or petition.signing_paused_at is not None:
        settings = site_settings.current()
        paused = pauses.signing_paused_on(petition, settings)
        accepting = accepting and not paused
        if accepting:
            shared = form is None
            if shared:
                form = SignForm()
                blank_fields = _blank_sign_fields()
            screen.prepare(
                form, petition.id, settings=settings, config=current_app.config, shared=shared
            )
    counted = petition.state in COUNTED_STATES
    total = current_total(petition.id) if counted else None
    shown = translations.shown_version(
        petition,
        petition.approved_translations,
        reader_language=request_language(),
        asked=request.args.get("text"),
    )
    page_url = url_for("public.petition", petition_id=petition.id, _external=True)
    response = make_response(
        render_template(
            "public/petition.html",
            petition=petition,
            total=total.signature_count if total is not None else 0,
            updates=updates.updates_of(db.session, petition.id) if counted else [],
            form=form,
            blank_fields=blank_fields,
            accepting=accepting,
            paused=paused,
            figures=_figures_html(petition) if counted else None,
            shown=shown,
            version=shown.version,
            page_url=page_url,
            share_links=share_links(page_url, shown.version.title) if counted else [],
        ),
        status,
    )
    if blank_fields is not None:
        _page_etag(response, form.served.data)
    return response


def _page_etag(response, served: str) -> None:
    """A weak ETag of the page without its "served at": renders that differ only in when
    they were made are the same page to a reader, who keeps theirs on a 304 (which only makes
    them look slower to the screening than they were)."""
    body = response.get_data()
    digest = hashlib.sha256(body.replace(served.encode(), b"")).hexdigest()[:32]
    response.set_etag(digest, weak=True)


def _blank_sign_fields() -> Markup:
    """The sign form's fields as a new form shows them, rendered once per language and process.

    They are the same for every reader of every petition (empty inputs, the country list, the
    labels); only the CSRF token differs, and the page renders it apart. Rendering the seven
    fields through WTForms was a third of the page's template time.
    """
    known: dict[str, Markup] = current_app.extensions.setdefault("blank_sign_fields", {})
    locale = str(get_locale())
    html = known.get(locale)
    if html is None:
        sign_fields = get_template_attribute("macros/forms.html", "sign_fields")
        html = known[locale] = Markup(sign_fields(SignForm(meta={"csrf": False})))  # noqa: S704 (rendered by Jinja, escaped)
    return html


def _figures_html(petition) -> Markup | None:
    """The chart and breakdowns from the memoised public snapshot (public_numbers.petition_stats),
    as HTML made once per snapshot and language (public_numbers.derived), so a crowd on a viral
    petition's page neither scans its signatures nor formats every day of its table again."""
    found = petition_stats(petition.id)
    if found is None:
        return None

    def build() -> Markup:
        days = [(p.start.date(), p.count) for p in series_points(petition, found, "day")]
        numbers = figures.public_figures(found, days)
        return Markup(  # noqa: S704 (rendered by Jinja, escaped)
            render_template(
                "public/_figures.html",
                figures=numbers,
                petition_id=petition.id,
                zone=petition_zone(petition),
            )
        )

    return derived("figures_html", found, str(get_locale()), petition.time_zone, build=build)
