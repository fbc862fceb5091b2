"""The embeddable widget: a small page other sites may frame (only it), with the title, the
live count and a link that opens the petition in a new tab; and the code to embed it, shown on
the petition's page."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

TITLE = 'Save the "Old Bazaar" <now> & forever'


def csp_directives(response) -> dict[str, list[str]]:
    csp = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}


class Links(HTMLParser):
    """Every <a> and <iframe> with its attributes, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "iframe"):
            self.found.append((tag, dict(attrs)))


def parse(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Links()
    parser.feed(markup)
    return parser.found


def test_open_petition_widget(client, make_petition, signer):
    petition = make_petition(title=TITLE, goal=10)
    signer.sign_and_confirm(petition, "a@example.org")
    response = client.get(f"/petitions/{petition}/embed")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.startswith("<!doctype html>")
    assert "Save the &#34;Old Bazaar&#34; &lt;now&gt; &amp; forever" in page
    assert "<strong data-count>1</strong>" in page
    assert f'data-live-stream="/petitions/{petition}/count/stream"' in page
    assert re.search(r'<script src="/static/live\.[0-9a-f]{10}\.js" defer></script>', page)
    assert re.search(r'href="/static/embed\.[0-9a-f]{10}\.css"', page)
    assert "<form" not in page, "nothing to submit inside someone else's page"
    assert "<script>" not in page and "style=" not in page, "no inline code (CSP)"

    links = [attrs for tag, attrs in parse(page) if tag == "a"]
    assert links, "no links"
    for attrs in links:
        assert attrs["target"] == "_blank"
        assert "noopener" in attrs["rel"].split()
        assert attrs["href"].startswith(f"http://localhost/petitions/{petition}")
    sign = [a for a in links if a["href"] == f"http://localhost/petitions/{petition}#sign"]
    assert len(sign) == 1


def test_only_the_widget_may_be_framed_by_other_sites(client, petition):
    widget = client.get(f"/petitions/{petition}/embed")
    assert csp_directives(widget)["frame-ancestors"] == ["*"]
    assert "X-Frame-Options" not in widget.headers
    # The rest of the policy stays as strict as everywhere else.
    assert csp_directives(widget)["script-src"] == ["'self'"]
    assert csp_directives(widget)["default-src"] == ["'self'"]

    page = client.get(f"/petitions/{petition}")
    assert csp_directives(page)["frame-ancestors"] == ["'none'"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_widget_is_cacheable_for_a_minute(client, petition):
    response = client.get(f"/petitions/{petition}/embed")
    assert response.cache_control.public
    assert response.cache_control.max_age == 60
    assert "Accept-Language" in response.headers["Vary"]
    assert "Set-Cookie" not in response.headers


def test_closed_petition_widget_shows_the_count_without_a_sign_link(client, make_petition):
    closed = make_petition(state="closed", title="An old petition")
    page = client.get(f"/petitions/{closed}/embed").get_data(as_text=True)
    assert "An old petition" in page
    assert "<strong data-count>0</strong>" in page
    assert "Sign this petition" not in page
    assert "no longer accepts signatures" in page
    assert "data-live-" not in page and "live.js" not in page


@pytest.mark.parametrize("kind", ["unknown", "draft", "hidden", "rejected", "withheld"])
def test_no_widget_for_petitions_without_a_public_count(client, make_petition, moderate, kind):
    petition_id = {
        "unknown": lambda: 424242,
        "draft": lambda: make_petition(state="draft", title=TITLE),
        "hidden": lambda: moderate("hidden", make_petition(title=TITLE)),
        "rejected": lambda: moderate("rejected", title=TITLE),
        "withheld": lambda: moderate("rejected", title=TITLE, reason="offensive"),
    }[kind]()
    response = client.get(f"/petitions/{petition_id}/embed")
    assert response.status_code == 404
    assert "Old Bazaar" not in response.get_data(as_text=True)
    assert csp_directives(response)["frame-ancestors"] == ["'none'"]


def embed_code(page: str) -> str:
    match = re.search(r'<textarea id="embed-code" readonly rows="3">(.*?)</textarea>', page, re.S)
    assert match, "no embed code on the page"
    return html.unescape(match.group(1))  # what the reader sees and copies


def test_petition_page_offers_the_code_to_embed_it(client, make_petition):
    petition = make_petition(title=TITLE)
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "Embed this petition" in page
    code = embed_code(page)
    [(tag, attrs)] = parse(code)
    assert tag == "iframe"
    assert attrs["src"] == f"http://localhost/petitions/{petition}/embed"
    assert attrs["title"] == TITLE, "the title survives copy and paste, quotes and all"
    assert code.endswith("</iframe>")


def test_closed_petitions_can_be_embedded_too(client, make_petition):
    closed = make_petition(state="closed")
    code = embed_code(client.get(f"/petitions/{closed}").get_data(as_text=True))
    assert f"/petitions/{closed}/embed" in code


def test_rejected_petition_page_offers_no_embed_code(client, moderate):
    rejected = moderate("rejected", title=TITLE)
    page = client.get(f"/petitions/{rejected}").get_data(as_text=True)
    assert "Embed this petition" not in page
    assert "embed-code" not in page
