"""Nothing public gives away who signed: no signer's name, email address (or its local part) or
free-text region appears in any answer an anonymous visitor can get, body or headers.

Signers with distinctive names, addresses and regions sign through the site and confirm by
email; one asks for updates (so the address stays stored), one withdraws. Then every GET route
in the app's URL map is fetched anonymously for every seeded petition, so a route added later
is covered without touching this test. Routes that need a token from an email or a file name
are left out; those that need a login answer with a redirect, which is checked too.
"""

import json
from datetime import timedelta

import pytest
from api_helpers import API, add_milestone, reject
from flask import url_for
from sqlalchemy import select

from petitions.emailaddr import identity_key
from petitions.extensions import db
from petitions.models import Signature, utcnow

#: (name, email, country, region); the show_name box is left unticked.
CANARIES = [
    ("Zxqvbn Privacytest", "leak-canary@example.kg", "KG", "Canary Street 17"),
    ("Qwplk Secondcanary", "second.canary+tag@example.kz", "KZ", "Flat 9, Vulture Lane"),
    ("Жзщюэ Канарейкин", "kanareyka@example.ru", "RU", "Улица Канарейки 17"),
    ("Vbnmq Withdrawer", "withdrawn-canary@example.kg", "KG", "Osh"),
]


def needles() -> list[str]:
    found = []
    for name, email, _, region in CANARIES:
        local = email.split("@")[0]
        found += [name, *name.split(), email, local, local.split("+")[0]]
        if region != "Osh":  # a recognised region is published, as its ISO name
            found += [region, region.rsplit(" ", 1)[0]]
    return [needle.casefold() for needle in found]


@pytest.fixture
def app_config(app_config):
    """Live-count streams end after their first event (the stream has tests of its own)."""
    app_config["LIVE_STREAM_SECONDS"] = 0
    return app_config


@pytest.fixture
def seeded(app, make_petition, make_queued_petition, make_user, signer, runner):
    open_id = make_petition(title="Open petition", goal=3)
    closed_id = make_petition(title="Closed petition")
    for petition_id in (open_id, closed_id):
        for n, (name, email, country, region) in enumerate(CANARIES):
            page = signer.sign_and_confirm(
                petition_id,
                email,
                name=name,
                country=country,
                region=region,
                wants_updates=n == 0,
            )
            assert page.status_code in (200, 303), page.status_code
    withdrawn = runner.invoke(
        args=["signatures", "remove", str(open_id), *signature_ids(app, open_id, CANARIES[3])]
        + ["--as", "withdrawn"]
    )
    assert withdrawn.exit_code == 0 and withdrawn.output.startswith("1 ")
    add_milestone(app, open_id, 3, utcnow() - timedelta(minutes=5), kind="goal")
    assert runner.invoke(args=["petition", "close", str(closed_id)]).exit_code == 0
    rejected_id = reject(app, make_queued_petition, make_user, reason="duplicate", note="No.")
    assert runner.invoke(args=["opendata", "snapshot"]).exit_code == 0
    return [open_id, closed_id, rejected_id]


def signature_ids(app, petition_id: int, canary) -> list[str]:
    """The ids of the signature `canary` made (found by its identity key, as the site does)."""
    with app.app_context():
        key = identity_key(canary[1], app.config["SIGNER_HASH_KEY"])
        found = db.session.scalars(
            select(Signature.id).where(
                Signature.petition_id == petition_id, Signature.email_key == key
            )
        ).all()
        db.session.remove()
    return [str(signature_id) for signature_id in found]


#: Query strings worth trying on some routes, beyond none.
VARIANTS = {
    "api.petitions": ["?state=all&per_page=100", "?sort=newest&q=petition", "?country=KZ"],
    "api.petitions_csv": ["?state=all"],
    "api.timeseries": ["?interval=hour", "?interval=day"],
    "api.timeseries_csv": ["?interval=hour"],
    "public.index": ["?sort=newest", "?page=2"],
}
#: Arguments the test can fill in; a route with any other (a token, a file) is left out.
FILLABLE = {"petition_id", "day"}


def public_urls(app, petition_ids: list[int]) -> list[str]:
    urls = []
    today = utcnow().date().isoformat()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.arguments <= FILLABLE:
            continue
        for petition_id in petition_ids if "petition_id" in rule.arguments else [None]:
            values = {"petition_id": petition_id, "day": today}
            with app.test_request_context():
                url = url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
            urls += [url] + [url + query for query in VARIANTS.get(rule.endpoint, [])]
    return sorted(set(urls))


def test_no_signer_is_identifiable_from_anything_public(app, client, seeded):
    urls = public_urls(app, seeded)
    for expected in (
        f"{API}/petitions.csv",
        f"{API}/snapshots/{utcnow().date().isoformat()}.csv",
        f"/petitions/{seeded[0]}",
        f"/petitions/{seeded[0]}/count.json",
        "/",
    ):
        assert expected in urls
    wanted = needles()
    answered = {}
    for url in urls:
        response = client.get(url)
        answered[url] = response.status_code
        assert response.status_code < 500, url
        text = response.get_data(as_text=True)
        if response.is_json:
            text += json.dumps(response.get_json(), ensure_ascii=False)
        text += "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        folded = text.casefold()
        leaked = [needle for needle in wanted if needle in folded]
        assert not leaked, (url, leaked)
    # The data is there, only not the people: the petitions' pages and numbers were served.
    for petition_id in seeded[:2]:
        assert answered[f"/petitions/{petition_id}"] == 200
        assert answered[f"{API}/petitions/{petition_id}/regions.csv"] == 200
    assert client.get(f"{API}/petitions/{seeded[0]}").get_json()["signature_count"] == 3


def test_the_breakdowns_show_only_codes_and_counts(client, seeded):
    body = client.get(f"{API}/petitions/{seeded[1]}").get_json()
    assert {(r["country"], r["code"], r["count"]) for r in body["signatures_by_region"]} == {
        ("KG", None, 1),
        ("KG", "KG-O", 1),
        ("KZ", None, 1),
        ("RU", None, 1),
    }
    assert [(c["code"], c["count"]) for c in body["signatures_by_country"]] == [
        ("KG", 2),
        ("KZ", 1),
        ("RU", 1),
    ]
