"""The live counter in a real browser: the number follows confirmations without a reload, over
the event stream and, when the server refuses streams, by polling; the page works without
JavaScript; the widget shows the petition inside another site's page."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from petitions.extensions import db
from petitions.models import CountShard
from tests.fixtures.actors import confirm_directly, sign_directly

#: Long enough for a stream to end and the browser to reconnect (3 s + `retry:` 3 s).
WAIT_MS = 20_000


def confirm(app, petition_id: int, email: str) -> None:
    """A signer confirms, as through the emailed link (services.signing)."""
    _, signature_id = sign_directly(app, petition_id, email)
    confirm_directly(app, signature_id)


def preset_total(app, petition_id: int, total: int) -> None:
    """Start the petition at `total` confirmed signatures (one count shard holds them all)."""
    with app.app_context():
        db.session.add(CountShard(petition_id=petition_id, shard=0, count=total))
        db.session.commit()
        db.session.remove()


def requests_made(page: Page) -> list[tuple[str, int]]:
    """(url, status) of every response the page receives from now on."""
    seen: list[tuple[str, int]] = []
    page.on("response", lambda response: seen.append((response.url, response.status)))
    return seen


def test_the_count_follows_confirmations_over_the_stream(app, make_petition, page):
    petition = make_petition(goal=2000)
    preset_total(app, petition, 999)
    page.goto(f"/petitions/{petition}")
    page.evaluate("window.sameDocument = true")
    total = page.locator("section.total")
    number = total.locator("[data-count]")
    expect(number).to_have_text("999")
    expect(total).to_have_attribute("data-live-mode", "stream")

    confirm(app, petition, "one@example.org")
    expect(number).to_have_text("1,000", timeout=WAIT_MS)  # Babel's English grouping
    expect(total.locator("[data-count-label]")).to_have_text("signatures")
    expect(total.locator("progress")).to_have_attribute("value", "1000")
    expect(total.locator("progress")).to_have_attribute("aria-label", "50% of the goal")

    # The server ends each stream after a few seconds; the browser reconnects by itself.
    expect(total).to_have_attribute(
        "data-live-opens", re.compile(r"^([2-9]|\d\d+)$"), timeout=WAIT_MS
    )
    confirm(app, petition, "two@example.org")
    expect(number).to_have_text("1,001", timeout=WAIT_MS)
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"


def test_without_streams_the_page_polls_count_json(
    app, make_petition, live_server, monkeypatch, page
):
    monkeypatch.setitem(live_server.app.config, "LIVE_MAX_STREAMS", 0)
    monkeypatch.setitem(live_server.app.config, "LIVE_POLL_SECONDS", 1)
    petition = make_petition()
    seen = requests_made(page)
    page.goto(f"/petitions/{petition}")
    total = page.locator("section.total")
    expect(total).to_have_attribute("data-live-mode", "poll")
    expect(total.locator("[data-count]")).to_have_text("0")

    confirm(app, petition, "one@example.org")
    expect(total.locator("[data-count]")).to_have_text("1", timeout=WAIT_MS)
    expect(total.locator("[data-count-label]")).to_have_text("signature")
    stream = f"{live_server.url}/petitions/{petition}/count/stream"
    polls = f"{live_server.url}/petitions/{petition}/count.json"
    assert (stream, 503) in seen
    assert any(url == polls for url, _ in seen)
    assert total.get_attribute("data-live-opens") is None, "no stream was ever open"


def test_without_javascript_the_page_shows_the_count_and_the_form_works(
    app, make_petition, page_without_javascript
):
    page = page_without_javascript
    petition = make_petition(title="Plant trees along Chui Avenue")
    confirm(app, petition, "first@example.org")
    seen = requests_made(page)
    page.goto(f"/petitions/{petition}")
    expect(page.locator("section.total [data-count]")).to_have_text("1")
    expect(page.locator("section.total")).not_to_have_attribute("data-live-mode", "stream")

    page.get_by_label("Full name", exact=True).fill("Aibek Asanov")
    page.get_by_role("textbox", name="Email address").fill("aibek@example.kg")
    page.get_by_label("Country", exact=True).select_option("KG")
    page.get_by_role("checkbox", name="I agree").check()
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.get_by_role("link", name="Plant trees along Chui Avenue")).to_be_visible()
    assert not any("/count" in url for url, _ in seen), "no script asked for the count"


@pytest.fixture
def news_site() -> Iterator[Callable[[str], str]]:
    """Another site (another origin: its own port) whose article frames what it is given;
    returns a function that publishes an article's HTML and gives its URL."""
    articles: dict[str, bytes] = {}

    def serve(environ, start_response):
        body = articles.get(environ["PATH_INFO"])
        start_response("200 OK" if body else "404 Not Found", [("Content-Type", "text/html")])
        return [body or b""]

    server = make_server("127.0.0.1", 0, serve, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="news-site", daemon=True)
    thread.start()

    def publish(html: str) -> str:
        path = f"/article-{len(articles)}"
        articles[path] = f"<!doctype html><title>News</title>{html}".encode()
        return f"http://127.0.0.1:{server.server_port}{path}"

    try:
        yield publish
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_widget_shows_the_petition_inside_another_sites_page(
    app, make_petition, live_server, news_site, page
):
    petition = make_petition(title="Protect the Ala-Archa park")
    confirm(app, petition, "first@example.org")
    widget_url = f"{live_server.url}/petitions/{petition}/embed"
    page.goto(widget_url)
    expect(page.get_by_role("heading", name="Protect the Ala-Archa park")).to_be_visible()
    expect(page.locator("[data-count]")).to_have_text("1")

    article = news_site(
        f'<h1>News</h1><iframe id="widget" src="{widget_url}"></iframe>'
        f'<iframe id="page" src="{live_server.url}/petitions/{petition}"></iframe>'
    )
    page.goto(article)
    widget = page.frame_locator("#widget")
    expect(widget.get_by_role("heading", name="Protect the Ala-Archa park")).to_be_visible()
    expect(widget.locator("[data-count]")).to_have_text("1")
    sign = widget.get_by_role("link", name="Sign this petition")
    expect(sign).to_have_attribute("target", "_blank")
    # Still live inside the other site's page.
    confirm(app, petition, "second@example.org")
    expect(widget.locator("[data-count]")).to_have_text("2", timeout=WAIT_MS)
    # The petition's own page refuses to be framed (frame-ancestors 'none'): no petition in it.
    blocked = page.frame_locator("#page")
    expect(blocked.get_by_role("heading", name="Protect the Ala-Archa park")).to_have_count(0)
    frame_urls = [frame.url for frame in page.frames]
    assert not any(url.endswith(f"/petitions/{petition}") for url in frame_urls), frame_urls
    assert any(url.startswith("chrome-error:") for url in frame_urls), "the browser refused it"
