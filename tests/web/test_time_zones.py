"""A petition's times in its own time zone (Petition.time_zone): its page, its figures, the
organiser's dashboard, the moderators' review and the organiser's mail show them there and
name the zone; the open data stays UTC; an unknown zone in the database shows UTC, never an
error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from petitions.extensions import db
from petitions.i18n import format_datetime, zone_named
from petitions.models import Petition
from tests.fixtures.actors import csrf_token
from tests.fixtures.mail import body_text

#: 20:00 UTC on 1 March is 02:00 on 2 March in Bishkek (UTC+6).
CLOSES_AT = datetime(2036, 3, 1, 20, 0, tzinfo=UTC)


def set_zone(app, petition_id: int, zone: str) -> None:
    with app.app_context():
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition_id)
            .values(time_zone=zone, closes_at=CLOSES_AT)
        )
        db.session.commit()
        db.session.remove()


@pytest.fixture
def bishkek_petition(app, make_petition):
    petition = make_petition()
    set_zone(app, petition, "Asia/Bishkek")
    return petition


def test_the_closing_day_is_the_petitions_own(client, bishkek_petition):
    html = client.get(f"/petitions/{bishkek_petition}").get_data(as_text=True)
    assert "closes March 2, 2036" in html


def test_the_closing_day_in_russian_is_in_the_same_zone(client, bishkek_petition):
    html = client.get(f"/ru/petitions/{bishkek_petition}").get_data(as_text=True)
    assert "2 марта 2036" in html


def test_a_utc_petition_closes_on_the_utc_day(app, client, make_petition):
    petition = make_petition()
    set_zone(app, petition, "UTC")
    assert "closes March 1, 2036" in client.get(f"/petitions/{petition}").get_data(as_text=True)


def test_an_unknown_zone_shows_utc_times(app, client, make_petition):
    petition = make_petition()
    set_zone(app, petition, "Mars/Olympus_Mons")
    page = client.get(f"/petitions/{petition}")
    assert page.status_code == 200
    assert "closes March 1, 2036" in page.get_data(as_text=True)


def test_the_figures_name_the_zone_of_their_time(app, client, signer, bishkek_petition):
    signer.sign_and_confirm(bishkek_petition, "aibek@example.kg")
    html = client.get(f"/petitions/{bishkek_petition}").get_data(as_text=True)
    [as_of] = [line for line in html.splitlines() if 'class="hint as-of"' in line]
    assert as_of.endswith("(Asia/Bishkek).</p>")


def test_the_open_data_stays_utc(client, bishkek_petition):
    data = client.get(f"/api/v1/petitions/{bishkek_petition}").get_json()
    assert data["closes_at"] in ("2036-03-01T20:00:00Z", "2036-03-01T20:00:00+00:00")


def test_the_review_page_shows_times_in_the_petitions_zone(
    client, make_user, login_as, bishkek_petition
):
    login_as(make_user(email="mod@example.kg", role="moderator"))
    html = client.get(f"/moderation/petitions/{bishkek_petition}").get_data(as_text=True)
    assert "Asia/Bishkek" in html
    assert "Mar 2, 2036" in html


def test_the_approval_mail_gives_the_closing_time_in_the_petitions_zone(
    app, client, mailbox, deliver, make_user, login_as, make_queued_petition, get_petition
):
    organiser = make_user(email="organiser@example.kg", name="Aigul")
    petition_id = make_queued_petition(owner_id=organiser)
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(time_zone="Asia/Bishkek")
        )
        db.session.commit()
        db.session.remove()
    login_as(make_user(email="mod@example.kg", role="moderator"))
    review = f"/moderation/petitions/{petition_id}"
    token = csrf_token(client.get(review).get_data(as_text=True))
    assert client.post(f"{review}/approve", data={"csrf_token": token}).status_code == 303
    deliver()
    closes_at = get_petition(petition_id).closes_at
    with app.test_request_context():
        local = format_datetime(closes_at, "long", zone=zone_named("Asia/Bishkek"))
    assert local.endswith("+0600")
    assert local in body_text(mailbox.last_to("organiser@example.kg"))
