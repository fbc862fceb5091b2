"""Form helpers shared by every blueprint: clean text fields that refuse what we cannot store."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import ValidationError

from .text import bad_character, normalise


class CleanText:
    """Validator: no control characters, surrogates or undecodable bytes."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form, field) -> None:
        if field.data and bad_character(field.data, multiline=self.multiline):
            raise ValidationError(
                _l("This field contains characters we cannot accept (control or invalid ones).")
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
