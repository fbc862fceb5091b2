"""End-to-end fixtures: the app served over real HTTP, and a real headless Chromium.

The browser is Debian's Chromium (`apt-get install chromium`), driven by playwright's sync API
through `executable_path`; never `playwright install`. Without it these tests fail, with a
message saying so, rather than skip: a green run must mean the browser tests ran.

The server is werkzeug's threaded one on 127.0.0.1, in a background thread, one per test
module. Its app uses the same migrated database as the `app` fixture, so tests set data up
with the usual fixtures (make_petition, sign_directly, ...) and watch the browser pick it up;
`app` also empties the tables around each test. A test may change the server's settings with
`monkeypatch.setitem(live_server.app.config, ...)`: they are read per request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from petitions import create_app
from petitions.extensions import db
from petitions.public.live import stream_slots
from tests.fixtures.settings import settings_for
from tests.fixtures.threads import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
#: Short streams, so the tests also see the browser reconnect after the server ends one.
STREAM_SECONDS = 3


@dataclass(frozen=True)
class LiveServer:
    app: Flask
    #: http://127.0.0.1:<port>, no trailing slash.
    url: str


@pytest.fixture(scope="module")
def live_server(migrated_database, smtp_server) -> Iterator[LiveServer]:
    controller, _ = smtp_server
    config = settings_for(migrated_database, smtp_port=controller.port)
    # Links follow the address the browser used (127.0.0.1:<port>), not the test client's.
    config.update(SERVER_NAME=None, LIVE_STREAM_SECONDS=STREAM_SECONDS)
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, url)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        # Streams still open end within STREAM_SECONDS; none may outlive the database.
        assert wait_until(lambda: stream_slots(app).open == 0, timeout=STREAM_SECONDS + 10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the end-to-end tests need Debian's "
            "chromium package (apt-get install chromium). Do not run `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    """A fresh browser profile (no cookies, no cache) with JavaScript on."""
    context = browser.new_context(base_url=live_server.url)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page_without_javascript(browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        yield context.new_page()
    finally:
        context.close()
