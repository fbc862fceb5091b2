"""Static files: fingerprinted names cached for a year, one copy for every language, and a
petition page that stays under its weight budget on a slow phone network."""

from __future__ import annotations

import gzip
import random
import re
from datetime import timedelta
from pathlib import Path

import pytest

from petitions.assets import IMMUTABLE, SHORT, content_digest, fingerprinted_name
from petitions.extensions import db
from petitions.models import Petition, utcnow
from petitions.security import CONTENT_SECURITY_POLICY
from petitions.services import updates

STATIC = Path(__file__).resolve().parents[2] / "static"
#: What a petition page may weigh, transferred: its HTML and every style sheet and script it
#: loads (issue 10: under 50 KB on a slow network, no web fonts, no CDN).
BUDGET_BYTES = 50 * 1024
#: <link rel="stylesheet" href> and <script src> of a page.
ASSETS = re.compile(r'<link rel="stylesheet" href="([^"]+)"|<script src="([^"]+)"')


def assets_of(html: str) -> list[str]:
    return [css or js for css, js in ASSETS.findall(html)]


def site_css_url(html: str) -> str:
    match = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert match, "no style sheet linked"
    return match.group(1)


def test_a_kyrgyz_page_links_the_fingerprinted_style_sheet_from_the_site_root(client, petition):
    html = client.get(f"/ky/petitions/{petition}").get_data(as_text=True)

    digest = content_digest(STATIC / "site.css")
    assert site_css_url(html) == f"/static/site.{digest}.css"
    assert f'<script src="/static/live.{content_digest(STATIC / "live.js")}.js"' in html


def test_every_language_links_the_same_copy(client, petition):
    urls = {
        site_css_url(client.get(f"{prefix}/petitions/{petition}").get_data(as_text=True))
        for prefix in ("", "/ru", "/ky", "/id")
    }
    assert len(urls) == 1


def test_a_fingerprinted_file_is_cached_for_a_year(client, petition):
    url = site_css_url(client.get(f"/petitions/{petition}").get_data(as_text=True))

    with client.get(url) as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.data == (STATIC / "site.css").read_bytes()
        assert response.mimetype == "text/css"


def test_the_plain_name_is_served_with_a_short_cache(client):
    with client.get("/static/site.css") as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == SHORT
        assert response.data == (STATIC / "site.css").read_bytes()


def test_a_stale_fingerprint_gets_todays_file_without_the_long_cache(client):
    """A page cached before a release asks for the old name: it gets a style sheet, but no
    cache may keep today's file under yesterday's name for a year."""
    with client.get("/static/site.0123456789.css") as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == SHORT
        assert response.data == (STATIC / "site.css").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/static/nothing.css",
        "/static/nothing.0123456789.css",
        "/static/../config.py",
        "/static/%2e%2e/config.py",
        "/static/..%2fconfig.0123456789.py",
    ],
)
def test_unknown_files_are_not_found(client, path):
    with client.get(path) as response:
        assert response.status_code == 404


def test_the_fingerprint_follows_the_contents(tmp_path):
    path = tmp_path / "site.css"
    path.write_text("body { color: #1b1b1b; }")
    before = content_digest(path)
    path.write_text("body { color: #000; }")
    after = content_digest(path)

    assert before != after
    assert fingerprinted_name("site.css", after) == f"site.{after}.css"
    assert content_digest(path) == after, "the same contents, the same name"


def test_pages_keep_the_strict_policy_and_load_only_their_own_files(client, petition):
    response = client.get(f"/ky/petitions/{petition}")

    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assets = assets_of(response.get_data(as_text=True))
    assert assets
    # Same origin ('self'): no CDN, no other host; and no style or script written inline.
    assert all(url.startswith("/static/") for url in assets), assets
    html = response.get_data(as_text=True)
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)


#: A list literal of 35 words would read worse.
WORDS = (  # noqa: SIM905
    "мектеп көпүрө балдар шаар суу жол кеңеш министрлик адамдар жашоо талап коопсуздук "
    "жарык түн күн эртең мененки окуучулар ата-энелер дарыя ак-буура ош бишкек каржы "
    "бюджет курулуш долбоор жардам токтом мыйзам жергиликтүү калк кол тамга петиция"
).split()


def line(seed: int, length: int) -> str:
    return prose(seed, length).replace("\n\n", " ")


def prose(seed: int, length: int) -> str:
    """Text as varied as a real one (a repeated sentence would compress to nothing), in
    Cyrillic, which takes two bytes a letter; paragraphs of a few sentences."""
    rng = random.Random(seed)
    text = ""
    while len(text) < length:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16)))
        text += sentence.capitalize() + (".\n\n" if rng.random() < 0.2 else ". ")
    return text[:length].strip()


@pytest.fixture
def heavy_petition(app, make_petition, make_signature, make_user) -> int:
    """A petition at its longest: every text at its limit, ten updates, three months of
    signatures from several countries and regions (the chart, the tables)."""
    owner = make_user(email="organiser@example.kg")
    petition_id = make_petition(
        title=line(1, 150),
        action=prose(2, 1000),
        addressee="Ош шаардык кеңеши жана Транспорт жана коммуникациялар министрлиги",
        background=prose(3, 5000),
        goal=100_000,
        owner_id=owner,
    )
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        for n in range(10):
            updates.post_update(
                db.session,
                petition,
                author_id=owner,
                title=line(10 + n, 120),
                body=prose(20 + n, 1500),
                creation_key=f"update-{n}",
                now=utcnow(),
            )
        db.session.remove()
    now = utcnow()
    make_signature(
        petition_id,
        None,
        counted=True,
        count=360,
        country=lambda n: ("KG", "RU", "KZ", "UZ", "TR", "DE")[n % 6],
        region=lambda n: ("Chüy", "Osh", "Batken", None)[n % 4],
        confirmed_at=lambda n: now - timedelta(days=n % 90, hours=n % 24),
    )
    return petition_id


def test_the_petition_page_stays_under_50_kb_transferred(client, app, heavy_petition):
    """Sizes are gzip-compressed (level 6, as nginx's `gzip on` sends text), which is what
    travels; the page is the Kyrgyz one, with the sign form and its proof-of-work script."""
    app.config["PROOF_OF_WORK"] = True
    page = client.get(f"/ky/petitions/{heavy_petition}")
    assert page.status_code == 200
    html = page.data
    assets = assets_of(html.decode())
    assert len(assets) == 4, assets  # site.css, live.js, share.js, pow.js

    sizes = {f"/ky/petitions/{heavy_petition}": len(gzip.compress(html, 6))}
    for url in assets:
        with client.get(url) as response:
            assert response.status_code == 200, url
            sizes[url] = len(gzip.compress(response.data, 6))

    assert sum(sizes.values()) < BUDGET_BYTES, sizes
