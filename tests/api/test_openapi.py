"""The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3.1, one path per route (and no
path without a route), and real answers of every kind conform to what it says for their status
and content type; CSV downloads have exactly the columns it lists."""

import re
from datetime import timedelta

import pytest
from api_helpers import (
    API,
    add_milestone,
    assert_conforms,
    csv_header,
    reject,
    respond,
    sign,
)
from openapi_spec_validator import validate

from petitions.models import utcnow

#: Flask's `<int:petition_id>` as OpenAPI's `{petition_id}`.
PLACEHOLDER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def openapi_path(rule: str) -> str:
    path = PLACEHOLDER.sub(r"{\1}", rule)
    return path.removeprefix(API) or "/"


@pytest.fixture
def document(client) -> dict:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture
def seeded(app, make_petition, make_queued_petition, make_user, runner):
    """One petition of each public kind, with signatures, a milestone, a response and a
    snapshot of the day; returns their ids by kind."""
    now = utcnow()
    open_id = make_petition(title="Clean air in Bishkek", goal=5)
    sign(app, open_id, "a@example.kg", region="Chüy", confirmed_at=now - timedelta(days=2))
    sign(app, open_id, "b@example.kg", region="Somewhere", confirmed_at=now - timedelta(hours=5))
    sign(app, open_id, "c@example.kz", country="KZ", region=None)
    add_milestone(app, open_id, 2, now - timedelta(hours=4))
    respond(app, make_user, open_id, "The city will look into it.")
    closed_id = make_petition(title="Closed one")
    sign(app, closed_id, "d@example.kg")
    assert runner.invoke(args=["petition", "close", str(closed_id)]).exit_code == 0
    rejected_id = reject(
        app, make_queued_petition, make_user, reason="duplicate", note="See petition 1."
    )
    withheld_id = reject(
        app,
        make_queued_petition,
        make_user,
        reason="offensive",
        note="Insults a group.",
        title="Offensive title",
    )
    result = runner.invoke(args=["opendata", "snapshot"])
    assert result.exit_code == 0, result.output
    return {
        "open": open_id,
        "closed": closed_id,
        "rejected": rejected_id,
        "withheld": withheld_id,
    }


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_route_has_a_path_and_every_path_a_route(app, document):
    routes = {
        openapi_path(rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") or rule.endpoint == "public.count_json"
    }
    assert routes == set(document["paths"]), {
        "routes not documented": routes - set(document["paths"]),
        "documented paths without a route": set(document["paths"]) - routes,
    }


def test_the_servers_lead_to_the_routes(document):
    """The API's server is /api/v1; count.json's own server is the site's root."""
    assert document["servers"] == [{"url": "http://localhost/api/v1"}]
    count = document["paths"]["/petitions/{petition_id}/count.json"]
    assert count["servers"] == [{"url": "http://localhost"}]


def test_every_operation_has_an_id_and_only_get(document):
    ids = []
    for path, item in document["paths"].items():
        methods = set(item) - {"servers", "parameters"}
        assert methods == {"get"}, path
        ids.append(item["get"]["operationId"])
    assert all(ids) and len(set(ids)) == len(ids)


def _check(client, document, path: str, url: str, status: int, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    assert_conforms(document, path, response)
    return response


def test_listings_conform(client, document, seeded):
    path = "/petitions"
    for query in (
        "",
        "?state=open",
        "?state=rejected",
        "?state=closed&sort=newest",
        "?sort=closing&per_page=1&page=2",
        "?q=air&target=kenesh&country=kg",
        "?page=99",
        "?per_page=100",
    ):
        _check(client, document, path, f"{API}/petitions{query}", 200)
    for query in ("?per_page=101", "?page=0", "?state=draft", "?sort=up", "?country=KGZ"):
        response = _check(client, document, path, f"{API}/petitions{query}", 400)
        assert response.mimetype == "application/problem+json"


def test_details_of_every_public_kind_conform(client, document, seeded):
    path = "/petitions/{petition_id}"
    for kind, petition_id in seeded.items():
        body = _check(client, document, path, f"{API}/petitions/{petition_id}", 200).get_json()
        assert body["state"] == {"withheld": "rejected"}.get(kind, kind)
    _check(client, document, path, f"{API}/petitions/999999", 404)
    _check(client, document, path, f"{API}/petitions/0", 404)


def test_the_index_and_snapshots_conform(client, document, seeded):
    _check(client, document, "/", f"{API}/", 200)
    body = _check(client, document, "/snapshots", f"{API}/snapshots", 200).get_json()
    assert len(body["data"]) == 1


@pytest.mark.parametrize("interval", ["day", "hour"])
def test_time_series_conform(client, document, seeded, interval):
    path = "/petitions/{petition_id}/timeseries"
    for kind in ("open", "closed"):
        url = f"{API}/petitions/{seeded[kind]}/timeseries?interval={interval}"
        assert _check(client, document, path, url, 200).get_json()["points"]
    rejected = f"{API}/petitions/{seeded['rejected']}/timeseries"
    _check(client, document, path, rejected, 404)
    _check(client, document, path, f"{API}/petitions/{seeded['open']}/timeseries?interval=m", 400)


def test_count_json_conforms(client, document, seeded):
    path = "/petitions/{petition_id}/count.json"
    _check(client, document, path, f"/petitions/{seeded['open']}/count.json", 200)
    _check(client, document, path, f"/petitions/{seeded['rejected']}/count.json", 404)


def test_not_modified_is_documented_where_it_is_answered(client, document, seeded):
    url = f"{API}/petitions/{seeded['open']}"
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert "304" in document["paths"]["/petitions/{petition_id}"]["get"]["responses"]


def documented_columns(document: dict, path: str) -> list[str]:
    """The columns the description of a CSV answer lists ("Columns: a, b, c.")."""
    description = document["paths"][path]["get"]["responses"]["200"]["description"]
    listed = re.search(r"Columns: ([a-z_, ]+)", description).group(1)
    return [column.strip() for column in listed.split(",")]


def test_csv_downloads_are_documented_as_csv_with_their_columns(client, document, seeded):
    today = utcnow().date().isoformat()
    petition_id = seeded["open"]
    downloads = {
        "/petitions.csv": f"{API}/petitions.csv",
        "/translations.csv": f"{API}/translations.csv",
        "/petitions/{petition_id}/timeseries.csv": f"{API}/petitions/{petition_id}/timeseries.csv",
        "/petitions/{petition_id}/countries.csv": f"{API}/petitions/{petition_id}/countries.csv",
        "/petitions/{petition_id}/regions.csv": f"{API}/petitions/{petition_id}/regions.csv",
        "/petitions/{petition_id}/removals.csv": f"{API}/petitions/{petition_id}/removals.csv",
        "/snapshots/{day}.csv": f"{API}/snapshots/{today}.csv",
    }
    csv_paths = {
        path
        for path, item in document["paths"].items()
        if "text/csv" in item["get"]["responses"]["200"].get("content", {})
    }
    assert csv_paths == set(downloads)
    for path, url in downloads.items():
        response = _check(client, document, path, url, 200)
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        assert csv_header(response) == documented_columns(document, path), path


def test_csv_downloads_answer_problems_as_documented(client, document, seeded):
    rejected = seeded["rejected"]
    for path, url, status in [
        ("/petitions.csv", f"{API}/petitions.csv?state=nope", 400),
        (
            "/petitions/{petition_id}/countries.csv",
            f"{API}/petitions/{rejected}/countries.csv",
            404,
        ),
        ("/petitions/{petition_id}/regions.csv", f"{API}/petitions/4242/regions.csv", 404),
        (
            "/petitions/{petition_id}/timeseries.csv",
            f"{API}/petitions/{seeded['open']}/timeseries.csv?interval=week",
            400,
        ),
        ("/snapshots/{day}.csv", f"{API}/snapshots/2001-01-01.csv", 404),
        ("/snapshots/{day}.csv", f"{API}/snapshots/2001-02-30.csv", 404),
        ("/snapshots/{day}.csv", f"{API}/snapshots/20010101.csv", 404),
    ]:
        response = _check(client, document, path, url, status)
        assert response.mimetype == "application/problem+json"
