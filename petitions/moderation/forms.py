"""Moderators' forms: every decision is a POST with a CSRF token; destructive ones need a tick."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from ..forms import TOO_LONG, LineField, ParagraphsField, WebForm
from ..labels import (
    BULK_KIND_LABELS,
    FLAG_LABELS,
    REASON_LABELS,
    REMOVAL_CATEGORY_LABELS,
    SIGNATURE_STATUS_LABELS,
)
from ..models import BulkKind, RejectionReason, RemovalCategory
from ..models.petition import ACTION_MAX, BACKGROUND_MAX, TITLE_MAX
from ..services.moderation import NOTE_MAX, RESPONSE_MAX
from ..services.translations import NOTE_MAX as TRANSLATION_NOTE_MAX


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


def _choices(blank, labels: dict) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(str(c), label) for c, label in labels.items()]


class SearchForm(WebForm):
    """The investigation's search: read from the query string (a GET: bookmarkable, no CSRF,
    it changes nothing). services/investigation.SignatureQuery.parse checks the values."""

    class Meta:
        csrf = False

    address = LineField(
        _l("Client address or range"),
        description=_l("An IP address, or a range such as 203.0.113.0/24"),
    )
    domain = LineField(
        _l("Email domain"), description=_l("example.com (with its subdomains), or *.xyz")
    )
    since = LineField(
        _l("Signed from (UTC)"),
        render_kw={"type": "datetime-local"},
    )
    until = LineField(_l("Signed before (UTC)"), render_kw={"type": "datetime-local"})
    name = LineField(_l("Name"), description=_l("* for any characters, ? for one"))
    flag = SelectField(
        _l("Flag"),
        choices=[
            SelectChoice("", _l("Any or none")),
            SelectChoice("any", _l("Flagged (any reason)")),
            SelectChoice("none", _l("Not flagged")),
        ]
        + [SelectChoice(str(flag), label) for flag, label in FLAG_LABELS.items()],
        validate_choice=False,
    )
    status = SelectField(
        _l("Status"),
        choices=_choices(_l("Any"), SIGNATURE_STATUS_LABELS),
        validate_choice=False,
    )
    country = LineField(_l("Country code"), render_kw={"size": 2, "maxlength": 2})


class BulkForm(_ModerationForm):
    """A bulk action on the signatures the search in the query string matches: first the
    preview (how many), then the same form again with the box ticked."""

    id_prefix = "bulk"

    kind = SelectField(
        _l("Action"),
        choices=[
            SelectChoice(str(BulkKind.INVALIDATE), BULK_KIND_LABELS[BulkKind.INVALIDATE]),
            SelectChoice(str(BulkKind.VALIDATE), BULK_KIND_LABELS[BulkKind.VALIDATE]),
        ],
        validators=[InputRequired(_l("Please choose an action."))],
    )
    category = SelectField(
        _l("Public reason (for invalidation)"),
        choices=_choices(
            _l("Choose a reason"),
            {
                c: label
                for c, label in REMOVAL_CATEGORY_LABELS.items()
                if c != RemovalCategory.SIGNER_REQUEST
            },
        ),
        validate_choice=False,
    )
    note = ParagraphsField(
        _l("Note for moderators (never public)"),
        validators=[Length(max=NOTE_MAX, message=TOO_LONG)],
    )
    confirm = BooleanField(_l("Yes, do this to every signature that matches"))

    def validate_category(self, field) -> None:
        if self.kind.data != BulkKind.INVALIDATE:
            field.data = ""
            return
        if field.data not in {str(c) for c in RemovalCategory} or (
            field.data == RemovalCategory.SIGNER_REQUEST
        ):
            raise ValidationError(_l("Please choose the public reason from the list."))


class BulkStepForm(_ModerationForm):
    """Cancelling or undoing a bulk action: nothing but the CSRF token."""

    id_prefix = "bulk-step"


class _TranslationReviewForm(_ModerationForm):
    """A form about one translation of the review page: its ids name the language too, so
    the forms of several translations on one page never share an id."""

    seen = HiddenField()

    def __init__(self, *args, language: str = "", **kwargs) -> None:
        self.id_prefix = f"{self.id_prefix}-{language}"
        super().__init__(*args, **kwargs)


class ApproveTranslationForm(_TranslationReviewForm):
    id_prefix = "approve-translation"

    note = ParagraphsField(
        _l("Note for other moderators (optional)"),
        validators=[Length(max=TRANSLATION_NOTE_MAX, message=TOO_LONG)],
    )


class RejectTranslationForm(_TranslationReviewForm):
    id_prefix = "reject-translation"

    note = ParagraphsField(
        _l("What is wrong with it (shown to the organiser)"),
        validators=[
            DataRequired(_l("Please explain the rejection.")),
            Length(max=TRANSLATION_NOTE_MAX, message=TOO_LONG),
        ],
    )


class CorrectTranslationForm(_TranslationReviewForm):
    id_prefix = "correct-translation"

    title = EditForm.title
    action = EditForm.action
    background = EditForm.background
    note = EditForm.note
