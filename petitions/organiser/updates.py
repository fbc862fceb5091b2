"""The organiser posts updates on their open or closed petition (routes of the "organiser"
blueprint, so they share its login requirement, its 404 for other accounts' petitions and its
private caching headers). The public page lists them (public.views.render_petition).

Imported by create_app() before the blueprint is registered.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..models import utcnow
from ..services import signer_mail, updates
from .update_forms import UpdateForm
from .views import _own, bp


@bp.route("/petitions/<int:petition_id>/updates/new", methods=["GET", "POST"])
def new_update(petition_id: int):
    """GET shows the form; the POST posts the update and queues its first email batches."""
    found = _own(petition_id)
    if found.state not in updates.UPDATABLE:
        return render_template("updates/cannot_post.html", petition=found), 409
    form = UpdateForm()
    if not form.is_submitted():
        form.creation_key.renew()
        return render_template("updates/form.html", form=form, petition=found)
    if not form.validate():
        form.creation_key.renew_if_invalid()
        return render_template("updates/form.html", form=form, petition=found), 422
    try:
        _update_id, created = updates.post_update(
            db.session,
            found,
            author_id=current_user.id,
            title=form.title.data or "",
            body=form.body.data or "",
            creation_key=form.creation_key.data,
            now=utcnow(),
        )
    except updates.UpdateRefused:
        db.session.rollback()
        form.creation_key.renew()
        form.form_errors.append(
            _("We could not post this update; please check it and send it again.")
        )
        return render_template("updates/form.html", form=form, petition=found), 422
    if created:
        config = current_app.config
        signer_mail.queue_signer_mail(
            db.session,
            base_url=config["PUBLIC_BASE_URL"],
            batch_size=config["RESPONSE_MAIL_BATCH_SIZE"],
            max_batches=config["RESPONSE_MAIL_MAX_BATCHES"],
            petition_id=found.id,
            sources=(signer_mail.UPDATES,),
        )
        flash(_("Your update is posted. Signers who asked for news will get it by email."))
    return redirect(url_for("organiser.petition", petition_id=found.id), code=303)
