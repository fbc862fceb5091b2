"""Moderators' pages under /moderation/: parse a form, call one service, render or redirect."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .. import clock
from ..extensions import db
from ..labels import state_label
from ..models import User, utcnow
from ..services import moderation, pauses, translations
from ..services.moderation import ModerationRefused, Refusal
from . import moderators_only
from .forms import (
    ApproveForm,
    ApproveTranslationForm,
    CorrectTranslationForm,
    EditForm,
    HideForm,
    PauseForm,
    RejectForm,
    RejectTranslationForm,
    ResponseForm,
    SendBackForm,
)

logger = logging.getLogger(__name__)

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

EVENTS_PER_PAGE = 50


bp.before_request(moderators_only)


def _refusal_message(refused: ModerationRefused) -> str:
    if refused.refusal == Refusal.ALREADY_HANDLED:
        return _(
            "This petition was already handled: it is now %(state)s. Nothing was changed; "
            "see its history below.",
            state=state_label(refused.state),
        )
    if refused.refusal == Refusal.EDIT_CONFLICT:
        return _(
            "Someone changed this petition's text while you were editing it. Nothing was "
            "saved; please check the current text and make your correction again."
        )
    if refused.refusal == Refusal.NOTHING_CHANGED:
        return _("The text is unchanged; nothing was saved.")
    if refused.refusal == Refusal.ALREADY_RESPONDED:
        return _("This petition already has an official response. Nothing was changed.")
    return _("What you sent could not be accepted. Please check it and try again.")


def _forms(petition, **given):
    """Every form of the review page, blank unless given (a failed one keeps its input)."""
    forms = {
        "approve_form": ApproveForm(formdata=None),
        "reject_form": RejectForm(formdata=None),
        "hide_form": HideForm(formdata=None),
        "send_back_form": SendBackForm(formdata=None),
        "edit_form": EditForm(
            formdata=None,
            seen=moderation.text_fingerprint(petition),
            title=petition.title,
            action=petition.action,
            background=petition.background,
        ),
        "response_form": ResponseForm(formdata=None),
        "pause_form": PauseForm(formdata=None),
    }
    forms.update(given)
    return forms


def _translation_forms(translation_list, given: tuple | None = None) -> dict:
    """The approve, reject and correct forms of each translation, by language; `given`
    (language, kind, form): a failed one keeps its input."""
    forms = {}
    for translation in translation_list:
        language = translation.language
        seen = translations.translation_fingerprint(translation)
        forms[language] = {
            "approve": ApproveTranslationForm(formdata=None, language=language, seen=seen),
            "reject": RejectTranslationForm(formdata=None, language=language, seen=seen),
            "correct": CorrectTranslationForm(
                formdata=None,
                language=language,
                seen=seen,
                title=translation.title,
                action=translation.action,
                background=translation.background,
            ),
        }
    if given is not None and given[0] in forms:
        language, kind, form = given
        forms[language][kind] = form
    return forms


def _review(
    petition,
    *,
    status: int = 200,
    error: str | None = None,
    translation_form: tuple | None = None,
    **given,
):
    translation_list = translations.translations_of(db.session, petition.id)
    return make_response(
        render_template(
            "moderation/review.html",
            petition=petition,
            translations=translation_list,
            translation_forms=_translation_forms(translation_list, translation_form),
            owner=petition.owner_id and db.session.get(User, petition.owner_id),
            sponsors=moderation.sponsors_of(db.session, petition.id),
            events=moderation.events_of(db.session, petition.id),
            error=error,
            default_days=current_app.config["DEFAULT_PETITION_DAYS"],
            **_forms(petition, **given),
        ),
        status,
    )


def _petition_or_404(petition_id: int):
    petition = moderation.petition_for_review(db.session, petition_id)
    if petition is None:
        abort(404)
    return petition


@bp.get("/")
def queue():
    now = utcnow()
    entries = moderation.moderation_queue(db.session, now=now)
    return render_template(
        "moderation/queue.html",
        entries=entries,
        waiting_translations=translations.review_queue(db.session, now=now),
    )


@bp.get("/petitions/<int:petition_id>")
def review(petition_id: int):
    return _review(_petition_or_404(petition_id))


def _act(petition_id: int, form_name: str, form, action, success: str, to_queue: bool):
    """Validate `form`; run `action()`; commit and redirect, or show the page with why not."""
    petition = _petition_or_404(petition_id)
    if not form.validate_on_submit():
        return _review(
            petition,
            status=422,
            error=_("Please correct the highlighted fields."),
            **{form_name: form},
        )
    try:
        action()
    except ModerationRefused as refused:
        db.session.rollback()
        if refused.refusal == Refusal.NOT_FOUND:
            abort(404)
        petition = _petition_or_404(petition_id)
        db.session.refresh(petition)
        status = 422 if refused.refusal in (Refusal.INVALID, Refusal.NOTHING_CHANGED) else 409
        return _review(petition, status=status, error=_refusal_message(refused))
    db.session.commit()
    flash(success, "success")
    target = url_for(".queue") if to_queue else url_for(".review", petition_id=petition_id)
    return redirect(target, code=303)


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


@bp.post("/petitions/<int:petition_id>/approve")
def approve(petition_id: int):
    form = ApproveForm()
    return _act(
        petition_id,
        "approve_form",
        form,
        lambda: moderation.approve(
            db.session,
            petition_id,
            moderator_id=current_user.id,
            now=utcnow(),
            duration_days=current_app.config["DEFAULT_PETITION_DAYS"],
            base_url=_base_url(),
            note=form.note.data,
        ),
        _("The petition is open for signatures."),
        to_queue=True,
    )


@bp.post("/petitions/<int:petition_id>/reject")
def reject(petition_id: int):
    form = RejectForm()
    return _act(
        petition_id,
        "reject_form",
        form,
        lambda: moderation.reject(
            db.session,
            petition_id,
            moderator_id=current_user.id,
            now=utcnow(),
            reason=form.reason.data,
            note=form.note.data,
            base_url=_base_url(),
        ),
        _("The petition was rejected and its organiser told why."),
        to_queue=True,
    )


@bp.post("/petitions/<int:petition_id>/hide")
def hide(petition_id: int):
    form = HideForm()
    return _act(
        petition_id,
        "hide_form",
        form,
        lambda: moderation.hide(
            db.session,
            petition_id,
            moderator_id=current_user.id,
            now=utcnow(),
            reason=form.reason.data,
        ),
        _("The petition is hidden from the public."),
        to_queue=True,
    )


@bp.post("/petitions/<int:petition_id>/send-back")
def send_back(petition_id: int):
    form = SendBackForm()
    return _act(
        petition_id,
        "send_back_form",
        form,
        lambda: moderation.send_back(
            db.session,
            petition_id,
            moderator_id=current_user.id,
            now=utcnow(),
            note=form.note.data,
            base_url=_base_url(),
        ),
        _("The petition was sent back to its organiser for changes."),
        to_queue=True,
    )


@bp.post("/petitions/<int:petition_id>/edit")
def edit(petition_id: int):
    form = EditForm()
    return _act(
        petition_id,
        "edit_form",
        form,
        lambda: moderation.edit_text(
            db.session,
            petition_id,
            moderator_id=current_user.id,
            now=utcnow(),
            seen=form.seen.data or "",
            title=form.title.data,
            action=form.action.data,
            background=form.background.data or "",
            note=form.note.data,
        ),
        _("The correction is saved and shown as an edit on the petition page."),
        to_queue=False,
    )


@bp.post("/petitions/<int:petition_id>/response")
def response(petition_id: int):
    form = ResponseForm()
    result = _act(
        petition_id,
        "response_form",
        form,
        lambda: moderation.attach_response(
            db.session,
            petition_id,
            moderator_id=current_user.id,
            now=utcnow(),
            text=form.text.data,
        ),
        _("The response is published; the signers who asked for updates will be emailed."),
        to_queue=False,
    )
    if result.status_code == 303:
        # The first batches now; the worker's housekeeping queues the rest (and resumes this
        # if it fails), so the published response never depends on this step.
        config = current_app.config
        try:
            moderation.queue_response_mail(
                db.session,
                base_url=_base_url(),
                batch_size=config["RESPONSE_MAIL_BATCH_SIZE"],
                max_batches=config["RESPONSE_MAIL_MAX_BATCHES"],
                petition_id=petition_id,
            )
        except SQLAlchemyError:
            db.session.rollback()
            logger.exception("response mail for petition %s left to the worker", petition_id)
    return result


TRANSLATION_REFUSALS = {
    translations.Refusal.ALREADY_HANDLED: lambda: _(
        "This translation was already reviewed, or its organiser changed it meanwhile. "
        "Nothing was changed; see its current state below."
    ),
    translations.Refusal.EDIT_CONFLICT: lambda: _(
        "The translation changed since you opened this page. Nothing was saved; please "
        "check the current text and try again."
    ),
    translations.Refusal.NOTHING_CHANGED: lambda: _("The text is unchanged; nothing was saved."),
}


def _translation_act(petition_id: int, language: str, kind: str, form, action, success: str):
    """As `_act`, for the forms of one translation."""
    petition = _petition_or_404(petition_id)
    if translations.translation_of(db.session, petition_id, language) is None:
        abort(404)
    if not form.validate_on_submit():
        return _review(
            petition,
            status=422,
            error=_("Please correct the highlighted fields."),
            translation_form=(language, kind, form),
        )
    try:
        action()
    except translations.TranslationRefused as refused:
        db.session.rollback()
        if refused.refusal == translations.Refusal.NOT_FOUND:
            abort(404)
        petition = _petition_or_404(petition_id)
        message = TRANSLATION_REFUSALS.get(refused.refusal)
        status = 409 if refused.refusal in TRANSLATION_REFUSALS else 422
        return _review(
            petition,
            status=status,
            error=message()
            if message
            else _("What you sent could not be accepted. Please check it and try again."),
        )
    db.session.commit()
    flash(success, "success")
    return redirect(url_for(".review", petition_id=petition_id) + "#translations", code=303)


@bp.post("/petitions/<int:petition_id>/translations/<language>/approve")
def approve_translation(petition_id: int, language: str):
    form = ApproveTranslationForm(language=language)
    return _translation_act(
        petition_id,
        language,
        "approve",
        form,
        lambda: translations.approve_translation(
            db.session,
            petition_id,
            language,
            moderator_id=current_user.id,
            now=utcnow(),
            seen=form.seen.data or "",
            base_url=_base_url(),
            note=form.note.data,
        ),
        _("The translation is approved: readers of its language see it now."),
    )


@bp.post("/petitions/<int:petition_id>/translations/<language>/reject")
def reject_translation(petition_id: int, language: str):
    form = RejectTranslationForm(language=language)
    return _translation_act(
        petition_id,
        language,
        "reject",
        form,
        lambda: translations.reject_translation(
            db.session,
            petition_id,
            language,
            moderator_id=current_user.id,
            now=utcnow(),
            seen=form.seen.data or "",
            note=form.note.data or "",
            base_url=_base_url(),
        ),
        _("The translation is rejected; its organiser is emailed your note."),
    )


@bp.post("/petitions/<int:petition_id>/translations/<language>/correct")
def correct_translation(petition_id: int, language: str):
    form = CorrectTranslationForm(language=language)
    return _translation_act(
        petition_id,
        language,
        "correct",
        form,
        lambda: translations.correct_translation(
            db.session,
            petition_id,
            language,
            moderator_id=current_user.id,
            now=utcnow(),
            seen=form.seen.data or "",
            text=translations.TranslationText(
                title=form.title.data or "",
                action=form.action.data or "",
                background=form.background.data or "",
            ),
            note=form.note.data,
        ),
        _("The correction of the translation is saved and logged."),
    )


PAUSE_REFUSALS = {
    pauses.PauseRefusal.NOT_OPEN: lambda: _("Only open petitions can be paused."),
    pauses.PauseRefusal.ALREADY_PAUSED: lambda: _("Signing on this petition is already paused."),
    pauses.PauseRefusal.NOT_PAUSED: lambda: _("Signing on this petition is not paused."),
}


def _pause_step(petition_id: int, step, success: str):
    petition = _petition_or_404(petition_id)
    if not PauseForm().validate_on_submit():
        return _review(
            petition, status=422, error=_("This form has expired; please send it again.")
        )
    try:
        step(db.session, petition_id, now=clock.now(), actor_id=current_user.id)
    except pauses.PauseRefused as refused:
        db.session.rollback()
        if refused.refusal == pauses.PauseRefusal.NOT_FOUND:
            abort(404)
        petition = _petition_or_404(petition_id)
        db.session.refresh(petition)
        return _review(petition, status=409, error=PAUSE_REFUSALS[refused.refusal]())
    db.session.commit()
    flash(success, "success")
    return redirect(url_for(".review", petition_id=petition_id), code=303)


@bp.post("/petitions/<int:petition_id>/pause")
def pause_signing(petition_id: int):
    return _pause_step(
        petition_id,
        pauses.pause_signing,
        _("Signing is paused on this petition; its deadline waits for the pause."),
    )


@bp.post("/petitions/<int:petition_id>/resume")
def resume_signing(petition_id: int):
    return _pause_step(
        petition_id,
        pauses.resume_signing,
        _("Signing is open again; the deadline moved on by the time paused."),
    )


@bp.get("/log")
def log():
    petition_id = request.args.get("petition", type=int)
    if petition_id is not None and not 0 < petition_id <= moderation.MAX_PETITION_ID:
        petition_id = None
    page = moderation.audit_log(
        db.session,
        petition_id=petition_id,
        page=request.args.get("page", 1, type=int),
        per_page=EVENTS_PER_PAGE,
    )
    return render_template("moderation/log.html", log=page, petition_id=petition_id)
