"""A newcomer finds how to start a petition: a call to action on the home page and a link in
every page's header, both to the organiser's new-petition form, which asks an anonymous
visitor to log in first (and the login page offers to sign up)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

NEW_PETITION = "/organiser/petitions/new"


def _start_section(html: str) -> str:
    match = re.search(r'<section class="start".*?</section>', html, re.S)
    assert match, "no call to action on the page"
    return match.group(0)


def test_the_home_page_invites_to_start_a_petition(client):
    section = _start_section(client.get("/").get_data(as_text=True))
    assert f'<a class="button" href="{NEW_PETITION}">Start a petition</a>' in section


def test_the_home_page_says_that_starting_one_needs_an_account(client):
    section = _start_section(client.get("/").get_data(as_text=True))
    assert "You need an account to start one" in section


def test_the_header_of_every_page_links_to_start_a_petition(client, petition):
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    header = re.search(r'<header class="site">.*?</header>', html, re.S).group(0)
    assert f'<a href="{NEW_PETITION}">Start a petition</a>' in header


def test_an_anonymous_visitor_is_asked_to_log_in_and_come_back(client):
    response = client.get(NEW_PETITION)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.query) == (
        "/account/login",
        "next=%2Forganiser%2Fpetitions%2Fnew",
    )


def test_the_login_page_offers_to_sign_up(client):
    login = client.get(NEW_PETITION, follow_redirects=True).get_data(as_text=True)
    assert '<a href="/account/signup">Sign up</a>' in login


def test_a_logged_in_organiser_gets_the_form(organiser, client):
    page = client.get("/").get_data(as_text=True)
    href = re.search(r'<a class="button" href="([^"]+)">Start a petition</a>', page).group(1)
    form = client.get(href)
    assert form.status_code == 200
    assert 'name="title"' in form.get_data(as_text=True)
