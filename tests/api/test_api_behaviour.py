"""What a journalist's script sees of the open-data API: filters, sorting and pagination of the
listing, refusals as problem details, every field of a petition, removed signatures, petitions
that are not public, CORS, HTTP caching, the daily snapshots and the region breakdown.

Petitions are made through the services (or the CLI, as an operator would); signatures are
signed and confirmed through the signing services.
"""

import re
from datetime import datetime, timedelta

import pytest
from api_helpers import (
    API,
    add_milestone,
    csv_rows,
    hide,
    reject,
    respond,
    set_petition,
    sign,
)
from sqlalchemy import func, select, update
from werkzeug.http import http_date

from petitions.extensions import db
from petitions.models import DailyCount, Petition, utcnow
from petitions.worker import housekeeping

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def listing(client, query: str = "", status: int = 200) -> dict:
    response = client.get(f"{API}/petitions{query}")
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def ids(body: dict) -> list[int]:
    return [item["id"] for item in body["data"]]


def detail(client, petition_id: int, status: int = 200) -> dict:
    response = client.get(f"{API}/petitions/{petition_id}")
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def assert_problem(response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    if param is not None:
        assert [p["name"] for p in body["invalid_params"]] == [param]
    return body


# --- filters ------------------------------------------------------------------------------


@pytest.fixture
def petitions(app, make_petition, make_queued_petition, make_user, runner):
    """Open, closed and rejected petitions, with Cyrillic text and signatures from two
    countries; returns their ids by name."""
    air = make_petition(
        title="Чистый воздух в Бишкеке",
        action="Перевести котельные на газ.",
        addressee="Мэрия города Бишкек",
        goal=100,
    )
    troops = make_petition(title="Do not send troops abroad", addressee="Jogorku Kenesh")
    street = make_petition(
        title="Größere Straße für Fahrräder",
        background="Mit 100% mehr Platz_für alle.",
        addressee="Bishkek City Council",
    )
    for n in range(3):
        sign(app, air, f"air{n}@example.kg")
    sign(app, air, "air@example.kz", country="KZ")
    sign(app, troops, "troops@example.kg")
    closed = make_petition(title="Closed: repair the Osh bridge", addressee="Osh city council")
    sign(app, closed, "osh1@example.kg")
    sign(app, closed, "osh2@example.kg")
    rejected = reject(
        app,
        make_queued_petition,
        make_user,
        reason="duplicate",
        note="Same as the bridge petition.",
        title="Repair the bridge in Osh",
    )
    withheld = reject(
        app,
        make_queued_petition,
        make_user,
        reason="defamatory",
        note="Accuses a named person.",
        title="Secretword is a thief",
    )
    assert runner.invoke(args=["petition", "close", str(closed)]).exit_code == 0
    return {
        "air": air,
        "troops": troops,
        "street": street,
        "closed": closed,
        "rejected": rejected,
        "withheld": withheld,
    }


def test_state_filter(client, petitions):
    p = petitions
    assert set(ids(listing(client, "?state=open"))) == {p["air"], p["troops"], p["street"]}
    assert ids(listing(client, "?state=closed")) == [p["closed"]]
    assert set(ids(listing(client, "?state=rejected"))) == {p["rejected"], p["withheld"]}
    assert set(ids(listing(client, "?state=all"))) == set(p.values())
    assert set(ids(listing(client))) == set(p.values())


@pytest.mark.parametrize("state", ["draft", "hidden", "moderation", "sponsoring", "OPEN", ""])
def test_states_that_are_not_public_are_refused_as_filters(client, petitions, state):
    assert_problem(client.get(f"{API}/petitions?state={state}"), 400, "state")


@pytest.mark.parametrize(
    "q, expected",
    [
        ("ЧИСТЫЙ", "air"),  # Cyrillic, case-insensitive
        ("чистый ВОЗДУХ", "air"),
        ("котельные", "air"),  # in the action
        ("send TROOPS", "troops"),
        ("straße", "street"),  # ß as typed, on both databases
        ("100%", "street"),  # % is a character, not a wildcard
        ("platz_für", "street"),  # and so is _
    ],
)
def test_text_search(client, petitions, q, expected):
    assert ids(listing(client, f"?q={q}")) == [petitions[expected]]


@pytest.mark.parametrize("q", ["100_", "Чистый%воздух", "Platz%alle", "nothing like this"])
def test_text_search_finds_nothing_that_is_not_there(client, petitions, q):
    assert ids(listing(client, "?" + f"q={q}".replace("%", "%25"))) == []


def test_text_search_leaves_out_withheld_text(client, petitions):
    """A petition rejected as defamatory is listed, but its text is not searchable."""
    assert ids(listing(client, "?q=secretword")) == []
    assert ids(listing(client, "?q=bridge")) == [petitions["closed"], petitions["rejected"]]


def test_target_filter(client, petitions, make_queued_petition, make_user, app):
    assert ids(listing(client, "?target=kenesh")) == [petitions["troops"]]
    assert ids(listing(client, "?target=МЭРИЯ")) == [petitions["air"]]
    assert ids(listing(client, "?target=bishkek")) == [petitions["street"]]
    assert ids(listing(client, "?target=БИШКЕК")) == [petitions["air"]]
    # The addressee of a withheld petition is withheld too, so it cannot be searched for.
    withheld = reject(
        app,
        make_queued_petition,
        make_user,
        reason="offensive",
        note="Insults.",
        title="Anything",
    )
    assert detail(client, withheld)["target"] is None
    assert withheld not in ids(listing(client, "?target=Osh city council"))
    found = ids(listing(client, "?target=osh city council"))
    assert found == [petitions["closed"], petitions["rejected"]]


def test_country_filter_counts_confirmed_signatures_only(client, petitions, app):
    assert ids(listing(client, "?country=KZ")) == [petitions["air"]]
    assert ids(listing(client, "?country=kz")) == [petitions["air"]]
    assert ids(listing(client, "?country=RU")) == []
    # A pending signature from Russia does not make the petition one signed from Russia.
    sign(app, petitions["troops"], "pending@example.ru", country="RU", confirm=False)
    assert ids(listing(client, "?country=RU")) == []


@pytest.mark.parametrize("country", ["KGZ", "K", "", "1A", "ß", "ǅǅ"])
def test_bad_countries_are_refused(client, petitions, country):
    assert_problem(client.get(f"{API}/petitions?country={country}"), 400, "country")


# --- sorting ----------------------------------------------------------------------------------


def test_sorted_by_signatures_most_first_rejected_last(client, petitions):
    p = petitions
    order = ids(listing(client, "?sort=signatures"))
    assert order[:4] == [p["air"], p["closed"], p["troops"], p["street"]]
    assert set(order[4:]) == {p["rejected"], p["withheld"]}
    counts = [item["signature_count"] for item in listing(client)["data"]]
    assert counts[:4] == [4, 2, 1, 0] and counts[4:] == [None, None]


def test_sorted_by_newest_opening(client, petitions, app):
    now = utcnow()
    for days, name in enumerate(["street", "air", "troops", "closed"]):
        set_petition(app, petitions[name], opened_at=now - timedelta(days=days + 1))
    order = ids(listing(client, "?sort=newest&state=open"))
    assert order == [petitions["street"], petitions["air"], petitions["troops"]]


def test_sorted_by_closing_soonest_first_open_ones_first(client, petitions, app):
    now = utcnow()
    set_petition(app, petitions["air"], closes_at=now + timedelta(days=9))
    set_petition(app, petitions["troops"], closes_at=now + timedelta(days=2))
    set_petition(app, petitions["street"], closes_at=None)
    order = ids(listing(client, "?sort=closing"))
    assert order[:3] == [petitions["troops"], petitions["air"], petitions["street"]]
    assert set(order[3:]) == {petitions["closed"], petitions["rejected"], petitions["withheld"]}


def test_unknown_sort_is_refused(client, petitions):
    assert_problem(client.get(f"{API}/petitions?sort=popular"), 400, "sort")


# --- pagination -------------------------------------------------------------------------------


def link_header(response) -> dict[str, str]:
    return {
        rel: url
        for url, rel in re.findall(r'<([^>]+)>; rel="([a-z]+)"', response.headers.get("Link", ""))
    }


def test_pages_and_their_links(client, petitions):
    response = client.get(f"{API}/petitions?state=all&per_page=2&page=2&q=")
    body = response.get_json()
    assert body["meta"] == {"page": 2, "per_page": 2, "pages": 3, "total": 6}
    assert len(body["data"]) == 2
    links = body["links"]
    assert links["self"].endswith("page=2&per_page=2") and "state=all" in links["self"]
    assert "page=1&" in links["first"] and "page=3&" in links["last"]
    assert "page=1&" in links["prev"] and "page=3&" in links["next"]
    assert link_header(response) == {rel: links[rel] for rel in ("first", "last", "prev", "next")}
    last = client.get(links["last"])
    assert last.get_json()["links"]["next"] is None and "next" not in link_header(last)
    first = client.get(links["first"]).get_json()
    assert first["links"]["prev"] is None
    seen = ids(first) + ids(body) + ids(last.get_json())
    assert sorted(seen) == sorted(petitions.values()), "every petition on exactly one page"


def test_links_keep_the_filters_and_nothing_else(client, petitions):
    query = "?q=bridge&state=all&sort=newest&_external=0&endpoint=x&_anchor=top&_scheme=ftp"
    response = client.get(f"{API}/petitions{query}&_method=POST&per_page=1")
    assert response.status_code == 200, response.get_data(as_text=True)
    for url in response.get_json()["links"].values():
        if url is None:
            continue
        assert url.startswith("http://localhost/api/v1/petitions?")
        assert "q=bridge" in url and "sort=newest" in url and "state=all" in url
        assert "endpoint" not in url and "_" not in url.split("?")[1].replace("per_page", "")
        assert "#" not in url


def test_a_page_past_the_last_is_empty(client, petitions):
    body = listing(client, "?page=99&per_page=5")
    assert body["data"] == []
    assert body["meta"] == {"page": 99, "per_page": 5, "pages": 2, "total": 6}
    assert "page=2&" in body["links"]["prev"] and body["links"]["next"] is None


def test_an_empty_listing_has_one_empty_page(client, app):
    body = listing(client)
    assert body["data"] == [] and body["meta"]["pages"] == 1 and body["meta"]["total"] == 0


@pytest.mark.parametrize(
    "query, param",
    [
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=-1", "per_page"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=١", "page"),  # an Arabic-Indic digit
        ("page=9999999999999999999999", "page"),
    ],
)
def test_bad_paging_is_a_problem_naming_the_parameter(client, query, param):
    body = assert_problem(client.get(f"{API}/petitions?{query}"), 400, param)
    assert param in body["detail"]


