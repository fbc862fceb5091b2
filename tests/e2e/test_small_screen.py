"""On a phone 360 CSS pixels wide, the petition page and its sign form fit the screen: nothing
makes the reader scroll sideways (WCAG 1.4.10 Reflow), in English and in Kyrgyz, whose words
are longer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

WIDTH = 360


@pytest.fixture
def phone(browser, live_server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": WIDTH, "height": 740}, is_mobile=True
    )
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def long_petition(make_petition, make_signature) -> int:
    """Long words, long text, and the chart and tables that signatures bring."""
    petition = make_petition(
        goal=100_000,
        title="Build a footbridge over the Ak-Buura river for the children of Osh",
        addressee="Osh city council and the Ministry of Transport and Communications",
        background="Children cross the road to reach school every morning.\n\n" * 8,
    )
    make_signature(
        petition,
        None,
        counted=True,
        count=9,
        country=lambda n: ("KG", "RU", "KZ")[n % 3],
        region=lambda n: "Chüy" if n % 3 == 0 else None,
    )
    return petition


def scroll_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("prefix", ["", "/ky"], ids=["en", "ky"])
def test_the_petition_page_fits_a_360_pixel_screen(phone, long_petition, prefix):
    phone.goto(f"{prefix}/petitions/{long_petition}")
    expect(phone.locator("#sign form")).to_be_visible()

    assert scroll_width(phone) <= WIDTH


@pytest.mark.parametrize("prefix", ["", "/ky"], ids=["en", "ky"])
def test_the_sign_form_with_errors_fits_a_360_pixel_screen(phone, long_petition, prefix):
    phone.goto(f"{prefix}/petitions/{long_petition}")
    phone.locator("#sign form button[type=submit]").click()
    expect(phone.locator(".error-summary a").first).to_be_visible()

    assert scroll_width(phone) <= WIDTH
