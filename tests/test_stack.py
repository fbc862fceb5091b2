"""The production stack on loopback (deploy/loopback.py): Debian's nginx with the production
template's configuration in front of gunicorn and a mail worker, as README's Operations section
sets them up, on a database of the run (SQLite, or a private PostgreSQL database with
TEST_DATABASE_URL) and the tests' SMTP server.

What a reader or signer notices through nginx: pages, static files served and cached by nginx
itself, compression, the cache in front of the app (and never for someone with a session), the
first rate limit and its page, signing end to end through the mailed link, and nginx's own page
when no app instance answers (a second, short-lived stack whose instance is killed). One stack
for the module; it is stopped, and every process killed if it must be, when the module ends.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

import config
from deploy import render
from deploy.loopback import Stack
from tests.fixtures.actors import csrf_token, sign_form_hidden
from tests.fixtures.database import ON_POSTGRES, private_postgres_database
from tests.fixtures.mail import confirm_link
from tests.fixtures.servers import migrated_with_open_petition
from tests.fixtures.threads import wait_until

#: How long a client waits for an answer; none within it means the site is down.
ANSWER_TIMEOUT = 15.0
#: How long the mail worker may take to deliver a confirmation.
MAIL_TIMEOUT = 30.0
#: Source addresses of their own (all of 127/8 is loopback), so the tests that spend the
#: per-address limits leave the others theirs.
FLOODER = "127.0.0.5"
READER = "127.0.0.6"
#: The titles of nginx's own pages, in English and as the Russian catalog has them.
TOO_MANY = {"en": "Too many attempts", "ru": "Слишком много попыток"}
UNAVAILABLE = {
    "en": "The site is busy or under maintenance",
    "ru": "Сайт перегружен или на обслуживании",
}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Browser:
    """One reader's browser on the site: keeps the cookies it is given, sends the Origin a
    browser sends with a form, follows no redirect by itself."""

    def __init__(self, base_url: str, source: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url
        self.host, self.port = parts.hostname, parts.port
        self.source = (source, 0) if source else None
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, url: str, data: dict | None = None, headers: dict | None = None
    ) -> Answer:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent.setdefault("Origin", self.base_url)
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=ANSWER_TIMEOUT, source_address=self.source
        )
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            conn.close()
        for header in answer.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return answer

    def get(self, url: str, headers: dict | None = None) -> Answer:
        return self.request("GET", url, headers=headers)

    def post(self, url: str, data: dict) -> Answer:
        return self.request("POST", url, data=data)


@dataclass(frozen=True)
class Site:
    stack: Stack
    petition_id: int
    database_url: str

    @property
    def petition_path(self) -> str:
        return f"/petitions/{self.petition_id}"

    def browser(self, source: str | None = None) -> Browser:
        return Browser(self.stack.base_url, source)


@pytest.fixture(scope="module")
def site(tmp_path_factory, smtp_server) -> Iterator[Site]:
    controller, _ = smtp_server
    with ExitStack() as resources:
        if ON_POSTGRES:
            url = resources.enter_context(
                private_postgres_database(os.environ["TEST_DATABASE_URL"], "petitions_stack")
            )
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('stack-db') / 'stack.sqlite3'}"
        petition_id = migrated_with_open_petition(url)
        stack = Stack(
            tmp_path_factory.mktemp("stack"),
            url,
            smtp_port=controller.port,
            migrate=False,  # migrated_with_open_petition did it
            env={
                # A signer here posts the form as soon as the page is there.
                "SIGN_MIN_SECONDS": "0",
                # count.json stays fresh in the cache between two requests however slow the
                # machine (the production default is 2 s).
                "COUNT_CACHE_MAX_AGE": "60",
            },
        )
        resources.enter_context(stack)
        yield Site(stack, petition_id, url)


@pytest.mark.parametrize("page", ["home", "petition"])
def test_pages_answer_through_nginx(site, page):
    path = {"home": "/", "petition": site.petition_path}[page]
    answer = site.browser().get(path)
    assert answer.status == 200, site.stack.log_tails()


def test_a_fingerprinted_static_file_is_served_by_nginx_and_kept_for_a_year(site):
    home = site.browser().get("/")
    stylesheet = re.search(r'href="(/static/site\.[0-9a-f]{10}\.css)"', home.text)
    assert stylesheet, "the home page links no fingerprinted stylesheet"
    answer = site.browser().get(stylesheet[1])
    logged = "".join(path.read_text() for path in site.stack.app_access_logs)
    assert answer.status == 200
    assert "immutable" in answer.headers["Cache-Control"]
    assert '"GET / ' in logged, "the instances' access log is not being written"
    assert "/static/" not in logged, "a static file was asked of the app"


def test_a_plain_static_name_is_kept_for_a_short_while(site):
    answer = site.browser().get("/static/site.css")
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "public, max-age=300"


def test_pages_come_compressed_to_a_browser_that_accepts_gzip(site):
    answer = site.browser().get("/", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert "</html>" in gzip.decompress(answer.body).decode()


def test_the_running_total_is_served_from_the_cache_the_second_time(site):
    path = f"{site.petition_path}/count.json"
    first = site.browser().get(path)
    second = site.browser().get(path)
    assert first.status == 200
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.body == first.body


@pytest.mark.parametrize("cookie", ["session_cookie", "remember_cookie"])
def test_a_reader_with_a_session_is_never_served_from_the_cache(site, cookie):
    name = getattr(render.app_facts(), cookie)
    path = f"{site.petition_path}/count.json"
    site.browser().get(path)  # a copy in the cache for everyone else
    browser = site.browser()
    browser.cookies[name] = "their-own"
    statuses = [browser.get(path).headers["X-Cache-Status"] for _ in range(2)]
    assert statuses == ["BYPASS", "BYPASS"]


def test_an_anonymous_petition_page_is_served_from_the_cache(site):
    site.browser().get(site.petition_path)
    assert site.browser().get(site.petition_path).headers["X-Cache-Status"] == "HIT"


@pytest.fixture(scope="module")
def flood(site) -> dict[str, list[Answer]]:
    """A script's burst of sign posts from one address, every other one from a Russian
    browser; nginx's refusals by language. No page's Origin: the app refuses each at once
    (403), so every 429 is nginx's and the burst arrives far faster than the zone's rate
    whatever the machine's speed."""
    flooder = site.browser(FLOODER)
    refused: dict[str, list[Answer]] = {"en": [], "ru": []}
    for n in range(render.FORM_BURST * 2):
        language = "ru" if n % 2 else "en"
        answer = flooder.request(
            "POST",
            f"{site.petition_path}/sign",
            {"name": "Bot", "email": f"bot{n}@example.kg"},
            headers={"Origin": "https://flood.example", "Accept-Language": language},
        )
        if answer.status == 429:
            refused[language].append(answer)
    return refused