def test_the_largest_page_size_is_accepted(client, petitions):
    assert listing(client, "?per_page=100")["meta"]["per_page"] == 100


@pytest.mark.parametrize(
    "value",
    ["%00", "abc%00def", "%01", "%1B[31m", "%7F", "%C2%85", "%EE%80%80", "%EF%BF%BD"],
)
@pytest.mark.parametrize("param", ["q", "target"])
def test_control_and_invalid_characters_are_400_not_500(client, param, value):
    for path in ("petitions", "petitions.csv"):
        body = assert_problem(client.get(f"{API}/{path}?{param}={value}"), 400, param)
        assert "character" in body["detail"]


@pytest.mark.parametrize("value", ["%FF", "%ED%A0%80", "%C3"])
def test_bytes_that_are_not_utf8_are_searched_as_typed(client, petitions, value):
    """Werkzeug keeps undecodable bytes percent-encoded: a search for that text, no error."""
    for path in ("petitions", "petitions.csv"):
        assert client.get(f"{API}/{path}?q={value}").status_code == 200
    assert listing(client, f"?q={value}")["data"] == []


def test_very_long_text_is_refused(client, petitions):
    assert_problem(client.get(f"{API}/petitions?q={'a' * 201}"), 400, "q")
    assert_problem(client.get(f"{API}/petitions?q={'ы' * 5000}"), 400, "q")
    assert_problem(client.get(f"{API}/petitions?q={' ' * 150}x{' ' * 150}"), 400, "q")
    assert_problem(client.get(f"{API}/petitions.csv?target={'b' * 10_000}"), 400, "target")
    assert listing(client, f"?q={'a' * 200}")["data"] == []


