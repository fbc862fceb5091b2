"""What people read for the platform's codes: petition states, audit-log actions, rejection
reasons. One table each, so a state has one name on every page and in every email.

Labels are lazy strings: they are translated when shown, in the reader's language (or, for
mail, the recipient's). `init_app()` makes them available to every template; no blueprint
registers labels that other pages depend on.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import format_timedelta
from flask_babel import lazy_gettext as _l

from .models import (
    BulkKind,
    BulkState,
    EventAction,
    PetitionState,
    RejectionReason,
    RemovalCategory,
    SignatureFlag,
    SignatureStatus,
    TranslationState,
)

#: Lower case, so they read well in a sentence ("it is now open for signatures"); templates
#: that show one as a heading capitalise it.
STATE_LABELS = {
    PetitionState.DRAFT: _l("draft"),
    PetitionState.SPONSORING: _l("collecting sponsors"),
    PetitionState.MODERATION: _l("awaiting moderation"),
    PetitionState.OPEN: _l("open for signatures"),
    PetitionState.CLOSED: _l("closed"),
    PetitionState.REJECTED: _l("rejected"),
    PetitionState.HIDDEN: _l("hidden by a moderator"),
}

ACTION_LABELS = {
    EventAction.CREATED: _l("created"),
    EventAction.SUBMITTED: _l("submitted for sponsors"),
    EventAction.ENTERED_MODERATION: _l("entered moderation"),
    EventAction.APPROVED: _l("approved"),
    EventAction.REJECTED: _l("rejected"),
    EventAction.HIDDEN: _l("hidden"),
    EventAction.SENT_BACK: _l("sent back for changes"),
    EventAction.EDITED: _l("text corrected"),
    EventAction.RESPONSE: _l("official response attached"),
    EventAction.OPENED: _l("opened by an operator"),
    EventAction.CLOSED: _l("closed"),
    EventAction.UPDATE_POSTED: _l("update posted by the organiser"),
    EventAction.SIGNATURES_REMOVED: _l("signatures taken out of the total"),
    EventAction.SIGNING_PAUSED: _l("signing paused"),
    EventAction.SIGNING_RESUMED: _l("signing resumed (deadline moved on by the pause)"),
    EventAction.BULK_STARTED: _l("bulk action on signatures started"),
    EventAction.BULK_FINISHED: _l("bulk action on signatures finished"),
    EventAction.BULK_CANCELLED: _l("bulk action on signatures cancelled"),
    EventAction.TRANSLATION_SUBMITTED: _l("translation submitted by the organiser"),
    EventAction.TRANSLATION_EDITED: _l("translation changed by the organiser"),
    EventAction.TRANSLATION_DELETED: _l("translation deleted by the organiser"),
    EventAction.TRANSLATION_APPROVED: _l("translation approved"),
    EventAction.TRANSLATION_REJECTED: _l("translation rejected"),
    EventAction.TRANSLATION_CORRECTED: _l("translation corrected"),
}

#: What organisers and moderators read for the review state of a translation.
TRANSLATION_STATE_LABELS = {
    TranslationState.PENDING: _l("waiting for a moderator"),
    TranslationState.APPROVED: _l("approved: shown to readers"),
    TranslationState.REJECTED: _l("rejected"),
}

#: What moderators read for the kinds and states of bulk actions and for signature flags.
BULK_KIND_LABELS = {
    BulkKind.INVALIDATE: _l("invalidate"),
    BulkKind.VALIDATE: _l("validate held signatures"),
    BulkKind.UNDO: _l("undo"),
}
#: The kinds of trending source (TrendingSource.kind).
TRENDING_KIND_LABELS = {"network": _l("network"), "domain": _l("email domain")}
BULK_STATE_LABELS = {
    BulkState.RUNNING: _l("running"),
    BulkState.DONE: _l("done"),
    BulkState.CANCELLED: _l("cancelled"),
    BulkState.UNDONE: _l("undone"),
}
FLAG_LABELS = {
    SignatureFlag.RATE: _l("over a signing rate"),
    SignatureFlag.HONEYPOT: _l("filled the hidden field"),
    SignatureFlag.TOO_FAST: _l("sent too fast"),
    SignatureFlag.NO_PROOF: _l("no proof of work"),
    SignatureFlag.LISTED: _l("from a source listed for review"),
}
#: The public reason categories of removed signatures (petition page, API docs, CSVs).
REMOVAL_CATEGORY_LABELS = {
    RemovalCategory.AUTOMATED: _l("automated signing"),
    RemovalCategory.DUPLICATES: _l("duplicate signatures of one person"),
    RemovalCategory.DISPOSABLE: _l("disposable email addresses"),
    RemovalCategory.FRAUD: _l("fraudulent signatures"),
    RemovalCategory.SIGNER_REQUEST: _l("withdrawn at the signer's request"),
    RemovalCategory.OTHER: _l("other reasons"),
}
SIGNATURE_STATUS_LABELS = {
    SignatureStatus.PENDING: _l("pending (not confirmed)"),
    SignatureStatus.CONFIRMED: _l("counted"),
    SignatureStatus.HELD: _l("held for review"),
    SignatureStatus.INVALIDATED: _l("invalidated"),
    SignatureStatus.WITHDRAWN: _l("withdrawn"),
}

#: What the site audit log (admin_events) says for each action; an action another part of the
#: app logs without a label here is shown by its code.
ADMIN_ACTION_LABELS = {
    "setting_changed": _l("setting changed"),
    "setting_reset": _l("setting back to its default"),
    "rule_added": _l("rule added"),
    "rule_removed": _l("rule removed"),
}

#: Short labels for moderators and the organiser's email.
REASON_LABELS = {
    RejectionReason.DUPLICATE: _l("Duplicate of an existing petition"),
    RejectionReason.NOT_AN_ACTION: _l("Does not ask for a clear action"),
    RejectionReason.OFFENSIVE: _l("Offensive, nonsense or a joke"),
    RejectionReason.DEFAMATORY: _l("Defamatory or names individuals"),
    RejectionReason.ADVERTISING: _l("Advertising or promotion"),
    RejectionReason.OTHER: _l("Other"),
}

#: What the public page says about each reason (in the spirit of the UK Parliament's site).
REASON_EXPLANATIONS = {
    RejectionReason.DUPLICATE: _l(
        "There is already a petition about this issue. We cannot accept a new one while it is "
        "open for signatures."
    ),
    RejectionReason.NOT_AN_ACTION: _l(
        "It did not ask the addressee to take a clear action we could accept."
    ),
    RejectionReason.OFFENSIVE: _l("It included material that was offensive, nonsense or a joke."),
    RejectionReason.DEFAMATORY: _l(
        "It included potentially defamatory statements or referred to individuals in a way "
        "we cannot publish."
    ),
    RejectionReason.ADVERTISING: _l("It advertised or promoted a product, service or business."),
    RejectionReason.OTHER: _l("It did not meet the standards for petitions."),
}


def _label(table: dict, value: str | None) -> str:
    """The label of a known code; an unknown one (data from a newer version) as it is."""
    for code, label in table.items():
        if code == value:
            return str(label)
    return value or ""


def state_label(state: str | None) -> str:
    return _label(STATE_LABELS, state)


def action_label(action: str | None) -> str:
    return _label(ACTION_LABELS, action)


def translation_state_label(state: str | None) -> str:
    return _label(TRANSLATION_STATE_LABELS, state)


def admin_action_label(action: str | None) -> str:
    return _label(ADMIN_ACTION_LABELS, action)


def bulk_kind_label(kind: str | None) -> str:
    return _label(BULK_KIND_LABELS, kind)


def bulk_state_label(state: str | None) -> str:
    return _label(BULK_STATE_LABELS, state)


def trending_kind_label(kind: str | None) -> str:
    return _label(TRENDING_KIND_LABELS, kind)


def flag_label(flag: str | None) -> str:
    return _label(FLAG_LABELS, flag)


def removal_category_label(category: str | None) -> str:
    return _label(REMOVAL_CATEGORY_LABELS, category or RemovalCategory.OTHER)


def signature_status_label(status: str | None) -> str:
    return _label(SIGNATURE_STATUS_LABELS, status)


def rejection_reason(reason: str | None) -> str:
    return _label(REASON_LABELS, reason)


def rejection_explanation(reason: str | None) -> str:
    found = _label(REASON_EXPLANATIONS, reason)
    return found if found != (reason or "") else ""


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        state_label=state_label,
        action_label=action_label,
        translation_state_label=translation_state_label,
        admin_action_label=admin_action_label,
        bulk_kind_label=bulk_kind_label,
        bulk_state_label=bulk_state_label,
        flag_label=flag_label,
        trending_kind_label=trending_kind_label,
        signature_status_label=signature_status_label,
        removal_category_label=removal_category_label,
        format_timedelta=format_timedelta,
    )
    app.jinja_env.filters.update(
        rejection_reason=rejection_reason, rejection_explanation=rejection_explanation
    )
