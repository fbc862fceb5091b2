"""What assistive technology relies on in the pages' HTML (the browser tests run axe-core on
every page; these pin the details axe cannot judge): the error summary links each invalid
field, hints and errors are read with their inputs, petition text says its own language, and
every page links the accessibility statement."""

from __future__ import annotations

import html
import re

import pytest

from tests.fixtures.actors import csrf_token


def tag(page: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    match = re.search(rf'<(?:input|select|textarea)[^>]*\sid="{element_id}"[^>]*>', page)
    assert match, f"no input #{element_id}"
    return match.group(0)


def test_a_hint_is_read_with_its_input(client):
    page = client.get("/account/signup").get_data(as_text=True)

    assert 'aria-describedby="display_name-hint"' in tag(page, "display_name")
    assert 'id="display_name-hint"' in page
    assert "aria-invalid" not in tag(page, "display_name")


def test_the_error_summary_links_each_invalid_field(client):
    token = csrf_token(client.get("/account/signup").get_data(as_text=True))
    response = client.post("/account/signup", data={"csrf_token": token})
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary" role="alert">.*?</div>', page, re.S)
    assert summary, "no error summary"
    links = re.findall(r'<a href="#([\w-]+)">', summary.group(0))
    assert links == ["display_name", "email", "password", "password2", "consent"]
    for field_id in links:
        assert f'id="{field_id}"' in page, f"the summary links #{field_id}, which is not there"


def test_an_invalid_field_says_so_and_is_read_with_its_hint_and_error(client):
    token = csrf_token(client.get("/account/signup").get_data(as_text=True))
    page = client.post("/account/signup", data={"csrf_token": token}).get_data(as_text=True)

    field = tag(page, "display_name")
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="display_name-hint display_name-error"' in field
    error = re.search(r'<p class="error" id="display_name-error">([^<]+)</p>', page)
    assert error and html.unescape(error.group(1)).strip()
    assert 'aria-describedby="consent-error"' in tag(page, "consent")


def test_the_sign_form_summary_links_its_fields(client, petition):
    token = csrf_token(client.get(f"/petitions/{petition}").get_data(as_text=True))
    page = client.post(f"/petitions/{petition}/sign", data={"csrf_token": token}).get_data(
        as_text=True
    )

    assert '<a href="#name">' in page
    assert '<a href="#email">' in page
    assert 'aria-invalid="true"' in tag(page, "email")


def test_petition_text_carries_its_own_language(app, client, make_petition):
    """An English petition read on the Kyrgyz page: the page is Kyrgyz, its text English."""
    petition = make_petition(title="Light the road to Karakol", background="It is dark.")
    page = client.get(f"/ky/petitions/{petition}").get_data(as_text=True)

    assert '<html lang="ky">' in page
    assert '<h1 lang="en">Light the road to Karakol</h1>' in page
    assert re.search(r'<div[^>]* lang="en"><p>It is dark.</p>', page)


@pytest.mark.parametrize("path", ["/", "/privacy", "/accessibility", "/account/login", "/nope"])
def test_every_page_links_the_accessibility_statement(client, path):
    assert 'href="/accessibility"' in client.get(path).get_data(as_text=True)


def test_the_statement_says_the_standard_the_tests_and_how_to_report(client, app):
    app.config["ACCESSIBILITY_CONTACT"] = "access@petitions.example.kg"
    response = client.get("/accessibility")
    text = html.unescape(response.get_data(as_text=True))

    assert response.status_code == 200
    assert "WCAG) 2.2 at level AA" in text
    assert "axe-core" in text
    assert "360 pixels" in text
    assert "Known limitations" in text
    assert "access@petitions.example.kg" in text


def test_a_kyrgyz_page_links_the_statement_in_kyrgyz(client):
    assert 'href="/ky/accessibility"' in client.get("/ky/").get_data(as_text=True)
