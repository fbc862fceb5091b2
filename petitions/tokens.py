"""Signed, expiring tokens for the links we email.

Tokens are signed with SECRET_KEY (itsdangerous), so they cannot be guessed or altered, and
they carry their creation time, so they expire without a database lookup. An expired token
still tells us which signature it was for, which lets the page offer a fresh link.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

CONFIRM_SALT = "signature-confirmation"


class TokenState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True)
class ConfirmationClaim:
    state: TokenState
    signature_id: int | None = None
    #: First characters of the signature's email_key, so a token never fits another row.
    key_prefix: str | None = None


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=CONFIRM_SALT)


def make_confirmation_token(signature_id: int, email_key: str, secret: str) -> str:
    return _serializer(secret).dumps([signature_id, email_key[:16]])


def _parse(payload) -> tuple[int, str] | None:
    if (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
    ):
        return payload[0], payload[1]
    return None


def read_confirmation_token(token: str, secret: str, max_age: int) -> ConfirmationClaim:
    """Decode a token; never raises for bad input."""
    serializer = _serializer(secret)
    try:
        parsed = _parse(serializer.loads(token, max_age=max_age))
        state = TokenState.VALID
    except SignatureExpired as exc:
        try:
            parsed = _parse(serializer.load_payload(exc.payload))
        except BadSignature:
            parsed = None
        state = TokenState.EXPIRED
    except (BadSignature, UnicodeError, ValueError):
        return ConfirmationClaim(TokenState.INVALID)
    if parsed is None:
        return ConfirmationClaim(TokenState.INVALID)
    return ConfirmationClaim(state, parsed[0], parsed[1])


# --- sponsor share links ------------------------------------------------------------------------

SPONSOR_SALT = "petition-sponsor-link"


def make_sponsor_token(petition_id: int, secret: str) -> str:
    """The unguessable part of a petition's sponsor link; it does not expire (the petition's
    state decides whether the link still collects sponsors)."""
    return URLSafeSerializer(secret, salt=SPONSOR_SALT).dumps(petition_id)


def read_sponsor_token(token: str, secret: str) -> int | None:
    """The petition id a sponsor token was made for, or None if it was altered; never raises."""
    try:
        payload = URLSafeSerializer(secret, salt=SPONSOR_SALT).loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if isinstance(payload, int) and not isinstance(payload, bool):
        return payload
    return None


# --- unsubscribe links ----------------------------------------------------------------------------

UNSUBSCRIBE_SALT = "signer-unsubscribe"


def make_unsubscribe_token(signature_id: int, email_key: str, secret: str) -> str:
    """The token of a signer's one-click unsubscribe link. It does not expire (people click
    the link in an email years old); it names the signature and, like a confirmation token,
    carries the start of its email_key so it never fits another row."""
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps([signature_id, email_key[:16]])


def read_unsubscribe_token(token: str, secret: str) -> tuple[int, str] | None:
    """(signature id, email_key prefix), or None if the token was altered; never raises."""
    try:
        payload = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    parsed = _parse(payload)
    if parsed is None or isinstance(payload[0], bool):
        return None
    return parsed


SERVED_SALT = "sign-form-served"


def make_served_token(petition_id: int, now_ms: int, secret: str) -> str:
    """The sign form's hidden "served at": the petition and the moment (ms) the page was made,
    signed, so the time a form took to come back cannot be claimed by whoever posts it."""
    return URLSafeSerializer(secret, salt=SERVED_SALT).dumps([petition_id, now_ms])


def read_served_token(token: str | None, secret: str, petition_id: int) -> int | None:
    """When the form was served (ms), or None for a missing, altered or other petition's
    token; never raises."""
    if not token or not isinstance(token, str):
        return None
    try:
        payload = URLSafeSerializer(secret, salt=SERVED_SALT).loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or payload[0] != petition_id
        or isinstance(payload[1], bool)
        or not isinstance(payload[1], int)
    ):
        return None
    return payload[1]
