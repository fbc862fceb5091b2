"""The organiser's dashboard (/organiser/petitions/<id>/dashboard) and the list of their
petitions: per-day chart and table, countries and regions, sponsors, latest signatures, who may
see it.

Signers sign and confirm through the site like anyone (real mail to the test SMTP server); then
the test moves `confirmed_at` to chosen moments and sets `show_name` directly in the database.
"""

import re
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import text, update

from petitions.countries import country_name
from petitions.emailaddr import identity_key
from petitions.extensions import db
from petitions.models import Petition, Signature, utcnow
from petitions.services import stats
from tests.fixtures.actors import sponsor_sign

SVG = "{http://www.w3.org/2000/svg}"


def set_fields(app, petition_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Petition).where(Petition.id == petition_id).values(**values))
        db.session.commit()
        db.session.remove()


def set_signature(app, petition_id: int, email: str, **values) -> None:
    """Change the signature `email` made (found by its identity key, as the site finds it)."""
    with app.app_context():
        key = identity_key(email, app.config["SIGNER_HASH_KEY"])
        changed = db.session.execute(
            update(Signature)
            .where(Signature.petition_id == petition_id, Signature.email_key == key)
            .values(**values)
        ).rowcount
        db.session.commit()
        db.session.remove()
    assert changed == 1


