"""Emailed links (petitions/links.py) are built outside requests; each must reach its view."""

import pytest

from petitions import links

BASE = "http://localhost"
SECRET = "test-secret-key-not-for-production"


@pytest.mark.parametrize(
    ("link", "endpoint"),
    [
        (links.petition(BASE, 7), "public.petition"),
        (links.sponsor(BASE, 7, SECRET), "sponsors.sponsor"),
        (links.confirmation(BASE, 3, "a" * 64, SECRET), "signing.confirm"),
        (links.unsubscribe(BASE, 3, "a" * 64, SECRET), "unsubscribe.confirm_page"),
        (links.organiser_petition(BASE, 7), "organiser.petition"),
        (links.account(BASE, "confirm", "t0ken"), "auth.confirm"),
        (links.account(BASE, "reset", "t0ken"), "auth.reset_password"),
        (links.account(BASE, "email", "t0ken"), "auth.change_email"),
        (links.login(BASE), "auth.login"),
        (links.password_reset(BASE), "auth.reset_request"),
    ],
)
def test_each_link_resolves_to_its_view(app, link, endpoint):
    adapter = app.url_map.bind("localhost")
    found, _ = adapter.match(link.removeprefix(BASE), method="GET")
    assert found == endpoint


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ky", f"{BASE}/ky/confirm/abc"),
        ("ru", f"{BASE}/ru/confirm/abc"),
        ("en", f"{BASE}/confirm/abc"),
    ],
)
def test_a_link_in_a_language_carries_its_prefix_but_the_defaults(code, expected):
    assert links.in_language(f"{BASE}/confirm/abc", BASE, code, "en") == expected


def test_text_that_is_not_a_link_of_the_site_is_left_alone():
    other = "https://elsewhere.example/confirm/abc"
    assert links.in_language(other, BASE, "ky", "en") == other
    assert links.in_language(f"{BASE}evil.example/x", BASE, "ky", "en") == f"{BASE}evil.example/x"
