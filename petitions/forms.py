"""Form helpers shared by every blueprint: clean text fields that refuse what we cannot store."""

from __future__ import annotations

import secrets
from typing import IO
from urllib.parse import parse_qsl

from flask import Request, current_app
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from werkzeug.formparser import FormDataParser
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Regexp, ValidationError

from .emailaddr import InvalidEmail, validate_address
from .text import bad_character, normalise


class _FormParser(FormDataParser):
    """Decode url-encoded bodies as multipart ones are: bytes that are not UTF-8 become U+FFFD.

    Werkzeug 3 keeps them as literal `%FF` text instead, which would pass every check and be
    stored as if the signer had typed it; U+FFFD is refused by `CleanText` with a clear message.
    """

    def _parse_urlencoded(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict
    ) -> tuple[IO[bytes], MultiDict, MultiDict]:
        items = parse_qsl(
            stream.read().decode("utf-8", "replace"), keep_blank_values=True, errors="replace"
        )
        return stream, self.cls(items), self.cls()


class FormRequest(Request):
    """The app's request class (set in `create_app()`), for `_FormParser`."""

    form_data_parser_class = _FormParser


TOO_LONG = _l("Please use at most %(max)d characters.")
FORM_EXPIRED = _l("This form has expired; please send it again.")

#: What `new_one_time_key()` makes: 32 random bytes, URL-safe base64 (43 characters).
ONE_TIME_KEY_PATTERN = r"^[A-Za-z0-9_-]{43}$"


def new_one_time_key() -> str:
    return secrets.token_urlsafe(32)


class OneTimeKeyField(HiddenField):
    """A random key the form carries, stored uniquely with what the form creates, so the same
    form submitted twice (a double click, a resent request) creates one thing."""

    def __init__(self, *args, **kwargs):
        super().__init__(
            *args,
            validators=[
                DataRequired(FORM_EXPIRED),
                Regexp(ONE_TIME_KEY_PATTERN, message=FORM_EXPIRED),
            ],
            **kwargs,
        )

    def renew(self) -> None:
        """A fresh key: for a new form, or one whose submission was refused."""
        self.data = new_one_time_key()

    def renew_if_invalid(self) -> None:
        if self.errors:
            self.renew()


def checked_email(address: str) -> str:
    """The address as we will write to it, or a ValidationError saying why we cannot."""
    try:
        return validate_address(
            address, check_deliverability=current_app.config["EMAIL_CHECK_DELIVERABILITY"]
        )
    except InvalidEmail as exc:
        raise ValidationError(
            _l(
                "This does not look like an email address we can write to: %(reason)s",
                reason=str(exc),
            )
        ) from exc


class CleanText:
    """Validator: no control characters, surrogates or undecodable bytes."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form, field) -> None:
        if field.data and bad_character(field.data, multiline=self.multiline):
            raise ValidationError(
                _l(
                    "This field contains characters we cannot accept (line breaks, control "
                    "or invalid ones)."
                )
            )


def _single_line(value):
    return normalise(value) if isinstance(value, str) else value


def _multi_line(value):
    return normalise(value, multiline=True) if isinstance(value, str) else value


class LineField(StringField):
    """A single-line text input, normalised (NFC, trimmed) and checked for bad characters."""

    def __init__(self, *args, validators=(), filters=(), **kwargs):
        super().__init__(
            *args,
            validators=[*validators, CleanText()],
            filters=[_single_line, *filters],
            **kwargs,
        )


class ParagraphsField(TextAreaField):
    def __init__(self, *args, validators=(), filters=(), **kwargs):
        super().__init__(
            *args,
            validators=[*validators, CleanText(multiline=True)],
            filters=[_multi_line, *filters],
            **kwargs,
        )