def test_a_burst_of_sign_posts_from_one_address_is_stopped_by_nginx(flood):
    assert flood["en"] and flood["ru"]


def test_nginx_refusals_say_when_to_try_again(flood):
    waits = {a.headers["Retry-After"] for a in flood["en"] + flood["ru"]}
    assert waits == {str(render.FORM_RETRY_AFTER)}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_nginx_refusals_are_the_sites_page_in_the_readers_language(flood, language):
    page = flood[language][0].text
    assert (TOO_MANY[language] in page, "<center>nginx</center>" in page) == (True, False)


def test_reading_the_forms_pages_is_never_limited(site):
    reader = site.browser(READER)
    statuses = {reader.get("/account/login").status for _ in range(render.FORM_BURST + 30)}
    assert statuses == {200}


def test_a_signer_signs_and_confirms_through_nginx_with_the_mailed_link(site, mailbox):
    email = "aigul@example.kg"
    signer = site.browser()
    page = signer.get(site.petition_path).text
    signed = signer.post(
        f"{site.petition_path}/sign",
        {
            "csrf_token": csrf_token(page),
            **sign_form_hidden(page),
            "name": "Aigul Asanova",
            "email": email,
            "country": "KG",
            "consent": "y",
        },
    )
    assert signed.status == 303, signed.text[-2000:]
    assert wait_until(lambda: mailbox.to(email), timeout=MAIL_TIMEOUT), site.stack.log_tails()
    link = confirm_link(mailbox.last_to(email))
    assert link.startswith(site.stack.base_url + "/")
    mail_reader = site.browser()  # the link may open in another browser than the form
    confirm_page = mail_reader.get(link).text
    confirmed = mail_reader.post(link, {"csrf_token": csrf_token(confirm_page)})
    assert confirmed.status == 200
    assert "Your signature is confirmed" in confirmed.text


