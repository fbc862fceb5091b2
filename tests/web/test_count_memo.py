"""count.json under a crowd: each process remembers a total for COUNT_MEMO_SECONDS, so readers
may see it up to that late (documented), and then see the exact new total."""

import pytest

from petitions.memo import Memo
from petitions.services.counts import PublicTotal


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app):
    """Turn the memo on, with a clock the test moves by hand."""
    fake = FakeClock()
    app.extensions["petition_totals"] = Memo(ttl=1.0, clock=fake)
    return fake


def test_readers_see_the_new_total_once_the_memo_expires(client, petition, signer, clock):
    first = client.get(f"/petitions/{petition}/count.json").get_json()
    assert first["signature_count"] == 0

    signer.sign_and_confirm(petition, "a@example.org")
    within = client.get(f"/petitions/{petition}/count.json").get_json()
    assert within == first, "inside the memo's second readers share one computed total"

    clock.now += 1.01
    after = client.get(f"/petitions/{petition}/count.json").get_json()
    assert after["signature_count"] == 1
    # The page shows the same memoised total, so it never shows more than live.js's next poll.
    assert "<strong data-count>1</strong>" in client.get(f"/petitions/{petition}").get_data(
        as_text=True
    )


def test_unknown_and_draft_petitions_are_not_remembered(client, make_petition, clock, app):
    draft = make_petition(state="draft")
    assert client.get(f"/petitions/{draft}/count.json").status_code == 404
    assert client.get("/petitions/424242/count.json").status_code == 404
    assert len(app.extensions["petition_totals"]) == 0


def test_memo_with_ttl_zero_always_loads():
    loads = []

    def load():
        loads.append(1)
        return PublicTotal(1, "open", len(loads), None)

    memo = Memo(ttl=0)
    assert memo.get(1, load).signature_count == 1
    assert memo.get(1, load).signature_count == 2
