"""What the worker does with signatures' request facts: trending sources found once per hour
(listed for admins, posted to the webhook once), and the addresses forgotten after the
investigation window.

The signatures are made directly with their request facts (as the sign view stores them),
so that 120 of them from one network in one past hour cost nothing to set up.
"""

from __future__ import annotations

import html
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from petitions import create_app
from petitions.extensions import db
from petitions.models import Petition, Signature, TrendingSource
from petitions.services import retention, trending
from petitions.worker import housekeeping

NOW = datetime(2026, 11, 3, 10, 17, tzinfo=UTC)
LAST_HOUR = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def add_signatures(
    app, petition_id: int, count: int, *, network: str, at: datetime, start=0, domain=None
):
    """`count` confirmed signatures from addresses of `network` (a /24), made at `at`, with
    addresses at `domain` (none recorded when not given)."""
    prefix = network.rsplit(".", 1)[0]
    with app.app_context():
        for n in range(start, start + count):
            db.session.add(
                Signature(
                    petition_id=petition_id,
                    email_key=f"key-{petition_id}-{network}-{domain}-{n}",
                    name=f"Signer {n}",
                    country="KG",
                    status="confirmed",
                    created_at=at + timedelta(seconds=n),
                    confirmed_at=at + timedelta(seconds=n + 30),
                    client_ip=f"{prefix}.{n % 250 + 1}",
                    client_network=network,
                    user_agent_hash="ab12cd34ef56ab12",
                    submit_ms=4000,
                    email_domain=domain,
                )
            )
        db.session.commit()
        db.session.remove()


class Webhook:
    """A tiny HTTP server on 127.0.0.1 that keeps the JSON bodies posted to it."""

    def __init__(self, status: int = 204) -> None:
        self.bodies: list[dict] = []
        received = self.bodies
        reply = status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(reply)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def webhook():
    server = Webhook()
    yield server
    server.close()


def run_worker(app, now=NOW):
    with app.app_context():
        housekeeping(db.session, app.config, now=now)
        db.session.remove()


