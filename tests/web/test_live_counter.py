"""The live counter: a petition's total as server-sent events, which end by themselves and are
capped per process (503, so the page polls count.json), and the page markup live.js reads.

The streams here run on a clock that moves on when a stream waits, so they last the real
LIVE_STREAM_SECONDS (30 s) without the tests waiting for it.
"""

from __future__ import annotations

import html as html_module
import json
import re
from collections.abc import Iterator

import pytest

from petitions.public.live import RECONNECT_MS, stream_slots


class SteppingClock:
    """A stream's clock (live.Clock) on which waiting takes no time: sleep() moves it on."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float, /) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(app) -> SteppingClock:
    clock = SteppingClock()
    app.extensions["live_clock"] = clock
    return clock


def stream_url(petition_id: int) -> str:
    return f"/petitions/{petition_id}/count/stream"


def messages(response) -> Iterator[dict[str, str]]:
    """The stream's messages as they arrive: {"event": ..., "data": ...}, {"retry": ...}, or
    {"comment": ...} (what EventSource reads, parsed the same way)."""
    buffer = ""
    for chunk in response.iter_encoded():
        buffer += chunk.decode("utf-8")
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            message: dict[str, str] = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    message["comment"] = line[1:].strip()
                else:
                    name, _, value = line.partition(":")
                    message[name] = value.removeprefix(" ")
            yield message
    assert buffer == "", f"the stream ended inside a message: {buffer!r}"


def next_count(stream: Iterator[dict[str, str]]) -> dict:
    for message in stream:
        if message.get("event") == "count":
            return json.loads(message["data"])
    raise AssertionError("the stream ended without another count event")


def test_the_first_event_has_the_count_and_a_confirmation_sends_the_new_one(
    client, petition, signer
):
    signer.sign_and_confirm(petition, "first@example.org")
    with client.get(stream_url(petition), buffered=False) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Accel-Buffering"] == "no"
        stream = messages(response)
        assert next(stream) == {"retry": str(RECONNECT_MS)}, "retry: comes first"
        assert next(stream) == {
            "event": "count",
            "data": json.dumps(
                {"petition_id": petition, "state": "open", "signature_count": 1},
                separators=(",", ":"),
            ),
        }

        signer.sign_and_confirm(petition, "second@example.org")
        assert next_count(stream) == {
            "petition_id": petition,
            "state": "open",
            "signature_count": 2,
        }


def test_a_signature_not_yet_confirmed_sends_nothing(client, petition, signer):
    with client.get(stream_url(petition), buffered=False) as response:
        stream = messages(response)
        assert next_count(stream)["signature_count"] == 0
        assert signer.sign(petition, "pending@example.org").status_code == 303
        rest = list(stream)
    assert [m for m in rest if "event" in m] == []


def test_the_stream_ends_by_itself_with_heartbeats_and_frees_its_slot(app, client, petition, clock):
    with client.get(stream_url(petition), buffered=False) as response:
        assert stream_slots(app).open == 1
        received = list(messages(response))
    assert clock.now == app.config["LIVE_STREAM_SECONDS"], "it ended after LIVE_STREAM_SECONDS"
    assert received[0] == {"retry": str(RECONNECT_MS)}
    assert [m["event"] for m in received if "event" in m] == ["count"], "one event, no change"
    assert {"comment": "heartbeat"} in received
    assert stream_slots(app).open == 0


def test_a_closing_petition_sends_its_state_and_ends_the_stream(client, runner, petition):
    with client.get(stream_url(petition), buffered=False) as response:
        stream = messages(response)
        assert next_count(stream)["state"] == "open"
        result = runner.invoke(args=["petition", "close", str(petition)])
        assert result.exit_code == 0, result.output
        assert next_count(stream)["state"] == "closed"
        assert list(stream) == [], "nothing follows once the petition is closed"


def test_a_closed_petition_streams_one_event(client, make_petition):
    closed = make_petition(state="closed")
    with client.get(stream_url(closed), buffered=False) as response:
        received = list(messages(response))
    assert [json.loads(m["data"])["state"] for m in received if "event" in m] == ["closed"]


def test_past_the_cap_streams_get_503_problem_json_and_a_slot_frees_on_close(app, client, petition):
    app.config["LIVE_MAX_STREAMS"] = 1
    with client.get(stream_url(petition), buffered=False) as first:
        assert first.status_code == 200
        refused = client.get(stream_url(petition))
        assert refused.status_code == 503
        assert refused.mimetype == "application/problem+json"
        assert refused.headers["Retry-After"] == str(app.config["LIVE_STREAM_SECONDS"])
        problem = refused.get_json()
        assert problem["status"] == 503
        assert problem["title"] and problem["detail"]
    # Closing the first response (the reader left) gives its slot back at once.
    with client.get(stream_url(petition), buffered=False) as again:
        assert again.status_code == 200


def test_a_cap_of_zero_refuses_every_stream(app, client, petition):
    app.config["LIVE_MAX_STREAMS"] = 0
    assert client.get(stream_url(petition)).status_code == 503
    assert stream_slots(app).open == 0
    # count.json, the fallback, still answers.
    assert client.get(f"/petitions/{petition}/count.json").status_code == 200


@pytest.mark.parametrize("kind", ["unknown", "too large", "draft", "hidden", "rejected"])
def test_no_stream_for_petitions_without_a_public_count(app, client, make_petition, moderate, kind):
    petition_id = {
        "unknown": lambda: 424242,
        "too large": lambda: 2**63,
        "draft": lambda: make_petition(state="draft"),
        "hidden": lambda: moderate("hidden", make_petition()),
        "rejected": lambda: moderate("rejected"),
    }[kind]()
    assert client.get(stream_url(petition_id)).status_code == 404
    assert stream_slots(app).open == 0


def live_attributes(html: str) -> dict[str, str]:
    section = re.search(r'<section class="total"[^>]*>', html)
    assert section, "no total section"
    found = re.findall(r"(data-live-[a-z]+)=(?:\"([^\"]*)\"|'([^']*)')", section.group(0))
    return {name: html_module.unescape(double or single) for name, double, single in found}


def test_the_open_petition_page_carries_what_live_js_needs(client, petition):
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    attributes = live_attributes(html)
    assert attributes["data-live-count"] == f"/petitions/{petition}/count.json"
    assert attributes["data-live-stream"] == f"/petitions/{petition}/count/stream"
    assert attributes["data-live-poll"] == "10"
    assert json.loads(attributes["data-live-words"]) == {"one": "signature", "other": "signatures"}
    assert re.search(r'<script src="/static/live\.[0-9a-f]{10}\.js" defer></script>', html)
    # The number itself is on the page without JavaScript.
    assert "<strong data-count>0</strong>" in html
    assert "<span data-count-label>signatures</span>" in html


@pytest.mark.parametrize(
    ("lang", "group"), [("", ","), ("/ru", "\u00a0"), ("/ky", "\u00a0"), ("/id", ".")]
)
def test_the_page_tells_live_js_how_its_language_groups_digits(client, petition, lang, group):
    html = client.get(f"{lang}/petitions/{petition}").get_data(as_text=True)
    attributes = live_attributes(html)
    assert (attributes["data-live-group"], attributes["data-live-grouping"]) == (group, "3,3")


def test_poll_interval_comes_from_the_setting(app, client, petition):
    app.config["LIVE_POLL_SECONDS"] = 25
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert live_attributes(html)["data-live-poll"] == "25"


def test_a_closed_petition_page_has_no_live_counter(client, make_petition):
    html = client.get(f"/petitions/{make_petition(state='closed')}").get_data(as_text=True)
    assert live_attributes(html) == {}
    assert "live.js" not in html
    assert "<strong data-count>0</strong>" in html


def test_live_js_is_served_from_this_site(client):
    response = client.get("/static/live.js")
    assert response.status_code == 200
    assert "javascript" in response.mimetype
    script = response.get_data(as_text=True)
    assert "EventSource" in script and "Intl.NumberFormat" in script
    response.close()
