"""Form helpers shared by every blueprint: the base form, which reads form bodies only, and
clean text fields that refuse what we cannot store."""

from __future__ import annotations

import functools
import secrets
from typing import IO
from urllib.parse import parse_qsl

from babel import support
from flask import Request, abort, current_app, make_response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from werkzeug.formparser import FormDataParser
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.i18n import messages_path
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


#: The bodies an HTML form sends; form endpoints take no other.
FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

#: "Read the submitted form from the request", as opposed to an explicit `formdata=None`.
_FROM_REQUEST = object()


class WebForm(FlaskForm):
    """The base of every form of the app: what it reads is the request's form body, only.

    Flask-WTF's FlaskForm also takes a JSON body (`request.get_json()`) and uploaded files as
    form data. CSRF protection accepts the token in the X-CSRFToken header, so a JSON body with
    a valid token put numbers, lists, nulls and objects where every field and validator
    expects text, and sign, login or a new petition ended in a 500. No form here takes JSON or
    files: a submitted request with another kind of body gets a 415 page that says so, and the
    files of a multipart body are not form values.
    """

    class Meta:
        def get_translations(self, form):
            """WTForms' own messages in the request's language, from a catalogue read once per
            language and process: Flask-WTF reads it from disk again for every request."""
            if not current_app.config.get("WTF_I18N_ENABLED", True) or not request:
                return super().get_translations(form)
            return _wtforms_catalogue(str(get_locale()))

    def __init__(self, formdata=_FROM_REQUEST, **kwargs) -> None:
        if formdata is _FROM_REQUEST:
            formdata = _submitted_form()
        super().__init__(formdata=formdata, **kwargs)


@functools.cache
def _wtforms_catalogue(locale: str) -> support.NullTranslations:
    """WTForms' message catalogue for `locale` (the app's languages only: a few entries)."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def _submitted_form() -> MultiDict | None:
    """The request's form fields if a form was sent; None (the fields' defaults) otherwise."""
    if not request or request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    if request.mimetype not in FORM_MIMETYPES and (request.mimetype or request.content_length):
        abort(_not_a_form())
    return request.form or None


def _not_a_form():
    response = make_response(
        render_template(
            "errors/error.html",
            status=415,
            title=_("The form was not understood"),
            message=_(
                "This address takes what the form on its page sends, not other kinds of data. "
                "Please fill in the form on the page and send it again."
            ),
        ),
        415,
    )
    # RFC 7694: which request bodies the resource accepts.
    response.headers["Accept-Post"] = ", ".join(FORM_MIMETYPES)
    return response


TOO_LONG = _l("Please use at most %(max)d characters.")
FORM_EXPIRED = _l("This form has expired; please send it again.")
NOT_TEXT = _l("Please type this as text.")


class TextOnly:
    """For text fields: a value that is not a string is refused with a message, and the field
    holds "" instead, so its validators (lengths, patterns, characters) always get text.

    The app's forms read form bodies, whose values are strings; this keeps the fields safe
    when code hands them other data (`formdata=` of any mapping).
    """

    def process_formdata(self, valuelist) -> None:
        if valuelist and not isinstance(valuelist[0], str):
            self.data = ""
            raise ValueError(NOT_TEXT)
        super().process_formdata(valuelist)


#: What `new_one_time_key()` makes: 32 random bytes, URL-safe base64 (43 characters).
ONE_TIME_KEY_PATTERN = r"^[A-Za-z0-9_-]{43}$"


def new_one_time_key() -> str:
    return secrets.token_urlsafe(32)


class OneTimeKeyField(TextOnly, HiddenField):
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


def checked_email(address: object) -> str:
    """The address as we will write to it, or a ValidationError saying why we cannot."""
    if not isinstance(address, str):
        raise ValidationError(NOT_TEXT)
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
        if field.data is None or field.data == "":
            return
        if not isinstance(field.data, str):
            raise ValidationError(NOT_TEXT)
        if bad_character(field.data, multiline=self.multiline):
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


class LineField(TextOnly, StringField):
    """A single-line text input, normalised (NFC, trimmed) and checked for bad characters."""

    def __init__(self, *args, validators=(), filters=(), **kwargs):
        super().__init__(
            *args,
            validators=[*validators, CleanText()],
            filters=[_single_line, *filters],
            **kwargs,
        )


class ParagraphsField(TextOnly, TextAreaField):
    def __init__(self, *args, validators=(), filters=(), **kwargs):
        super().__init__(
            *args,
            validators=[*validators, CleanText(multiline=True)],
            filters=[_multi_line, *filters],
            **kwargs,
        )