def sources(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(
                TrendingSource.hour,
                TrendingSource.petition_id,
                TrendingSource.kind,
                TrendingSource.value,
                TrendingSource.signatures,
            ).order_by(TrendingSource.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


@pytest.fixture
def trending_app(app_config, mailbox, webhook):
    """The app with the default threshold (100) and the webhook configured."""
    app_config.update(TRENDING_THRESHOLD=100, TRENDING_WEBHOOK_URL=webhook.url)
    return app_config


def test_one_network_over_the_threshold_is_one_trending_source_posted_once(
    trending_app, app, make_petition, webhook, make_user, login_as, client
):
    petition = make_petition(title="Save the Ala-Archa park")
    add_signatures(app, petition, 120, network="203.0.113.0/24", at=LAST_HOUR)
    add_signatures(app, petition, 30, network="198.51.100.0/24", at=LAST_HOUR)

    run_worker(app)
    assert sources(app) == [(LAST_HOUR, petition, "network", "203.0.113.0/24", 120)]
    assert webhook.bodies == [
        {
            "event": "trending_source",
            "hour": "2026-11-03T09:00:00+00:00",
            "petition_id": petition,
            "petition_title": "Save the Ala-Archa park",
            "petition_url": f"http://localhost/petitions/{petition}",
            "kind": "network",
            "value": "203.0.113.0/24",
            "signatures": 120,
        }
    ]

    login_as(make_user(email="admin@example.kg", role="admin"))
    page = client.get("/admin/trending").get_data(as_text=True)
    assert "203.0.113.0/24" in page and "Save the Ala-Archa park" in page
    assert "198.51.100.0/24" not in page


def test_the_hour_done_again_by_another_worker_adds_and_posts_nothing(
    trending_app, app, make_petition, webhook
):
    petition = make_petition()
    add_signatures(app, petition, 120, network="203.0.113.0/24", at=LAST_HOUR)
    run_worker(app)

    second_worker = create_app(trending_app)
    run_worker(second_worker, now=NOW + timedelta(minutes=20))
    with second_worker.app_context():
        again = trending.find_trending(db.session, hour=LAST_HOUR, threshold=100)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    assert again == []
    assert len(sources(app)) == 1
    assert len(webhook.bodies) == 1


def test_signatures_outside_the_hour_do_not_count(trending_app, app, make_petition, webhook):
    petition = make_petition()
    add_signatures(app, petition, 60, network="203.0.113.0/24", at=LAST_HOUR - timedelta(hours=1))
    add_signatures(app, petition, 60, network="203.0.113.0/24", at=LAST_HOUR, start=60)
    add_signatures(app, petition, 60, network="203.0.113.0/24", at=NOW, start=120)
    run_worker(app)
    assert sources(app) == []
    assert webhook.bodies == []


@pytest.fixture
def refusing_webhook():
    server = Webhook(status=503)
    yield server
    server.close()


def test_a_failing_webhook_is_tried_again_and_marked_only_when_it_accepts(
    refusing_webhook, app, make_petition
):
    app.config["TRENDING_WEBHOOK_URL"] = refusing_webhook.url
    petition = make_petition()
    add_signatures(app, petition, 100, network="192.0.2.0/24", at=LAST_HOUR)
    run_worker(app)
    with app.app_context():
        assert db.session.scalar(select(TrendingSource.notified_at)) is None
        told = trending.notify_webhook(
            db.session, url=refusing_webhook.url, now=NOW, base_url="http://localhost"
        )
        db.session.remove()
    assert (told, len(refusing_webhook.bodies)) == (0, 2)


def test_the_threshold_is_a_runtime_setting(trending_app, app, make_petition, webhook):
    from petitions.services import site_settings

    petition = make_petition()
    add_signatures(app, petition, 40, network="203.0.113.0/24", at=LAST_HOUR)
    with app.app_context():
        site_settings.change(
            db.session, "trending_threshold", "40", config=app.config, actor_id=None, now=NOW
        )
        db.session.commit()
        db.session.remove()
    run_worker(app)
    assert [s[3:] for s in sources(app)] == [("203.0.113.0/24", 40)]


def spread_over_networks(app, petition_id: int, count: int, *, domain: str) -> None:
    """`count` signatures at `domain` from 20 networks, none of them trending on its own."""
    for n in range(20):
        add_signatures(
            app,
            petition_id,
            count // 20,
            network=f"10.{n}.0.0/24",
            at=LAST_HOUR,
            start=n * 100,
            domain=domain,
        )


def test_one_email_domain_over_its_threshold_is_a_trending_source(
    trending_app, app, make_petition, webhook, make_user, login_as, client
):
    petition = make_petition(title="Keep the Osh bazaar")
    spread_over_networks(app, petition, 120, domain="spam-farm.example")
    spread_over_networks(app, petition, 60, domain="small.example")

    run_worker(app)
    assert sources(app) == [(LAST_HOUR, petition, "domain", "spam-farm.example", 120)]
    assert [(b["kind"], b["value"]) for b in webhook.bodies] == [("domain", "spam-farm.example")]

    login_as(make_user(email="admin@example.kg", role="admin"))
    page = client.get("/admin/trending").get_data(as_text=True)
    assert "email domain" in page and "spam-farm.example" in page


def test_big_providers_and_allowed_domains_never_trend(trending_app, app, make_petition):
    from petitions.services import access_rules

    petition = make_petition()
    spread_over_networks(app, petition, 200, domain="gmail.com")
    spread_over_networks(app, petition, 200, domain="students.university.example")
    with app.app_context():
        access_rules.add_rule(
            db.session,
            kind="domain",
            action="allow",
            pattern="*.university.example",
            note="the students' union",
            actor_id=None,
            now=NOW,
        )
        db.session.commit()
        db.session.remove()
    run_worker(app)
    assert sources(app) == []


def test_the_domain_threshold_is_a_runtime_setting_of_its_own(trending_app, app, make_petition):
    from petitions.services import site_settings

    petition = make_petition()
    spread_over_networks(app, petition, 40, domain="small.example")
    with app.app_context():
        site_settings.change(
            db.session,
            "trending_domain_threshold",
            "40",
            config=app.config,
            actor_id=None,
            now=NOW,
        )
        db.session.commit()
        db.session.remove()
    run_worker(app)
    assert [s[2:] for s in sources(app)] == [("domain", "small.example", 40)]


def test_a_trending_source_links_to_its_signatures_in_that_hour(
    trending_app, app, make_petition, make_user, login_as, client
):
    petition = make_petition()
    add_signatures(app, petition, 120, network="203.0.113.0/24", at=LAST_HOUR)
    add_signatures(
        app, petition, 5, network="203.0.113.0/24", at=LAST_HOUR - timedelta(hours=2), start=500
    )
    run_worker(app)
    login_as(make_user(email="admin@example.kg", role="admin"))
    page = client.get("/admin/trending").get_data(as_text=True)
    link = re.search(r'href="([^"]*/moderation/petitions/\d+/signatures\?[^"]*)"', page).group(1)
    listing = client.get(html.unescape(link)).get_data(as_text=True)
    assert "120 signatures match" in listing


# --- retention ----------------------------------------------------------------------------------


def facts(app, petition_id: int) -> set[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(
                Signature.client_ip,
                Signature.client_network,
                Signature.user_agent_hash,
                Signature.submit_ms,
            ).where(Signature.petition_id == petition_id)
        ).all()
        db.session.remove()
    return {tuple(row) for row in rows}


def close_days_ago(app, petition_id: int, days: int) -> None:
    with app.app_context():
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition_id)
            .values(closed_at=NOW - timedelta(days=days))
        )
        db.session.commit()
        db.session.remove()


