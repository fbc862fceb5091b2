"""The Atom feed (/feed.atom): petitions opened and milestones reached, of open and closed
petitions only, newest first, bounded, with permanent ids, cacheable and revalidated with 304."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import update

from petitions.extensions import db
from petitions.models import Petition, PetitionMilestone, utcnow
from petitions.services.feed import OPENED, recent_entries

ATOM = "{http://www.w3.org/2005/Atom}"


def add_milestone(app, petition_id: int, kind: str, threshold: int, ago: timedelta) -> None:
    """A milestone as the worker records it (services/milestones.py has tests of its own)."""
    with app.app_context():
        db.session.add(
            PetitionMilestone(
                petition_id=petition_id,
                kind=kind,
                threshold=threshold,
                reached_at=utcnow() - ago,
            )
        )
        db.session.commit()
        db.session.remove()


def opened_ago(app, petition_id: int, ago: timedelta) -> None:
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(opened_at=utcnow() - ago)
        )
        db.session.commit()
        db.session.remove()


def read_feed(client, **headers):
    response = client.get("/feed.atom", headers=headers)
    assert response.status_code == 200
    return response, ET.fromstring(response.data)


def entries(feed) -> list[dict[str, str]]:
    return [
        {
            "id": entry.findtext(f"{ATOM}id"),
            "title": entry.findtext(f"{ATOM}title"),
            "updated": entry.findtext(f"{ATOM}updated"),
            "summary": entry.findtext(f"{ATOM}summary"),
            "link": entry.find(f"{ATOM}link[@rel='alternate']").get("href"),
        }
        for entry in feed.findall(f"{ATOM}entry")
    ]


@pytest.fixture
def site(app, make_petition, moderate):
    """Public and non-public petitions, some with milestones; returns their ids by name."""
    ids = {
        "open": make_petition(title="Clean the Chüy river & its banks", goal=500),
        "closed": make_petition(state="closed", title="Light the <Osh> bazaar"),
        "draft": make_petition(state="draft", title="A secret draft"),
        "hidden": make_petition(title="An abusive petition"),
        "rejected": moderate("rejected", title="A rejected petition"),
    }
    moderate("hidden", ids["hidden"])
    opened_ago(app, ids["closed"], timedelta(days=3))
    opened_ago(app, ids["open"], timedelta(days=2))
    add_milestone(app, ids["open"], "count", 100, timedelta(days=1))
    add_milestone(app, ids["open"], "goal", 500, timedelta(hours=1))
    add_milestone(app, ids["hidden"], "count", 100, timedelta(hours=2))
    return ids


def test_feed_lists_openings_and_milestones_of_public_petitions_newest_first(client, site):
    response, feed = read_feed(client)
    assert response.mimetype == "application/atom+xml"
    found = entries(feed)
    assert [e["title"] for e in found] == [
        "“Clean the Chüy river & its banks” reached its goal of 500 signatures",
        "“Clean the Chüy river & its banks” passed 100 signatures",
        "New petition: Clean the Chüy river & its banks",
        "New petition: Light the <Osh> bazaar",
    ]
    assert [e["updated"] for e in found] == sorted((e["updated"] for e in found), reverse=True)
    open_page = f"http://localhost/petitions/{site['open']}"
    assert [e["link"] for e in found] == [open_page] * 3 + [
        f"http://localhost/petitions/{site['closed']}"
    ]
    assert found[2]["summary"] == "To Jogorku Kenesh: Vote against sending troops abroad."
    text = response.get_data(as_text=True)
    for title in ("secret draft", "abusive", "rejected petition"):
        assert title not in text


def test_feed_has_the_elements_atom_requires(client, site):
    _, feed = read_feed(client)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == "http://localhost/feed.atom"
    assert feed.findtext(f"{ATOM}title")
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "Petitions"
    links = {link.get("rel"): link for link in feed.findall(f"{ATOM}link")}
    assert links["self"].get("href") == "http://localhost/feed.atom"
    assert links["self"].get("type") == "application/atom+xml"
    assert links["alternate"].get("href") == "http://localhost/"
    found = entries(feed)
    assert feed.findtext(f"{ATOM}updated") == found[0]["updated"]
    assert found[0]["updated"].endswith("Z")
    for entry in found:
        assert entry["id"].startswith("tag:localhost,20"), entry["id"]
        assert entry["updated"] and entry["summary"]
    assert len({e["id"] for e in found}) == len(found)


def test_entry_ids_never_change(app, client, site, runner):
    _, before = read_feed(client)
    # The petition closes and is corrected by a moderator: its entries keep their ids.
    assert runner.invoke(args=["petition", "close", str(site["open"])]).exit_code == 0
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == site["open"]).values(title="A corrected title")
        )
        db.session.commit()
        db.session.remove()
    _, after = read_feed(client)
    assert [e["id"] for e in entries(after)] == [e["id"] for e in entries(before)]
    assert entries(after)[2]["title"] == "New petition: A corrected title"
    assert entries(before)[2]["id"].endswith(f":petition/{site['open']}/opened")
    assert entries(before)[0]["id"].endswith(f":petition/{site['open']}/goal/500")


def test_feed_is_cacheable_and_revalidates_with_304(client, site, make_petition):
    response, _ = read_feed(client)
    assert response.cache_control.public
    assert response.cache_control.max_age == 300
    etag = response.headers["ETag"]
    again = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""

    make_petition(title="A brand new petition")
    changed, feed = read_feed(client, **{"If-None-Match": etag})
    assert changed.headers["ETag"] != etag
    assert entries(feed)[0]["title"] == "New petition: A brand new petition"


def test_an_empty_feed_is_valid_and_stable(client):
    response, feed = read_feed(client)
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated") == "1970-01-01T00:00:00Z"
    assert (
        client.get("/feed.atom", headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )


def test_the_service_keeps_the_newest_entries_up_to_the_limit(app, site):
    with app.app_context():
        now = utcnow()
        newest = recent_entries(db.session, now=now, limit=3)
        everything = recent_entries(db.session, now=now, limit=50)
        earlier = recent_entries(db.session, now=now - timedelta(hours=12), limit=50)
        db.session.remove()
    assert len(everything) == 4
    assert newest == everything[:3]
    assert [(e.kind, e.threshold) for e in newest] == [
        ("goal", 500),
        ("count", 100),
        (OPENED, None),
    ]
    assert all(e.at <= now - timedelta(hours=12) for e in earlier)
    assert len(earlier) == 3, "the goal reached an hour ago is not there yet"


def test_every_page_links_to_the_feed(client, petition):
    for path in ("/", f"/petitions/{petition}"):
        page = client.get(path).get_data(as_text=True)
        assert '<link rel="alternate" type="application/atom+xml"' in page
        assert 'href="/feed.atom"' in page
