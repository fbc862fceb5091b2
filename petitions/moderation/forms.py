"""Moderators' forms: every decision is a POST with a CSRF token; destructive ones need a tick."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from ..forms import TOO_LONG, LineField, ParagraphsField, WebForm
from ..labels import REASON_LABELS
from ..models import RejectionReason
from ..models.petition import ACTION_MAX, BACKGROUND_MAX, TITLE_MAX
from ..services.moderation import NOTE_MAX, RESPONSE_MAX


class _ModerationForm(WebForm):
    """Several of these share the review page: their HTML ids get a prefix, so each label
    points at its own field (the field names, which the server reads, stay plain)."""

    id_prefix = "form"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self:
            field.id = f"{self.id_prefix}-{field.name}"
            field.label.field_id = field.id


def _confirm(label):
    return BooleanField(label, validators=[DataRequired(_l("Please tick the box to confirm."))])


class ApproveForm(_ModerationForm):
    id_prefix = "approve"

    note = ParagraphsField(
        _l("Note for other moderators (optional)"),
        validators=[Length(max=NOTE_MAX, message=TOO_LONG)],
    )


class RejectForm(_ModerationForm):
    id_prefix = "reject"

    reason = SelectField(
        _l("Reason"),
        choices=[SelectChoice("", _l("Choose a reason"))]
        + [SelectChoice(reason.value, label) for reason, label in REASON_LABELS.items()],
        validators=[InputRequired(_l("Please choose a reason."))],
    )
    note = ParagraphsField(
        _l("Explanation (shown on the petition page and emailed to the organiser)"),
        validators=[
            DataRequired(_l("Please explain the rejection.")),
            Length(max=NOTE_MAX, message=TOO_LONG),
        ],
    )
    confirm = _confirm(_l("Yes, reject this petition"))

    def validate_reason(self, field) -> None:
        if field.data not in {r.value for r in RejectionReason}:
            raise ValidationError(_l("Please choose a reason from the list."))


class HideForm(_ModerationForm):
    id_prefix = "hide"

    reason = ParagraphsField(
        _l("Why it must be hidden (for moderators only)"),
        validators=[
            DataRequired(_l("Please give the reason for hiding it.")),
            Length(max=NOTE_MAX, message=TOO_LONG),
        ],
    )
    confirm = _confirm(_l("Yes, hide this petition from the public"))


class SendBackForm(_ModerationForm):
    id_prefix = "send-back"

    note = ParagraphsField(
        _l("What the organiser should change (emailed to them)"),
        validators=[
            DataRequired(_l("Please say what should change.")),
            Length(max=NOTE_MAX, message=TOO_LONG),
        ],
    )
    confirm = _confirm(_l("Yes, send it back to the organiser"))


class EditForm(_ModerationForm):
    id_prefix = "edit"

    seen = HiddenField()
    title = LineField(
        _l("Title"),
        validators=[
            DataRequired(_l("Please enter a title.")),
            Length(max=TITLE_MAX, message=TOO_LONG),
        ],
    )
    action = ParagraphsField(
        _l("What the petition asks"),
        validators=[
            DataRequired(_l("Please enter what the petition asks.")),
            Length(max=ACTION_MAX, message=TOO_LONG),
        ],
    )
    background = ParagraphsField(
        _l("Background"), validators=[Length(max=BACKGROUND_MAX, message=TOO_LONG)]
    )
    note = ParagraphsField(
        _l("What you corrected (for the log)"),
        validators=[Length(max=NOTE_MAX, message=TOO_LONG)],
    )


class ResponseForm(_ModerationForm):
    id_prefix = "response"

    text = ParagraphsField(
        _l("Official response or outcome"),
        validators=[
            DataRequired(_l("Please enter the response.")),
            Length(max=RESPONSE_MAX, message=TOO_LONG),
        ],
    )
    confirm = _confirm(_l("Yes, publish it and email the signers who asked for updates"))


class PauseForm(_ModerationForm):
    """Pausing or resuming signing on one petition: nothing but the CSRF token."""

    id_prefix = "pause"