def test_blank_text_filters_mean_no_filter(client, petitions):
    assert listing(client, "?q=&target=%20%20")["meta"]["total"] == len(petitions)


# --- one petition -----------------------------------------------------------------------------


def test_detail_of_an_open_petition(client, petitions, app):
    p = petitions["air"]
    reached = utcnow() - timedelta(hours=1)
    add_milestone(app, p, 3, reached)
    body = detail(client, p)
    assert body["id"] == p and body["state"] == "open"
    assert body["url"] == f"http://localhost/petitions/{p}"
    assert body["api_url"] == f"http://localhost/api/v1/petitions/{p}"
    assert body["title"] == "Чистый воздух в Бишкеке"
    assert body["action"] == "Перевести котельные на газ."
    assert body["target"] == "Мэрия города Бишкек"
    assert body["goal"] == 100 and body["signature_count"] == 4
    assert body["text_withheld"] is False
    for name in ("created_at", "opened_at", "closes_at", "computed_at"):
        assert RFC3339.match(body[name]), (name, body[name])
    assert body["closed_at"] is None and body["response"] is None and body["rejection"] is None
    assert body["signatures_removed"] == {"invalidated": 0, "withdrawn": 0, "total": 0}
    assert body["signatures_by_country"] == [
        {"code": "KG", "name": "Kyrgyzstan", "count": 3},
        {"code": "KZ", "name": "Kazakhstan", "count": 1},
    ]
    assert body["thresholds_reached"] == [
        {
            "kind": "count",
            "threshold": 3,
            "reached_at": reached.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
    ]
    assert body["links"]["count"] == f"http://localhost/petitions/{p}/count.json"
    for name, url in body["links"].items():
        assert client.get(url).status_code == 200, name


def test_detail_shows_the_official_response(client, petitions, app, make_user):
    respond(app, make_user, petitions["closed"], "The bridge will be repaired in May.")
    body = detail(client, petitions["closed"])
    assert body["state"] == "closed" and RFC3339.match(body["closed_at"])
    assert body["response"]["text"] == "The bridge will be repaired in May."
    assert body["response"]["published_at"] == body["response_at"]
    assert RFC3339.match(body["response_at"])


def test_detail_of_a_rejected_petition(client, petitions):
    body = detail(client, petitions["rejected"])
    assert body["state"] == "rejected" and body["text_withheld"] is False
    assert body["title"] == "Repair the bridge in Osh"
    assert body["rejection"] == {"reason": "duplicate", "note": "Same as the bridge petition."}
    assert body["signature_count"] is None and body["signatures_removed"] is None
    assert body["signatures_by_country"] == body["signatures_by_region"] == []
    assert body["opened_at"] is None


def test_a_withheld_petition_shows_only_the_decision(client, petitions):
    response = client.get(f"{API}/petitions/{petitions['withheld']}")
    body = response.get_json()
    assert body["text_withheld"] is True
    assert body["title"] is body["action"] is body["background"] is body["target"] is None
    assert body["rejection"] == {"reason": "defamatory", "note": "Accuses a named person."}
    assert "Secretword" not in response.get_data(as_text=True)
    listed = [i for i in listing(client)["data"] if i["id"] == petitions["withheld"]]
    assert listed[0]["title"] is None and listed[0]["text_withheld"] is True
    exported = client.get(f"{API}/petitions.csv").get_data(as_text=True)
    assert "Secretword" not in exported


@pytest.mark.parametrize("kind", ["draft", "moderation", "sponsoring", "hidden"])
def test_petitions_that_are_not_public_are_404_everywhere(
    client, app, make_petition, make_queued_petition, make_user, kind
):
    if kind == "moderation":
        petition_id = make_queued_petition(title="Secret queue title")
    elif kind == "hidden":
        petition_id = make_petition(title="Secret queue title")
        sign(app, petition_id, "hidden@example.kg")
        hide(app, make_user, petition_id)
    else:
        petition_id = make_petition(state="draft", title="Secret queue title")
        if kind == "sponsoring":
            set_petition(app, petition_id, state="sponsoring")
    for suffix in ("", "/timeseries", "/timeseries.csv", "/countries.csv", "/regions.csv"):
        body = assert_problem(client.get(f"{API}/petitions/{petition_id}{suffix}"), 404)
        assert "Secret" not in str(body)
    assert client.get(f"/petitions/{petition_id}/count.json").status_code == 404
    assert listing(client)["data"] == []
    assert "Secret" not in client.get(f"{API}/petitions.csv").get_data(as_text=True)


@pytest.mark.parametrize("petition_id", ["0", "2147483648", "99999999999999999999999", "-1", "x"])
def test_impossible_ids_are_404_problems(client, petition_id):
    for suffix in ("", "/timeseries", "/countries.csv"):
        assert_problem(client.get(f"{API}/petitions/{petition_id}{suffix}"), 404)


def test_unknown_api_paths_and_methods_are_problems(client):
    assert_problem(client.get(f"{API}/nothing-here"), 404)
    assert_problem(client.post(f"{API}/petitions"), 405)
    assert_problem(client.delete(f"{API}/petitions/1"), 405)


# --- removed signatures -------------------------------------------------------------------------


def test_removed_signatures_leave_the_total_and_are_counted(client, app, petition, runner):
    kept = [sign(app, petition, f"kept{n}@example.kg") for n in range(3)]
    fraud = [sign(app, petition, f"fraud{n}@example.kz", country="KZ") for n in range(2)]
    regret = sign(app, petition, "regret@example.kg")
    before = detail(client, petition)["signature_count"]
    assert before == 6

    result = runner.invoke(
        args=["signatures", "remove", str(petition), *map(str, fraud), "--as", "invalidated"]
    )
    assert result.exit_code == 0, result.output
    assert "2 signature(s) invalidated" in result.output
    result = runner.invoke(
        args=["signatures", "remove", str(petition), str(regret), "--as", "withdrawn"]
    )
    assert result.exit_code == 0 and "1 signature(s) withdrawn" in result.output

    body = detail(client, petition)
    assert body["signature_count"] == before - 3 == len(kept)
    assert body["signatures_removed"] == {"invalidated": 2, "withdrawn": 1, "total": 3}
    assert body["signatures_by_country"] == [{"code": "KG", "name": "Kyrgyzstan", "count": 3}]
    assert client.get(f"/petitions/{petition}/count.json").get_json()["signature_count"] == 3
    [row] = csv_rows(client.get(f"{API}/petitions.csv"))
    assert row["signature_count"] == "3" and row["signatures_removed"] == "3"

    # Removing the same signatures again (or as the other kind) removes nothing more.
    again = runner.invoke(
        args=["signatures", "remove", str(petition), *map(str, fraud), "--as", "withdrawn"]
    )
    assert again.exit_code == 0 and again.output.startswith("0 signature(s)")
    body = detail(client, petition)
    assert body["signature_count"] == 3
    assert body["signatures_removed"] == {"invalidated": 2, "withdrawn": 1, "total": 3}


def test_only_confirmed_signatures_of_the_petition_are_removed(client, app, make_petition, runner):
    mine = make_petition()
    other = make_petition(title="Another")
    theirs = sign(app, other, "theirs@example.kg")
    sign(app, mine, "mine@example.kg")
    result = runner.invoke(
        args=["signatures", "remove", str(mine), str(theirs), "424242", "--as", "invalidated"]
    )
    assert result.exit_code == 0 and result.output.startswith("0 signature(s)")
    assert detail(client, mine)["signature_count"] == 1
    assert detail(client, other)["signature_count"] == 1
    assert runner.invoke(args=["signatures", "remove", "4242", "1", "--as", "withdrawn"]).exit_code
    assert runner.invoke(args=["signatures", "remove", str(mine), "1", "--as", "lost"]).exit_code


# --- CORS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/petitions", "/api/v1/petitions.csv", "/api/v1/petitions/{id}", "count.json"]
)
def test_any_site_may_read_public_data(client, petition, path):
    url = f"/petitions/{petition}/count.json" if path == "count.json" else path.format(id=petition)
    response = client.get(url, headers={"Origin": "https://news.example.com"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Last-Modified", "Link"} <= exposed
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_problems_are_readable_cross_origin_too(client):
    response = client.get(f"{API}/petitions?per_page=500", headers={"Origin": "https://x.test"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_preflight(client, petition):
    response = client.options(
        f"{API}/petitions/{petition}",
        headers={
            "Origin": "https://news.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "if-none-match" in allowed and "if-modified-since" in allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_pages_are_not_opened_to_other_sites(client, petition):
    response = client.get(f"/petitions/{petition}", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in response.headers


# --- caching ----------------------------------------------------------------------------------


def cache_directives(response) -> dict[str, str | None]:
    directives = {}
    for part in response.headers["Cache-Control"].split(","):
        name, _, value = part.strip().partition("=")
        directives[name] = value or None
    return directives


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/",
        "/api/v1/petitions",
        "/api/v1/petitions/{id}",
        "/api/v1/petitions/{id}/timeseries",
        "/api/v1/petitions/{id}/countries.csv",
        "/api/v1/snapshots",
    ],
)
def test_answers_are_cacheable_and_revalidate(client, app, petition, path):
    sign(app, petition, "cache@example.kg")
    url = path.format(id=petition)
    response = client.get(url)
    assert response.status_code == 200
    directives = cache_directives(response)
    assert "public" in directives
    assert int(directives["max-age"]) == app.config["API_CACHE_MAX_AGE"]
    assert int(directives["stale-while-revalidate"]) >= int(directives["max-age"])
    etag = response.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag


def test_the_streamed_export_is_cacheable_without_an_etag(client, petition):
    response = client.get(f"{API}/petitions.csv")
    assert "max-age" in cache_directives(response)
    assert "ETag" not in response.headers


def test_problems_are_not_cached(client):
    response = client.get(f"{API}/petitions/424242")
    assert cache_directives(response) == {"no-store": None}
    assert "ETag" not in response.headers


def test_if_modified_since_on_the_detail(client, app, petition):
    sign(app, petition, "first@example.kg")
    response = client.get(f"{API}/petitions/{petition}")
    last_modified = response.headers["Last-Modified"]
    unchanged = client.get(
        f"{API}/petitions/{petition}", headers={"If-Modified-Since": last_modified}
    )
    assert unchanged.status_code == 304
    earlier = client.get(
        f"{API}/petitions/{petition}",
        headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    )
    assert earlier.status_code == 200


def test_a_new_empty_hour_makes_the_open_series_newer(client, app, petition):
    """Nobody signed for three hours: the hourly series still gained three zero hours, so a
    client revalidating with the time of the last signature must not get a 304."""
    signed = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    # Read at a fixed moment (petitions/clock.py), so the test does not depend on when in the
    # hour it runs.
    app.extensions["clock"] = lambda: signed + timedelta(hours=3, minutes=30)
    with app.app_context():
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition)
            .values(created_at=signed - timedelta(hours=2), opened_at=signed - timedelta(hours=1))
        )
        db.session.commit()
    sign(app, petition, "first@example.kg", confirmed_at=signed + timedelta(minutes=10))
    response = client.get(f"{API}/petitions/{petition}/timeseries?interval=hour")
    points = response.get_json()["points"]
    assert [p["count"] for p in points] == [1, 0, 0, 0]
    assert response.headers["Last-Modified"] == http_date(
        datetime.fromisoformat(points[-1]["start"].replace("Z", "+00:00"))
    )
    stale = client.get(
        f"{API}/petitions/{petition}/timeseries?interval=hour",
        headers={"If-Modified-Since": http_date(signed + timedelta(minutes=10))},
    )
    assert stale.status_code == 200


def test_a_new_signature_changes_the_validators(client, app, petition):
    earlier = utcnow() - timedelta(minutes=5)
    set_petition(app, petition, created_at=earlier, opened_at=earlier)
    sign(app, petition, "first@example.kg", confirmed_at=earlier)
    url = f"{API}/petitions/{petition}"
    paths = ("", "/timeseries", "/timeseries.csv", "/countries.csv", "/regions.csv")
    before = {path: client.get(url + path) for path in paths}
    sign(app, petition, "second@example.kg")
    for path, old in before.items():
        response = client.get(url + path, headers={"If-None-Match": old.headers["ETag"]})
        assert response.status_code == 200, path
        assert response.headers["ETag"] != old.headers["ETag"], path
        assert response.last_modified > old.last_modified, path
    assert client.get(url).get_json()["signature_count"] == 2


def test_the_etag_stands_for_the_numbers_not_the_moment_they_were_read(client, app, petition):
    """computed_at changes with every read (no memo in tests), the ETag only with the data."""
    sign(app, petition, "first@example.kg")
    moment = [utcnow()]
    app.extensions["clock"] = lambda: moment[0]
    for path in ("", "/timeseries"):
        url = f"{API}/petitions/{petition}{path}"
        first = client.get(url)
        read_at = first.get_json()["computed_at"]
        moment[0] += timedelta(seconds=5)
        later = client.get(url)
        assert later.get_json()["computed_at"] != read_at
        assert later.headers["ETag"] == first.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


# --- daily snapshots --------------------------------------------------------------------------


def snapshot_days(client) -> list[dict]:
    response = client.get(f"{API}/snapshots")
    assert response.status_code == 200
    return response.get_json()["data"]


def test_the_snapshot_command_records_each_day_once(
    client, app, make_petition, make_queued_petition, make_user, runner
):
    open_id = make_petition(title="=SUM(A1:A9)")
    sign(app, open_id, "s1@example.kg")
    sign(app, open_id, "s2@example.kg")
    make_petition(state="draft", title="Draft")
    closed_id = make_petition(title="Closed")
    sign(app, closed_id, "s3@example.kg")
    assert runner.invoke(args=["petition", "close", str(closed_id)]).exit_code == 0
    reject(app, make_queued_petition, make_user, reason="other", note="No.")
    assert snapshot_days(client) == []

    first = runner.invoke(args=["opendata", "snapshot"])
    assert first.exit_code == 0 and "2 petition(s)" in first.output
    sign(app, open_id, "s4@example.kg")
    second = runner.invoke(args=["opendata", "snapshot"])
    assert second.exit_code == 0 and "already recorded" in second.output

    today = utcnow().date().isoformat()
    days = snapshot_days(client)
    assert days == [
        {
            "day": today,
            "petitions": 2,
            "csv": f"http://localhost/api/v1/snapshots/{today}.csv",
        }
    ]
    response = client.get(days[0]["csv"])
    assert response.mimetype == "text/csv"
    rows = csv_rows(response)
    assert [(r["petition_id"], r["state"], r["signature_count"]) for r in rows] == [
        (str(open_id), "open", "2"),  # as recorded, not the 3 it has now
        (str(closed_id), "closed", "1"),
    ]
    assert rows[0]["title"] == "'=SUM(A1:A9)", "formula cells are defused"
    assert all(r["day"] == today and r["signatures_removed"] == "0" for r in rows)
    assert all(RFC3339.match(r["recorded_at"]) for r in rows)


def test_a_petition_hidden_since_leaves_the_snapshot(client, app, make_petition, make_user, runner):
    kept = make_petition(title="Kept")
    gone = make_petition(title="Gone")
    runner.invoke(args=["opendata", "snapshot"])
    hide(app, make_user, gone)
    rows = csv_rows(client.get(f"{API}/snapshots/{utcnow().date().isoformat()}.csv"))
    assert [int(r["petition_id"]) for r in rows] == [kept]
    assert snapshot_days(client)[0]["petitions"] == 1


def test_the_worker_records_the_snapshot(client, app, make_petition):
    petition_id = make_petition()
    sign(app, petition_id, "w@example.kg")
    with app.app_context():
        housekeeping(db.session, app.config, now=utcnow())
        housekeeping(db.session, app.config, now=utcnow())
        recorded = db.session.scalar(select(func.count()).select_from(DailyCount))
        db.session.remove()
    assert recorded == 1
    [row] = csv_rows(client.get(f"{API}/snapshots/{utcnow().date().isoformat()}.csv"))
    assert row["petition_id"] == str(petition_id) and row["signature_count"] == "1"


def test_nothing_to_record_records_nothing(client, runner, app):
    result = runner.invoke(args=["opendata", "snapshot"])
    assert result.exit_code == 0 and "already recorded (or no petition is public)" in result.output
    assert snapshot_days(client) == []


# --- regions ----------------------------------------------------------------------------------


def test_only_recognised_regions_are_published(client, app, petition):
    for n, region in enumerate(["Chüy", "chuy region", "KG-C", "  CHÜY  "]):
        sign(app, petition, f"chuy{n}@example.kg", region=region)
    sign(app, petition, "osh@example.kg", region="Osh")
    sign(app, petition, "street@example.kg", region="ул. Ленина 5, кв. 3")
    sign(app, petition, "name@example.kg", region="Aibek Asanov")
    sign(app, petition, "none@example.kg", region=None)
    sign(app, petition, "kz@example.kz", country="KZ", region="Chüy")

    response = client.get(f"{API}/petitions/{petition}")
    assert response.get_json()["signatures_by_region"] == [
        {"country": "KG", "code": "KG-C", "name": "Chüy", "count": 4},
        {"country": "KG", "code": None, "name": None, "count": 3},
        {"country": "KG", "code": "KG-O", "name": "Osh", "count": 1},
        {"country": "KZ", "code": None, "name": None, "count": 1},
    ]
    exported = client.get(f"{API}/petitions/{petition}/regions.csv")
    assert [
        (r["country_code"], r["region_code"], r["region_name"], r["signatures"])
        for r in csv_rows(exported)
    ] == [
        ("KG", "KG-C", "Chüy", "4"),
        ("KG", "", "", "3"),
        ("KG", "KG-O", "Osh", "1"),
        ("KZ", "", "", "1"),
    ]
    for text in (response.get_data(as_text=True), exported.get_data(as_text=True)):
        for typed in ("Ленина", "Aibek", "Asanov", "chuy region"):
            assert typed not in text
