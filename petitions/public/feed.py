"""The Atom feed of new petitions and milestones (/feed.atom), for journalists' feed readers.

Readers poll feeds, so the response is cacheable like the API's: a short public max-age for
proxies and an ETag over the body, so an unchanged feed revalidates with 304 and costs no
transfer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, current_app, make_response, render_template, request, url_for
from flask_babel import format_decimal, get_locale, ngettext
from flask_babel import gettext as _

from ..extensions import db
from ..http import cacheable, timestamp
from ..languages import path_in
from ..models import MilestoneKind, utcnow
from ..services import feed
from ..text import summary

bp = Blueprint("feed", __name__)

#: Entries in the feed (feed readers keep older ones themselves).
FEED_ENTRIES = 50
#: Seconds proxies and readers may cache the feed; milestones are noticed once a minute anyway.
FEED_MAX_AGE = 300
#: `updated` of a feed without entries: fixed, so its ETag stays the same until one appears.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)


@bp.get("/feed.atom")
def atom():
    """The FEED_ENTRIES newest openings and milestones of open and closed petitions."""
    entries = feed.recent_entries(
        db.session, now=utcnow(), limit=FEED_ENTRIES, language=str(get_locale())
    )
    base_url = current_app.config["PUBLIC_BASE_URL"]
    authority = urlsplit(base_url).hostname or "localhost"
    items = [
        {
            "id": entry.tag_uri(authority),
            "title": _entry_title(entry),
            "summary": _entry_summary(entry),
            "updated": timestamp(entry.at),
            "link": url_for("public.petition", petition_id=entry.petition_id, _external=True),
        }
        for entry in entries
    ]
    updated = max((entry.at for entry in entries), default=EMPTY_FEED_UPDATED)
    response = make_response(
        render_template(
            "public/feed.xml",
            items=items,
            updated=timestamp(updated),
            # One feed per language (languages.py): each its own id.
            feed_id=base_url + path_in(str(get_locale()), "/feed.atom"),
        )
    )
    response.mimetype = "application/atom+xml"
    response.vary.add("Accept-Language")
    return cacheable(response, request, max_age=FEED_MAX_AGE)


def _entry_title(entry: feed.FeedEntry) -> str:
    if entry.kind == feed.OPENED:
        return _("New petition: %(title)s", title=entry.title)
    count = format_decimal(entry.threshold)
    if entry.kind == MilestoneKind.GOAL:
        return ngettext(
            "“%(title)s” reached its goal of %(count)s signature",
            "“%(title)s” reached its goal of %(count)s signatures",
            entry.threshold,
            title=entry.title,
            count=count,
        )
    return ngettext(
        "“%(title)s” passed %(count)s signature",
        "“%(title)s” passed %(count)s signatures",
        entry.threshold,
        title=entry.title,
        count=count,
    )


def _entry_summary(entry: feed.FeedEntry) -> str:
    return _(
        "To %(addressee)s: %(action)s", addressee=entry.addressee, action=summary(entry.action)
    )
