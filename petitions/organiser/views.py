"""The organiser's pages: list, create, edit, preview, submit and close their petitions.

Every route needs a login, and a petition is found only among the logged-in user's own: any
other petition id (another organiser's, or one that does not exist) is a 404, whatever the
user's role. Moderators work through the moderation pages.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db, login_manager
from ..languages import own_name, writing_languages
from ..limits import limit_posts
from ..models import Petition, PetitionState, utcnow
from ..models.petition import SPONSOR_STATES, TRANSLATABLE_STATES
from ..services import counts, lifecycle, pauses, site_settings, stats
from ..services import translations as translation_service
from ..services.petitions import PetitionError
from . import dashboard as dashboard_page
from . import translations, updates
from .access import own_petition
from .forms import CloseForm, NewPetitionForm, PetitionForm, SubmitForm

bp = Blueprint("organiser", __name__, url_prefix="/organiser")


@bp.before_request
def require_login():
    """Anonymous visitors go to the login page (or get a 401 until that page exists)."""
    if current_user.is_authenticated:
        return None
    if login_manager.login_view in current_app.view_functions:
        return login_manager.unauthorized()
    abort(401)


@bp.after_request
def private(response):
    """An organiser's pages are theirs: never cached by proxies, never indexed."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.errorhandler(401)
def unauthorized(_error):
    return render_template(
        "errors/error.html",
        status=401,
        title=_("Please log in"),
        message=_("Please log in to see this page."),
    ), 401


def _policy() -> lifecycle.LifecyclePolicy:
    return lifecycle.LifecyclePolicy.from_config(current_app.config)


@bp.get("/petitions")
def my_petitions():
    return render_template(
        "organiser/my_petitions.html",
        petitions=lifecycle.owned_petitions(db.session, current_user.id),
    )


@bp.route("/petitions/new", methods=["GET", "POST"])
@limit_posts("rate_new_petition")
def new_petition():
    if pauses.creation_paused(site_settings.current()):
        return render_template("organiser/creation_paused.html"), 503
    form = NewPetitionForm()
    if not form.is_submitted():
        form.creation_key.renew()
        return render_template("organiser/form.html", form=form, petition=None)
    if not form.validate():
        form.creation_key.renew_if_invalid()
        return render_template("organiser/form.html", form=form, petition=None), 422
    try:
        petition_id, created = lifecycle.create_draft(
            db.session,
            form.draft(),
            owner_id=current_user.id,
            creation_key=form.creation_key.data,
            now=utcnow(),
            languages=writing_languages(current_app.config["LANGUAGES"]),
        )
    except (PetitionError, lifecycle.LifecycleError):
        form.creation_key.renew()
        form.form_errors.append(
            _("We could not save this draft; please check it and send it again.")
        )
        return render_template("organiser/form.html", form=form, petition=None), 422
    if created:
        flash(_("Your draft is saved. Preview it, then submit it to collect sponsors."))
    return redirect(url_for("organiser.petition", petition_id=petition_id), code=303)


@bp.get("/petitions/<int:petition_id>")
def petition(petition_id: int):
    found = own_petition(petition_id)
    policy = _policy()
    in_sponsor_stage = found.state in SPONSOR_STATES
    return render_template(
        "organiser/petition.html",
        petition=found,
        total=counts.count_for(db.session, found.id),
        sponsors=lifecycle.sponsor_count(db.session, found.id),
        sponsors_required=policy.sponsors_required,
        share_link=lifecycle.sponsor_link(found.id, policy) if in_sponsor_stage else None,
        submit_form=SubmitForm(),
        translations=translation_service.translations_of(db.session, found.id),
        translatable=found.state in TRANSLATABLE_STATES,
    )


@bp.get("/petitions/<int:petition_id>/dashboard")
def dashboard(petition_id: int):
    """The owner's numbers: signatures per day, by country and region, sponsors, latest."""
    found = own_petition(petition_id)
    numbers = stats.petition_dashboard(
        db.session,
        found,
        sponsors_required=current_app.config["SPONSORS_REQUIRED"],
        today=utcnow().date(),
    )
    context = dashboard_page.page_context(found, numbers)
    return render_template("organiser/dashboard.html", **context)