def test_addresses_are_truncated_to_their_network_after_the_investigation_window(
    app, make_petition
):
    old = make_petition(title="Closed long ago", state="closed")
    recent = make_petition(title="Closed last week", state="closed")
    still_open = make_petition(title="Still open")
    for petition in (old, recent, still_open):
        add_signatures(app, petition, 3, network="203.0.113.0/24", at=NOW - timedelta(days=90))
    close_days_ago(app, old, days=app.config["INVESTIGATION_DAYS"] + 1)
    close_days_ago(app, recent, days=7)

    run_worker(app)

    assert facts(app, old) == {(None, "203.0.113.0/24", None, 4000)}
    assert {ip for ip, *_ in facts(app, recent)} == {"203.0.113.1", "203.0.113.2", "203.0.113.3"}
    assert len({ip for ip, *_ in facts(app, still_open)}) == 3


def test_forgetting_runs_in_batches_and_again_changes_nothing(app, make_petition):
    old = make_petition(state="closed")
    add_signatures(app, old, 7, network="203.0.113.0/24", at=NOW - timedelta(days=90))
    close_days_ago(app, old, days=60)
    with app.app_context():
        first = retention.forget_request_facts(
            db.session, now=NOW, investigation_days=30, batch_size=3
        )
        again = retention.forget_request_facts(
            db.session, now=NOW, investigation_days=30, batch_size=3
        )
        db.session.remove()
    assert (first, again) == (7, 0)
    assert facts(app, old) == {(None, "203.0.113.0/24", None, 4000)}


def test_the_privacy_page_says_what_is_kept_and_for_how_long(app, client):
    page = client.get("/privacy")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    days = app.config["INVESTIGATION_DAYS"]
    assert f"{days} days after a petition closes" in text
    assert "internet address" in text and "network" in text
    assert 'href="/privacy"' in client.get("/").get_data(as_text=True)
