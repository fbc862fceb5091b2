"""The organiser adds, changes and deletes translations of their petition's text.

Views of the "organiser" blueprint (organiser/views.py adds their URL rules), so they share its
login requirement, its 404 for other accounts' petitions and its private caching headers. The
rules are services/translations.py's; a refusal becomes a message on the form it came from.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..languages import own_name
from ..models import utcnow
from ..models.petition import TRANSLATABLE_STATES
from ..services import translations
from ..services.translations import Refusal, TranslationRefused
from .access import own_petition
from .forms import DeleteTranslationForm, NewTranslationForm, TranslationForm, language_choices


def _message(refused: TranslationRefused, petition, language: str | None) -> str:
    name = own_name(language) if language else ""
    if refused.refusal == Refusal.OWN_LANGUAGE:
        return _(
            "Your petition is written in %(language)s: a translation must be into another "
            "language.",
            language=own_name(petition.language),
        )
    if refused.refusal == Refusal.DUPLICATE:
        return _(
            "Your petition already has a translation into %(language)s; change that one instead.",
            language=name,
        )
    if refused.refusal == Refusal.UNKNOWN_LANGUAGE:
        return _("Please choose one of the languages in the list.")
    if refused.refusal == Refusal.NOTHING_CHANGED:
        return _("The translation is unchanged; nothing was saved.")
    if refused.refusal == Refusal.NOT_TRANSLATABLE:
        return _("The texts of a rejected or hidden petition cannot be translated any more.")
    if refused.refusal == Refusal.EDIT_CONFLICT:
        return _("The translation changed while you were editing it; please try again.")
    return _("We could not save this translation; please check it and send it again.")


def _taken(petition) -> set[str]:
    """Languages the petition already has a version in."""
    return {petition.language} | {
        t.language for t in translations.translations_of(db.session, petition.id)
    }


def _not_translatable(petition):
    return render_template("organiser/translation_refused.html", petition=petition), 409


def new_translation(petition_id: int):
    """GET shows the form; the POST stores the translation, pending a moderator's review."""
    found = own_petition(petition_id)
    if found.state not in TRANSLATABLE_STATES:
        return _not_translatable(found)
    # Any configured language passes the form; for one the petition already has a version
    # in, the service says why not. The select offers only the others.
    form = NewTranslationForm()
    free = language_choices(exclude=_taken(found))
    page = "organiser/translation_form.html"

    def again(status: int):
        form.language.choices = free
        return render_template(page, form=form, petition=found, translation=None), status

    if not form.is_submitted():
        return again(200)
    if not form.validate():
        return again(422)
    try:
        translations.add_translation(
            db.session,
            found,
            language=form.language.data,
            text=form.text(),
            actor_id=current_user.id,
            now=utcnow(),
            languages=current_app.config["LANGUAGES"],
        )
    except TranslationRefused as refused:
        db.session.rollback()
        (form.language.errors if refused.field == "language" else form.form_errors).append(
            _message(refused, found, form.language.data)
        )
        return again(422)
    db.session.commit()
    flash(
        _(
            "Your translation into %(language)s is saved. A moderator checks it before readers "
            "see it.",
            language=own_name(form.language.data),
        )
    )
    return redirect(url_for("organiser.petition", petition_id=found.id), code=303)


def _translation_or_back(petition, language: str):
    translation = translations.translation_of(db.session, petition.id, language)
    if translation is None:
        flash(_("There is no translation into that language."))
    return translation


def edit_translation(petition_id: int, language: str):
    """GET shows the translation; the POST saves the change, which a moderator reviews again."""
    found = own_petition(petition_id)
    if found.state not in TRANSLATABLE_STATES:
        return _not_translatable(found)
    translation = _translation_or_back(found, language)
    if translation is None:
        return redirect(url_for("organiser.petition", petition_id=found.id), code=303)
    form = TranslationForm(obj=translation)
    page = "organiser/translation_form.html"
    if not form.is_submitted():
        return render_template(page, form=form, petition=found, translation=translation)
    if not form.validate():
        return render_template(page, form=form, petition=found, translation=translation), 422
    try:
        translations.edit_translation(
            db.session,
            found,
            language=translation.language,
            text=form.text(),
            actor_id=current_user.id,
            now=utcnow(),
        )
    except TranslationRefused as refused:
        db.session.rollback()
        form.form_errors.append(_message(refused, found, language))
        return render_template(page, form=form, petition=found, translation=translation), 422
    db.session.commit()
    flash(
        _(
            "Your translation into %(language)s is saved. A moderator checks it again before "
            "readers see it.",
            language=own_name(translation.language),
        )
    )
    return redirect(url_for("organiser.petition", petition_id=found.id), code=303)


def delete_translation(petition_id: int, language: str):
    found = own_petition(petition_id)
    if found.state not in TRANSLATABLE_STATES:
        return _not_translatable(found)
    if not DeleteTranslationForm().validate_on_submit():
        flash(_("This form has expired; please send it again."))
        return redirect(url_for("organiser.petition", petition_id=found.id), code=303)
    try:
        translations.delete_translation(
            db.session, found, language=language, actor_id=current_user.id, now=utcnow()
        )
    except TranslationRefused:
        db.session.rollback()
        flash(_("There is no translation into that language."))
        return redirect(url_for("organiser.petition", petition_id=found.id), code=303)
    db.session.commit()
    flash(_("The translation into %(language)s is deleted.", language=own_name(language)))
    return redirect(url_for("organiser.petition", petition_id=found.id), code=303)