def _not_editable(petition: Petition):
    return render_template("organiser/not_editable.html", petition=petition), 409


@bp.route("/petitions/<int:petition_id>/edit", methods=["GET", "POST"])
def edit(petition_id: int):
    found = own_petition(petition_id)
    if found.state != PetitionState.DRAFT:
        return _not_editable(found)
    form = PetitionForm(obj=found)
    if not form.is_submitted():
        return render_template("organiser/form.html", form=form, petition=found)
    if not form.validate():
        return render_template("organiser/form.html", form=form, petition=found), 422
    try:
        lifecycle.edit_draft(
            db.session,
            found,
            form.draft(),
            actor_id=current_user.id,
            now=utcnow(),
            languages=writing_languages(current_app.config["LANGUAGES"]),
        )
    except lifecycle.LifecycleError:
        return _not_editable(found)
    except lifecycle.TranslatedAlready as exc:
        db.session.rollback()
        form.language.errors.append(
            _(
                "Your petition has a translation into %(language)s. Delete that translation "
                "first, or choose another language.",
                language=own_name(exc.language),
            )
        )
        return render_template("organiser/form.html", form=form, petition=found), 422
    except PetitionError:
        form.form_errors.append(
            _("We could not save this draft; please check it and send it again.")
        )
        return render_template("organiser/form.html", form=form, petition=found), 422
    flash(_("Your changes are saved."))
    return redirect(url_for("organiser.petition", petition_id=found.id), code=303)


@bp.get("/petitions/<int:petition_id>/preview")
def preview(petition_id: int):
    found = own_petition(petition_id)
    return render_template(
        "organiser/preview.html",
        petition=found,
        total=counts.count_for(db.session, found.id),
        submit_form=SubmitForm(),
    )


@bp.post("/petitions/<int:petition_id>/submit")
def submit(petition_id: int):
    found = own_petition(petition_id)
    # CSRFProtect has checked the form's token before the view.
    try:
        state = lifecycle.submit_petition(
            db.session, found, actor_id=current_user.id, now=utcnow(), policy=_policy()
        )
    except lifecycle.LifecycleError as exc:
        flash(str(exc))
        return redirect(url_for("organiser.petition", petition_id=found.id), code=303)
    if state == PetitionState.MODERATION:
        flash(_("Submitted. It has enough sponsors and now waits for a moderator."))
    else:
        flash(_("Submitted. Share the link below with your first supporters."))
    return redirect(url_for("organiser.petition", petition_id=found.id), code=303)


@bp.route("/petitions/<int:petition_id>/close", methods=["GET", "POST"])
def close(petition_id: int):
    """GET asks for confirmation; the POST closes the petition now."""
    found = own_petition(petition_id)
    if found.state != PetitionState.OPEN:
        return render_template("organiser/cannot_close.html", petition=found), 409
    form = CloseForm()
    if not form.validate_on_submit():
        return render_template("organiser/close.html", petition=found, form=form)
    try:
        lifecycle.close_early(
            db.session,
            found,
            actor_id=current_user.id,
            now=utcnow(),
            base_url=current_app.config["PUBLIC_BASE_URL"],
        )
    except lifecycle.LifecycleError:
        return render_template("organiser/cannot_close.html", petition=found), 409
    flash(_("Your petition is closed. Its signatures stay public."))
    return redirect(url_for("organiser.petition", petition_id=found.id), code=303)


bp.add_url_rule(
    "/petitions/<int:petition_id>/translations/new",
    endpoint="new_translation",
    view_func=translations.new_translation,
    methods=["GET", "POST"],
)
bp.add_url_rule(
    "/petitions/<int:petition_id>/translations/<language>/edit",
    endpoint="edit_translation",
    view_func=translations.edit_translation,
    methods=["GET", "POST"],
)
bp.add_url_rule(
    "/petitions/<int:petition_id>/translations/<language>/delete",
    endpoint="delete_translation",
    view_func=translations.delete_translation,
    methods=["POST"],
)
bp.add_url_rule(
    "/petitions/<int:petition_id>/updates/new",
    endpoint="new_update",
    view_func=updates.new_update,
    methods=["GET", "POST"],
)
