"""Absolute links that leave the site in emails, written in one place.

Emails are rendered by the worker, outside any request, so their links cannot come from
`url_for`; they are built here from PUBLIC_BASE_URL (no trailing slash). The paths are the
routes of the blueprints; tests/web/test_links.py checks that each one resolves to its view.
"""

from __future__ import annotations

from .tokens import make_confirmation_token, make_sponsor_token, make_unsubscribe_token


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
