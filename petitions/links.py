"""Absolute links that leave the site in emails, written in one place.

Emails are rendered by the worker, outside any request, so their links cannot come from
`url_for`; they are built here from PUBLIC_BASE_URL (no trailing slash). The paths are the
routes of the blueprints; tests/unit/test_links.py checks that each one resolves to its view.

A message's links are written for the default language (they are stored with it, like its
other values, before anyone knows in which language it will be written); `in_language()`
gives each the recipient's language prefix when the worker renders the message in that
language (emails.render, outbox), so a link in a Kyrgyz mail opens a Kyrgyz page. That one
step covers every message, the batches queued later for thousands of signers included, each
in its own recipient's language, and every language a link may be in: the language of the
text it sits in.
"""

from __future__ import annotations

from .tokens import make_confirmation_token, make_sponsor_token, make_unsubscribe_token


def in_language(url: str, base_url: str, code: str, default: str) -> str:
    """`url`, a link of this site (under `base_url`), to the page in language `code`:
    `<base>/confirm/x` becomes `<base>/ky/confirm/x`; the default language has no prefix
    (languages.path_in). Any other text is returned as it is."""
    if code == default or not url.startswith(base_url + "/"):
        return url
    return f"{base_url}/{code}{url[len(base_url) :]}"


def petition(base_url: str, petition_id: int) -> str:
    return f"{base_url}/petitions/{petition_id}"


def sponsor_path(petition_id: int, secret_key: str) -> str:
    """The path of a petition's sponsor link (unguessable: signed with its own salt)."""
    return f"/petitions/{petition_id}/sponsor/{make_sponsor_token(petition_id, secret_key)}"


def sponsor(base_url: str, petition_id: int, secret_key: str) -> str:
    return base_url + sponsor_path(petition_id, secret_key)


def confirmation(base_url: str, signature_id: int, email_key: str, secret_key: str) -> str:
    return f"{base_url}/confirm/{make_confirmation_token(signature_id, email_key, secret_key)}"


def unsubscribe(base_url: str, signature_id: int, email_key: str, secret_key: str) -> str:
    return f"{base_url}/unsubscribe/{make_unsubscribe_token(signature_id, email_key, secret_key)}"


def organiser_petition(base_url: str, petition_id: int) -> str:
    return f"{base_url}/organiser/petitions/{petition_id}"


def account(base_url: str, purpose: str, token: str) -> str:
    """An emailed account link: `purpose` is confirm, reset or email."""
    return f"{base_url}/account/{purpose}/{token}"


def login(base_url: str) -> str:
    return f"{base_url}/account/login"


def password_reset(base_url: str) -> str:
    return f"{base_url}/account/reset"
