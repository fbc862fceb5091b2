"""The live counter writes a count as the server does, in every language: the same CLDR
group separator (Babel's, passed to live.js in data attributes) and the same plural form of
the word after it, whatever the browser's own locale data says."""

from __future__ import annotations

import pytest
from babel.numbers import format_decimal
from flask_babel import force_locale, ngettext
from playwright.sync_api import expect
from sqlalchemy import update

from petitions.extensions import db
from petitions.models import CountShard

#: The stream looks at the total once a second; a reconnect may come in between.
WAIT_MS = 20_000
#: Counts that cover every plural category of these languages and one and two separators.
COUNTS = (0, 1, 2, 5, 21, 1234, 1234567)


def set_total(app, petition_id: int, total: int) -> None:
    """The petition's confirmed total becomes `total` (one count shard holds them all)."""
    with app.app_context():
        changed = db.session.execute(
            update(CountShard)
            .where(CountShard.petition_id == petition_id, CountShard.shard == 0)
            .values(count=total)
        ).rowcount
        if not changed:
            db.session.add(CountShard(petition_id=petition_id, shard=0, count=total))
        db.session.commit()
        db.session.remove()


def server_writes(app, lang: str, total: int) -> tuple[str, str]:
    """The number and the word the server renders for `total` in `lang`."""
    with app.test_request_context(), force_locale(lang):
        return format_decimal(total, locale=lang), ngettext("signature", "signatures", total)


@pytest.mark.parametrize("lang", ["en", "ru", "ky", "id"])
def test_the_live_counter_writes_counts_as_the_server_does(
    app, make_petition, live_server, page, lang
):
    petition = make_petition()
    set_total(app, petition, 7)
    prefix = "" if lang == "en" else f"/{lang}"
    page.goto(f"{prefix}/petitions/{petition}")
    total = page.locator("section.total")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(total).to_have_attribute("data-live-mode", "stream", timeout=WAIT_MS)
    for count in COUNTS:
        set_total(app, petition, count)
        number, word = server_writes(live_server.app, lang, count)
        expect(total.locator("[data-count]")).to_have_text(number, timeout=WAIT_MS)
        expect(total.locator("[data-count-label]")).to_have_text(word)