def at(day: str, time: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


def dashboard_path(petition_id: int) -> str:
    return f"/organiser/petitions/{petition_id}/dashboard"


def chart_of(html: str) -> ElementTree.Element:
    found = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert len(found) == 1, "expected one chart in the page"
    return ElementTree.fromstring(found[0])


def chart_days(html: str) -> dict[str, int]:
    bars = [rect for rect in chart_of(html).iter(f"{SVG}rect") if rect.get("class") == "bar"]
    return {bar.get("data-day"): int(bar.get("data-count")) for bar in bars}


def table_days(html: str) -> dict[str, int]:
    rows = re.findall(r'<tr data-day="([\d-]+)">.*?<td>([\d,]+)</td>', html)
    return {day: int(count.replace(",", "")) for day, count in rows}


def country_table(html: str) -> list[tuple[str, int]]:
    table = re.search(r'<table class="by-country">.*?</table>', html, flags=re.DOTALL).group(0)
    rows = re.findall(r'<tr data-country="(\w\w)"><th scope="row">.*?</th><td>([\d,]+)</td>', table)
    return [(code, int(count)) for code, count in rows]


def region_table(html: str) -> list[tuple[str, str, int]]:
    table = re.search(r'<table class="by-region">.*?</table>', html, flags=re.DOTALL).group(0)
    rows = re.findall(
        r'<tr data-country="(\w\w)"><th scope="row">(.*?)</th><td>.*?</td><td>([\d,]+)</td>', table
    )
    return [(code, region, int(count)) for code, region, count in rows]


def shown_total(html: str) -> int:
    return int(re.search(r"<strong data-count>([\d,]+)</strong>", html).group(1).replace(",", ""))


@pytest.fixture
def owned_petition(app, organiser, make_petition):
    """An open petition of the logged-in organiser (opened through the service, as moderators'
    approval does; the organiser flow to get there has tests of its own)."""

    def make(**kwargs) -> int:
        petition_id = make_petition(**kwargs)
        set_fields(app, petition_id, owner_id=organiser.user_id)
        return petition_id

    return make


#: (email, name, country, region, confirmed at, show_name, wants_updates)
SIGNERS = [
    ("aibek@example.kg", "Aibek Visible", "KG", "Chüy", at("2026-03-01", "09:00"), True, False),
    ("bermet@example.kg", "Bermet Hidden", "KG", "Chüy", at("2026-03-01", "23:30"), False, True),
    # 00:30 UTC is the next day, whatever the time zone of the database session.
    ("chyn@example.kz", "Chyngyz Hidden", "KZ", "Almaty", at("2026-03-02", "00:30"), False, True),
    ("dinara@example.kg", "Dinara Visible", "KG", "Osh", at("2026-03-04"), True, True),
    ("elena@example.ru", "Elena Hidden", "RU", "", at("2026-03-04", "13:00"), False, False),
]  # fmt: skip


def sign_on_known_days(app, signer, petition_id: int) -> None:
    for email, name, country, region, confirmed_at, show_name, wants_updates in SIGNERS:
        page = signer.sign_and_confirm(
            petition_id,
            email,
            name=name,
            country=country,
            region=region,
            wants_updates=wants_updates,
        )
        assert page.status_code == 200, page.get_data(as_text=True)
        set_signature(app, petition_id, email, confirmed_at=confirmed_at, show_name=show_name)


# --- the numbers ---------------------------------------------------------------------------------


def test_days_countries_and_regions_match_the_signatures(app, client, signer, owned_petition):
    petition_id = owned_petition(goal=10)
    sign_on_known_days(app, signer, petition_id)
    set_fields(
        app,
        petition_id,
        state="closed",
        opened_at=at("2026-02-28"),
        closed_at=at("2026-03-05", "18:00"),
    )

    response = client.get(dashboard_path(petition_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    # One bar per UTC day from the first signature to the day the petition closed, quiet
    # days included, and the same numbers in the table beside the chart.
    expected = {
        "2026-03-01": 2,
        "2026-03-02": 1,
        "2026-03-03": 0,
        "2026-03-04": 2,
        "2026-03-05": 0,
    }
    assert chart_days(html) == expected
    assert table_days(html) == expected

    assert country_table(html) == [("KG", 3), ("KZ", 1), ("RU", 1)]
    for code in ("KG", "KZ", "RU"):
        assert country_name(code) in html
    assert region_table(html) == [
        ("KG", "Chüy", 2),
        ("KG", "Osh", 1),
        ("KZ", "Almaty", 1),
        ("RU", "<em>Not given</em>", 1),
    ]

    # The totals agree with each other and with the public count.json.
    assert shown_total(html) == sum(expected.values()) == signer.count(petition_id) == 5
    assert '<progress max="10" value="5"' in html


def test_the_chart_of_an_open_petition_runs_to_today(app, client, signer, owned_petition):
    petition_id = owned_petition()
    signer.sign_and_confirm(petition_id, "early@example.kg")
    signer.sign_and_confirm(petition_id, "late@example.kg")
    before = utcnow().date()
    set_signature(app, petition_id, "early@example.kg", confirmed_at=utcnow() - timedelta(days=3))

    html = client.get(dashboard_path(petition_id)).get_data(as_text=True)
    after = utcnow().date()
    days = chart_days(html)
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    assert last in (before, after)  # the test may run across midnight
    assert (last - first).days == len(days) - 1 == 3
    assert days[first.isoformat()] == 1 and days[last.isoformat()] == 1
    assert sum(days.values()) == shown_total(html) == signer.count(petition_id) == 2


def test_days_are_utc_days_whatever_the_database_time_zone(app, signer, owned_petition):
    """On PostgreSQL a `timestamptz` cast to a date uses the session's time zone; the dashboard
    must not. Run the query in a session set to Bishkek (UTC+6) and to Honolulu (UTC-10)."""
    petition_id = owned_petition()
    signer.sign_and_confirm(petition_id, "night@example.kg")
    signer.sign_and_confirm(petition_id, "morning@example.kg")
    set_signature(app, petition_id, "night@example.kg", confirmed_at=at("2026-03-01", "20:00"))
    set_signature(app, petition_id, "morning@example.kg", confirmed_at=at("2026-03-02", "07:00"))
    expected = [(date(2026, 3, 1), 1), (date(2026, 3, 2), 1)]
    with app.app_context():
        assert stats.signatures_per_day(db.session, petition_id) == expected
        if db.engine.dialect.name == "postgresql":
            for zone in ("Asia/Bishkek", "Pacific/Honolulu"):
                db.session.execute(text(f"SET LOCAL TIME ZONE '{zone}'"))
                assert stats.signatures_per_day(db.session, petition_id) == expected
                db.session.rollback()
        db.session.remove()


def test_an_empty_petition_shows_a_message_not_a_chart(client, owned_petition):
    petition_id = owned_petition(goal=100)
    response = client.get(dashboard_path(petition_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No confirmed signatures yet" in html
    assert "<svg" not in html and "<table" not in html
    assert shown_total(html) == 0
    assert "0 of 5 sponsors confirmed." in html


def test_regions_beyond_the_top_ones_are_counted(app, signer, owned_petition):
    petition_id = owned_petition()
    for n, region in enumerate(["Osh", "Osh", "Naryn", "Talas"]):
        signer.sign_and_confirm(petition_id, f"r{n}@example.kg", region=region)
    with app.app_context():
        top, more = stats.signatures_by_region(db.session, petition_id, limit=2)
        db.session.remove()
    assert [(r.region, r.count) for r in top] == [("Osh", 2), ("Naryn", 1)]
    assert more == 1


# --- names and addresses -------------------------------------------------------------------------


def test_names_only_of_those_who_agreed_and_never_addresses(app, client, signer, owned_petition):
    petition_id = owned_petition()
    sign_on_known_days(app, signer, petition_id)
    html = client.get(dashboard_path(petition_id)).get_data(as_text=True)

    latest = re.search(r'<ol class="recent-signatures">(.*?)</ol>', html, re.DOTALL).group(1)
    entries = [
        re.sub(r"\s+", " ", item).strip()
        for item in re.findall(r"<li>(.*?)</li>", latest, re.DOTALL)
    ]
    assert len(entries) == len(SIGNERS)
    # Newest first.
    assert entries[0].startswith(f"A signer from {country_name('RU')}")
    assert entries[1].startswith(
        f'<span class="signer-name">Dinara Visible</span>, {country_name("KG")}'
    )
    assert entries[2].startswith(f"A signer from {country_name('KZ')}")
    assert entries[3].startswith(f"A signer from {country_name('KG')}")
    assert entries[4].startswith('<span class="signer-name">Aibek Visible</span>')

    for email, name, *_ in SIGNERS:
        assert email not in html
        assert email.split("@")[0] + "@" not in html
        if "Hidden" in name:
            assert name not in html and name.split()[0] not in html


def test_the_service_never_hands_out_a_hidden_name(app, signer, owned_petition):
    petition_id = owned_petition()
    sign_on_known_days(app, signer, petition_id)
    with app.app_context():
        recent = stats.latest_signatures(db.session, petition_id)
        db.session.remove()
    assert sorted(s.name for s in recent if s.name) == ["Aibek Visible", "Dinara Visible"]
    assert all(not hasattr(s, "email") for s in recent)


# --- sponsors ------------------------------------------------------------------------------------


def test_sponsor_status_counts_confirmed_and_pending(client, organiser, signer):
    petition_id = organiser.create()
    assert organiser.submit(petition_id).status_code == 303
    share_path = organiser.share_path(petition_id)
    for email in ("s1@example.kg", "s2@example.kg", "s3@example.kg"):
        assert sponsor_sign(client, share_path, email).status_code == 303
    for email in ("s1@example.kg", "s2@example.kg"):
        assert signer.confirm(signer.confirmation_path(email)).status_code == 200

    overview = client.get(f"/organiser/petitions/{petition_id}").get_data(as_text=True)
    assert f'href="{dashboard_path(petition_id)}"' in overview
    html = client.get(dashboard_path(petition_id)).get_data(as_text=True)
    assert "2 of 5 sponsors confirmed." in html
    assert "1 sponsor has signed and not yet confirmed by email." in html
    assert "needs 3 more confirmed sponsors" in html
    assert chart_days(html) and sum(chart_days(html).values()) == 2


# --- the list of my petitions --------------------------------------------------------------------


def test_my_petitions_shows_state_total_and_goal_progress(
    app, client, signer, owned_petition, organiser
):
    with_goal = owned_petition(title="With a goal", goal=8)
    without_goal = owned_petition(title="Without a goal")
    reached = owned_petition(title="Goal reached", goal=1)
    draft = organiser.create(title="Still a draft", signature_goal="")
    for n in range(2):
        signer.sign_and_confirm(with_goal, f"g{n}@example.kg")
        signer.sign_and_confirm(reached, f"g{n}@example.kg")
    html = client.get("/organiser/petitions").get_data(as_text=True)

    rows = {
        title: row
        for row in re.findall(r"<tr>.*?</tr>", html, re.DOTALL)
        for title in ("With a goal", "Without a goal", "Goal reached", "Still a draft")
        if title in row
    }
    assert "Open for signatures" in rows["With a goal"]
    assert re.search(r'<td class="total">2\b', rows["With a goal"])
    assert '<progress max="8" value="2"' in rows["With a goal"]
    assert "25% of 8" in rows["With a goal"]
    assert f'href="{dashboard_path(with_goal)}"' in rows["With a goal"]
    assert "No goal set" in rows["Without a goal"] and "<progress" not in rows["Without a goal"]
    assert f'href="{dashboard_path(without_goal)}"' in rows["Without a goal"]
    assert '<progress max="1" value="1"' in rows["Goal reached"]
    assert "Goal of 1 reached" in rows["Goal reached"]
    assert "Draft" in rows["Still a draft"]
    assert dashboard_path(draft) not in rows["Still a draft"]


# --- who may see it ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["organiser", "moderator", "admin"])
def test_other_accounts_get_404(app, client, make_user, login_as, make_petition, role):
    owner = make_user(email="owner@example.kg")
    petition_id = make_petition(title="The owner's numbers")
    set_fields(app, petition_id, owner_id=owner)
    login_as(make_user(email=f"{role}@example.kg", role=role))
    response = client.get(dashboard_path(petition_id))
    assert response.status_code == 404
    assert "owner&#39;s numbers" not in response.get_data(as_text=True)


def test_the_owner_sees_it_privately(client, owned_petition):
    petition_id = owned_petition()
    response = client.get(dashboard_path(petition_id))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Robots-Tag"] == "noindex"
    # The chart is inline SVG: nothing in the page needs an inline style or script.
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp


def test_the_chart_page_needs_no_inline_style_or_script(app, client, signer, owned_petition):
    petition_id = owned_petition()
    signer.sign_and_confirm(petition_id, "one@example.kg")
    html = client.get(dashboard_path(petition_id)).get_data(as_text=True)
    assert chart_of(html).get("role") == "img"
    assert not re.search(r"<script|<style|\sstyle=|\son\w+=", html)


def test_anonymous_visitors_are_sent_to_log_in(app, client, make_petition):
    petition_id = make_petition()
    response = client.get(dashboard_path(petition_id))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("petition_id", [999999, 2**31, 2**70])
def test_unknown_petitions_are_404(client, organiser, petition_id):
    assert client.get(dashboard_path(petition_id)).status_code == 404
