"""Property-based fuzzing of every API operation from its own OpenAPI document (schemathesis 4),
in process against the Flask app: no server errors, and every answer (status, content type,
headers, body) is what the document says; valid requests are accepted, invalid ones refused.

The schema is built from `petitions.api.openapi.document()` at collection time (one test per
operation); a test below checks that the app serves exactly that document. (Loading it from
the app in a fixture, `schemathesis.pytest.from_fixture`, does not run under pytest 9.2.)

The database holds petitions of every public kind with signatures and a snapshot, and about
half the valid requests that name a petition or a day name one of those, so answers with data
are fuzzed too, not only the 404s of ids nobody created.
"""

from datetime import timedelta

import pytest
import schemathesis
from api_helpers import API, reject, sign
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from petitions.api.openapi import document
from petitions.models import utcnow

BASE_URL = f"http://localhost{API}"

schema = schemathesis.openapi.from_dict(document(BASE_URL))


def test_the_fuzzed_document_is_the_served_one(client):
    assert client.get(f"{API}/openapi.json").get_json() == document(BASE_URL)


@pytest.fixture
def seeded(app, make_petition, make_queued_petition, make_user, runner) -> dict[str, list]:
    """Known values for path parameters: petitions of each public kind, today's snapshot."""
    now = utcnow()
    open_id = make_petition(title="Чистый воздух", goal=2)
    sign(app, open_id, "a@example.kg", region="Chüy", confirmed_at=now - timedelta(days=3))
    sign(app, open_id, "b@example.kg", region="Osh", confirmed_at=now - timedelta(hours=7))
    sign(app, open_id, "c@example.kz", country="KZ", region="Main Street 1")
    closed_id = make_petition(title="=cmd|' /C calc'!A0", addressee="@Mayor")
    sign(app, closed_id, "d@example.kg")
    assert runner.invoke(args=["petition", "close", str(closed_id)]).exit_code == 0
    rejected_id = reject(
        app, make_queued_petition, make_user, reason="offensive", note="Insults a group."
    )
    assert runner.invoke(args=["opendata", "snapshot"]).exit_code == 0
    return {
        "petition_id": [open_id, closed_id, rejected_id],
        "day": [utcnow().date().isoformat()],
    }


@schema.parametrize()
@schema.given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, data, app, seeded):
    if case.meta is not None and case.meta.generation.mode.is_positive:
        for name, known in seeded.items():
            if name in case.path_parameters:
                chosen = data.draw(st.sampled_from([None, *known]), label=name)
                if chosen is not None:
                    case.path_parameters[name] = chosen
    # count.json lives beside the petition's page (its own `servers` entry), which the WSGI
    # transport does not read: it is given the site's root instead.
    root = {"base_url": "http://localhost"} if case.path.endswith("/count.json") else {}
    response = case.call_and_validate(app=app, **root)
    assert response.status_code < 500
