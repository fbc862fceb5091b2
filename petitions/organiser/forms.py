"""The organiser's forms: a petition's texts, and buttons that change its state."""

from __future__ import annotations

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import TOO_LONG, LineField, OneTimeKeyField, ParagraphsField, WebForm
from ..models.petition import ACTION_MAX, ADDRESSEE_MAX, BACKGROUND_MAX, TITLE_MAX
from ..services.petitions import MAX_SIGNATURE_GOAL, PetitionDraft


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

    def draft(self) -> PetitionDraft:
        return PetitionDraft(
            title=self.title.data or "",
            action=self.action.data or "",
            addressee=self.addressee.data or "",
            background=self.background.data or "",
            signature_goal=self.signature_goal.data,
        )


class NewPetitionForm(PetitionForm):
    """The create form, with its one-time key: submitting it twice creates one petition."""

    creation_key = OneTimeKeyField()


class SubmitForm(WebForm):
    """A button only: send the draft for sponsors."""


class CloseForm(WebForm):
    """A button only: close the open petition now."""
