"""The organiser's forms: a petition's texts, and buttons that change its state."""

from __future__ import annotations

from flask import current_app
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from .. import timezones
from ..forms import TOO_LONG, LineField, OneTimeKeyField, ParagraphsField, WebForm
from ..languages import own_name, request_language, writing_languages
from ..models.petition import ACTION_MAX, ADDRESSEE_MAX, BACKGROUND_MAX, TITLE_MAX
from ..services.petitions import MAX_SIGNATURE_GOAL, PetitionDraft
from ..services.translations import TranslationText

UNKNOWN_LANGUAGE = _l("Please choose one of the languages in the list.")
UNKNOWN_ZONE = _l("Please choose a time zone from the list.")


def language_choices(exclude=(), *, writing: bool = False) -> list[tuple[str, str]]:
    """The configured languages (`writing`: every language a petition may be written in),
    each named in itself (as the switcher names them)."""
    codes = current_app.config["LANGUAGES"]
    if writing:
        codes = writing_languages(codes)
    return [(code, own_name(code)) for code in codes if code not in exclude]


class LanguageField(SelectField):
    """A select of the configured languages; anything else gets a clear message (the
    service checks again)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, validate_choice=False, **kwargs)

    def pre_validate(self, form) -> None:
        if self.data not in {code for code, _name in self.choices}:
            raise ValidationError(UNKNOWN_LANGUAGE)


class WholeNumberField(IntegerField):
    """An IntegerField whose refusal of text that is not a number is in the reader's
    language, in the words of the range check (WTForms' own messages have no Kyrgyz or
    Indonesian catalog)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(
                _l(
                    "Please enter a whole number from 1 to %(max)s.",
                    max=format_decimal(MAX_SIGNATURE_GOAL),
                )
            ) from None


class PetitionForm(WebForm):
    """A petition's texts, as on the public page; the same limits as the database."""

    title = LineField(
        _l("Title"),
        validators=[
            DataRequired(_l("Please give your petition a title.")),
            Length(max=TITLE_MAX, message=TOO_LONG),
        ],
        description=_l("A short headline, shown in lists and when the petition is shared."),
        render_kw={"maxlength": TITLE_MAX},
    )
    action = ParagraphsField(
        _l("What do you ask for?"),
        validators=[
            DataRequired(_l("Please say what the petition asks for.")),
            Length(max=ACTION_MAX, message=TOO_LONG),
        ],
        render_kw={"maxlength": ACTION_MAX, "rows": 5},
    )
    background = ParagraphsField(
        _l("Why? Background and reasons (optional)"),
        validators=[Length(max=BACKGROUND_MAX, message=TOO_LONG)],
        description=_l("Plain text; leave an empty line between paragraphs."),
        render_kw={"maxlength": BACKGROUND_MAX, "rows": 10},
    )
    addressee = LineField(
        _l("Addressed to"),
        validators=[
            DataRequired(_l("Please say who the petition is addressed to.")),
            Length(max=ADDRESSEE_MAX, message=TOO_LONG),
        ],
        render_kw={"maxlength": ADDRESSEE_MAX},
    )
    signature_goal = WholeNumberField(
        _l("Signature goal (optional)"),
        validators=[
            Optional(),
            NumberRange(
                min=1,
                max=MAX_SIGNATURE_GOAL,
                message=_l("Please enter a whole number from 1 to %(max)s."),
            ),
        ],
        render_kw={"min": 1, "inputmode": "numeric"},
    )
    language = LanguageField(
        _l("Language of the petition"),
        description=_l(
            "The language you write the title and texts in. You can add translations into "
            "other languages later."
        ),
    )
    time_zone = SelectField(
        _l("Time zone"),
        description=_l("Dates on the petition's page are shown in this time zone."),
        validate_choice=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("language", request_language())
        kwargs.setdefault("time_zone", timezones.DEFAULT_ZONE)
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices(writing=True)
        self.time_zone.choices = list(timezones.zone_choices(str(get_locale())))

    def validate_time_zone(self, field) -> None:
        if not timezones.is_offered(field.data):
            raise ValidationError(UNKNOWN_ZONE)

    def draft(self) -> PetitionDraft:
        return PetitionDraft(
            title=self.title.data or "",
            action=self.action.data or "",
            addressee=self.addressee.data or "",
            background=self.background.data or "",
            signature_goal=self.signature_goal.data,
            language=self.language.data or "",
            time_zone=self.time_zone.data or "",
        )


class NewPetitionForm(PetitionForm):
    """The create form, with its one-time key: submitting it twice creates one petition."""

    creation_key = OneTimeKeyField()


class SubmitForm(WebForm):
    """A button only: send the draft for sponsors."""


class CloseForm(WebForm):
    """A button only: close the open petition now."""


class TranslationForm(WebForm):
    """A translation of a petition's texts: the same fields and limits as the original."""

    title = PetitionForm.title
    action = PetitionForm.action
    background = PetitionForm.background

    def text(self) -> TranslationText:
        return TranslationText(
            title=self.title.data or "",
            action=self.action.data or "",
            background=self.background.data or "",
        )


class NewTranslationForm(TranslationForm):
    """A new translation: its language too, one the petition has no version in yet."""

    language = LanguageField(_l("Language of the translation"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class DeleteTranslationForm(WebForm):
    """A button only: delete the translation."""