@dataclass(frozen=True)
class Outage:
    #: Asked of the app's live stream while it still ran (it had no stream to give).
    app_busy: Answer
    #: Asked once its only instance was killed: pages no cache holds, and a form post.
    pages: dict[str, Answer]
    post: Answer


@pytest.fixture(scope="module")
def outage(site, tmp_path_factory) -> Outage:
    """A second stack on the site's database whose only instance is killed. It serves no live
    stream (LIVE_MAX_STREAMS=0), so the app answers every stream with its own 503."""
    stack = Stack(
        tmp_path_factory.mktemp("outage"),
        site.database_url,
        mail_workers=0,
        migrate=False,
        env={"LIVE_MAX_STREAMS": "0"},
    )
    with stack:
        browser = Browser(stack.base_url)
        app_busy = browser.get(f"{site.petition_path}/count/stream")
        stack.kill_instance(0, signal.SIGKILL)
        pages = {
            language: browser.get(
                f"{site.petition_path}?outage={language}", headers={"Accept-Language": language}
            )
            for language in ("en", "ru")
        }
        post = browser.post(f"{site.petition_path}/sign", {"name": "Aigul"})
    return Outage(app_busy, pages, post)


def test_with_every_instance_down_a_reader_gets_503_with_retry_after(outage):
    answer = outage.pages["en"]
    assert (answer.status, answer.headers["Retry-After"]) == (
        503,
        str(render.UNAVAILABLE_RETRY_AFTER),
    )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_with_every_instance_down_the_page_asks_to_try_again_in_the_readers_language(
    outage, language
):
    page = outage.pages[language].text
    assert (UNAVAILABLE[language] in page, f'<html lang="{language}">' in page) == (True, True)


#: What the outage page tells someone whose signature or confirmation was cut off.
SAFE_AGAIN = {
    "en": "Signing or confirming again is safe: each person is counted once.",
    "ru": "Повторно подписать или подтвердить безопасно: каждый человек учитывается один раз.",
}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_with_every_instance_down_the_page_says_sending_again_is_safe(outage, language):
    assert SAFE_AGAIN[language] in outage.pages[language].text


def test_with_every_instance_down_a_form_post_gets_the_same_page(outage):
    assert (outage.post.status, UNAVAILABLE["en"] in outage.post.text) == (503, True)


def test_a_503_the_app_made_reaches_the_reader_as_the_app_made_it(outage):
    """The live stream's "all taken" answer: problem+json with the app's own Retry-After (a
    stream's length), not nginx's page."""
    answer = outage.app_busy
    assert (answer.status, answer.headers["Content-Type"], answer.headers["Retry-After"]) == (
        503,
        "application/problem+json",
        str(config.setting("LIVE_STREAM_SECONDS").default),
    )


def test_the_stack_leaves_no_process_behind(site, tmp_path):
    stack = Stack(tmp_path / "stack", site.database_url, migrate=False)
    with stack:
        pids = [*stack.app_pids, *stack.worker_pids, *stack.nginx_pids]
    assert pids and not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
