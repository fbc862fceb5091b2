"""The sign form's proof of work in a real browser: with JavaScript, static/pow.js solves the
challenge and the signature counts once confirmed; without JavaScript the person still signs
and confirms, and the signature waits for a moderator instead of counting.

Both follow the confirmation mail from the real SMTP server, as a signer would.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.mail import confirm_link

#: Small, so the browser solves it at once (2**10 hashes on average).
BITS = 10


@pytest.fixture
def proof_on(live_server, monkeypatch):
    """The runtime settings' defaults, read per request by the live server."""
    monkeypatch.setitem(live_server.app.config, "PROOF_OF_WORK", True)
    monkeypatch.setitem(live_server.app.config, "PROOF_OF_WORK_BITS", BITS)


def sign_and_confirm(page: Page, petition_id: int, email: str, mailbox, deliver) -> None:
    """Fill the sign form as a person does, then open the emailed link and confirm."""
    page.goto(f"/petitions/{petition_id}")
    form = page.locator("form[data-pow]")
    form.locator("input[name=name]").fill("Aigerim Sadykova")
    form.locator("input[name=email]").fill(email)
    form.locator("select[name=country]").select_option("KG")
    form.locator("input[name=consent]").check()
    form.get_by_role("button", name="Sign").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    deliver()
    link = urlsplit(confirm_link(mailbox.last_to(email)))
    page.goto(link.path)
    page.get_by_role("button", name="Confirm my signature").click()
    expect(page.get_by_role("heading", name="Your signature is confirmed")).to_be_visible()


def count(page: Page, petition_id: int) -> int:
    return page.request.get(f"/petitions/{petition_id}/count.json").json()["signature_count"]


def test_with_javascript_the_proof_is_solved_and_the_signature_counts(
    make_petition, proof_on, page, mailbox, deliver
):
    petition = make_petition()
    sign_and_confirm(page, petition, "aigerim@example.kg", mailbox, deliver)

    assert count(page, petition) == 1


def test_without_javascript_a_person_signs_and_waits_for_review(
    make_petition, proof_on, page_without_javascript, mailbox, deliver
):
    page = page_without_javascript
    petition = make_petition()
    sign_and_confirm(page, petition, "nojs@example.kg", mailbox, deliver)

    assert count(page, petition) == 0
    page.goto(f"/petitions/{petition}")
    expect(page.locator("[data-held]")).to_contain_text("1 signature awaits review")
