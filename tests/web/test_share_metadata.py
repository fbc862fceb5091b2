"""Link previews: a petition's page tells social sites and messengers its title, what it asks
(shortened), its address and the site (Open Graph, Twitter cards), and names its canonical URL;
escaped, and never the text of a petition withheld as offensive or defamatory."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

REPEATABLE = frozenset({"og:locale:alternate"})


class Head(HTMLParser):
    """The <meta> and <link> elements of a page, as a link-preview crawler reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        #: Properties Open Graph allows more than once (og:locale:alternate), in order.
        self.repeated: dict[str, list[str]] = {}
        #: The `lang` attribute of each <meta> that has one.
        self.lang: dict[str, str] = {}
        self.title_lang: str | None = None
        self.links: dict[str, str] = {}
        self.head = ""
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "head":
            self._in_head = True
        elif tag == "meta" and ("property" in attrs or "name" in attrs):
            key = attrs.get("property") or attrs["name"]
            if key in REPEATABLE:
                self.repeated.setdefault(key, []).append(attrs["content"])
                return
            assert key not in self.meta, f"{key} given twice"
            self.meta[key] = attrs["content"]
            if "lang" in attrs:
                self.lang[key] = attrs["lang"]
        elif tag == "title":
            self.title_lang = attrs.get("lang")
        elif tag == "link" and attrs.get("rel") == "canonical":
            self.links["canonical"] = attrs["href"]

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False

    def handle_data(self, data):
        if self._in_head:
            self.head += data


def head_of(client, path: str) -> Head:
    response = client.get(path)
    assert response.status_code == 200
    parser = Head()
    parser.feed(response.get_data(as_text=True))
    return parser


def test_open_petition_page_has_open_graph_and_twitter_card_metadata(client, make_petition):
    petition = make_petition(title="Clean the Chüy river", action="Fund a clean-up of the river.")
    head = head_of(client, f"/petitions/{petition}")
    url = f"http://localhost/petitions/{petition}"
    assert head.links["canonical"] == url
    assert head.meta == {
        "viewport": "width=device-width, initial-scale=1",
        "description": "Fund a clean-up of the river.",
        "og:type": "website",
        "og:site_name": "Petitions",
        "og:title": "Clean the Chüy river",
        "og:description": "Fund a clean-up of the river.",
        "og:url": url,
        "og:locale": "en_US",
        "twitter:card": "summary",
        "twitter:title": "Clean the Chüy river",
        "twitter:description": "Fund a clean-up of the river.",
    }
    assert head.repeated == {"og:locale:alternate": ["id_ID", "ky_KG", "ru_RU"]}


def test_a_long_action_is_shortened_at_a_word(client, make_petition):
    action = "Build safe crossings near every school in Bishkek.\n\n" + "Also " * 100 + "more."
    petition = make_petition(action=action)
    description = head_of(client, f"/petitions/{petition}").meta["og:description"]
    assert len(description) <= 200
    assert description.startswith("Build safe crossings near every school in Bishkek. Also Also")
    assert description.endswith("Also…")
    assert "\n" not in description


def test_metadata_is_escaped(client, make_petition):
    title = 'Stop "them" <script>alert(1)</script> & co'
    petition = make_petition(title=title, action='Say "no" & <b>mean</b> it.')
    response = client.get(f"/petitions/{petition}")
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    head = head_of(client, f"/petitions/{petition}")
    assert head.meta["og:title"] == title
    assert head.meta["twitter:title"] == title
    assert head.meta["og:description"] == 'Say "no" & <b>mean</b> it.'


@pytest.mark.parametrize("reason", ["offensive", "defamatory"])
def test_a_withheld_petition_shares_no_title_or_text(client, moderate, reason):
    petition = moderate("rejected", title="Insulting title", reason=reason)
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "Insulting title" not in page
    assert "footbridge" not in page, "the action is withheld too"
    head = head_of(client, f"/petitions/{petition}")
    assert head.meta["og:title"] == "Rejected petition"
    assert head.meta["twitter:title"] == "Rejected petition"
    assert head.meta["og:description"] == "This petition was rejected; its text is not published."
    assert head.meta["og:url"] == f"http://localhost/petitions/{petition}"


def test_a_petition_rejected_for_another_reason_keeps_its_title(client, moderate):
    petition = moderate("rejected", title="Already asked elsewhere", reason="duplicate")
    head = head_of(client, f"/petitions/{petition}")
    assert head.meta["og:title"] == "Already asked elsewhere"
    assert head.meta["og:description"] == "Build a footbridge over the Ak-Buura river."
