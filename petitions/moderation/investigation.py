"""The investigation of one petition's signatures and its bulk actions (moderators and
admins): parse the search, call one service, render or redirect."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock
from ..extensions import db
from ..models import BulkAction, BulkKind, BulkState, RemovalCategory
from ..services import bulk, investigation, moderation
from ..services.investigation import QueryError, SignatureQuery
from . import moderators_only
from .forms import BulkForm, BulkStepForm, SearchForm

bp = Blueprint("investigation", __name__, url_prefix="/moderation")
bp.before_request(moderators_only)

SIGNATURES_PER_PAGE = 50
#: While an action runs its page reloads itself this often (no JavaScript needed).
REFRESH_SECONDS = 3


def _petition_or_404(petition_id: int):
    petition = moderation.petition_for_review(db.session, petition_id)
    if petition is None:
        abort(404)
    return petition


def _search(*, first_visit: bool = True) -> tuple[SearchForm, SignatureQuery | None]:
    """The search of the query string (on a first visit, with none: the last 24 hours); None
    and the form's errors when it cannot be used."""
    args = request.args
    if first_visit and not any(key in args for key in SearchForm()._fields):
        default = investigation.default_window(clock.now())
        return SearchForm(formdata=None, data=default.args()), default
    form = SearchForm(formdata=args)
    form.validate()
    values = {name: field.data for name, field in form._fields.items()}
    try:
        return form, SignatureQuery.parse(values)
    except QueryError as error:
        form[error.field].errors = [error.message]
        return form, None


def _page(petition, *, bulk_form=None, status: int = 200, error: str | None = None):
    form, query = _search()
    overview = signatures = None
    if query is not None:
        try:
            overview = investigation.overview(db.session, petition.id, query)
            signatures = investigation.search(
                db.session,
                petition.id,
                query,
                page=request.args.get("page", 1, type=int),
                per_page=SIGNATURES_PER_PAGE,
            )
        except QueryError as refused:
            form[refused.field].errors = [refused.message]
            query = None
    return make_response(
        render_template(
            "moderation/investigate.html",
            petition=petition,
            form=form,
            query=query,
            overview=overview,
            signatures=signatures,
            bulk_form=bulk_form or BulkForm(formdata=None),
            actions=bulk.actions_of(db.session, petition.id),
            error=error,
        ),
        status,
    )


@bp.get("/petitions/<int:petition_id>/signatures")
def investigate(petition_id: int):
    return _page(_petition_or_404(petition_id))


def _bulk_request(petition_id: int):
    """The petition, the search and the bulk form of a bulk POST, or the page to answer
    instead (the form or the search cannot be used)."""
    petition = _petition_or_404(petition_id)
    form = BulkForm()
    _, query = _search(first_visit=False)
    if query is None:
        return (
            petition,
            form,
            None,
            _page(
                petition, bulk_form=form, status=422, error=_("Please correct the search first.")
            ),
        )
    if not form.validate_on_submit():
        return petition, form, query, _page(petition, bulk_form=form, status=422)
    return petition, form, query, None


def _category(form: BulkForm) -> RemovalCategory | None:
    return RemovalCategory(form.category.data) if form.category.data else None


@bp.post("/petitions/<int:petition_id>/bulk/preview")
def bulk_preview(petition_id: int):
    petition, form, query, answer = _bulk_request(petition_id)
    if answer is not None:
        return answer
    kind = BulkKind(form.kind.data)
    matched = bulk.preview(db.session, petition.id, kind, query)
    form.confirm.data = False
    return render_template(
        "moderation/bulk_preview.html",
        petition=petition,
        form=form,
        query=query,
        kind=kind,
        category=_category(form),
        matched=matched,
    )


@bp.post("/petitions/<int:petition_id>/bulk")
def bulk_start(petition_id: int):
    petition, form, query, answer = _bulk_request(petition_id)
    if answer is not None:
        return answer
    kind = BulkKind(form.kind.data)
    if not form.confirm.data:
        form.confirm.errors = [_("Please tick the box to confirm.")]
        return make_response(
            render_template(
                "moderation/bulk_preview.html",
                petition=petition,
                form=form,
                query=query,
                kind=kind,
                category=_category(form),
                matched=bulk.preview(db.session, petition.id, kind, query),
            ),
            422,
        )
    try:
        action = bulk.start(
            db.session,
            petition.id,
            kind,
            query,
            category=_category(form),
            note=form.note.data,
            actor_id=current_user.id,
            now=clock.now(),
        )
    except bulk.BulkRefused as refused:
        db.session.rollback()
        return _page(petition, bulk_form=form, status=409, error=str(refused.message))
    db.session.commit()
    flash(_("The bulk action has started; this page shows its progress."), "success")
    return redirect(url_for(".action", action_id=action.id), code=303)


def _action_or_404(action_id: int) -> BulkAction:
    action = db.session.get(BulkAction, action_id)
    if action is None or moderation.petition_for_review(db.session, action.petition_id) is None:
        abort(404)
    return action


def _action_page(action: BulkAction, *, status: int = 200, error: str | None = None):
    petition = moderation.petition_for_review(db.session, action.petition_id)
    response = make_response(
        render_template(
            "moderation/bulk_action.html",
            petition=petition,
            action=action,
            query=SignatureQuery.from_criteria(action.criteria),
            undone_by=db.session.query(BulkAction).filter_by(undo_of=action.id).all(),
            step_form=BulkStepForm(formdata=None),
            error=error,
        ),
        status,
    )
    if action.state == BulkState.RUNNING:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.get("/bulk/<int:action_id>")
def action(action_id: int):
    return _action_page(_action_or_404(action_id))


@bp.post("/bulk/<int:action_id>/cancel")
def cancel(action_id: int):
    action = _action_or_404(action_id)
    if not BulkStepForm().validate_on_submit():
        return _action_page(
            action, status=422, error=_("This form has expired; please send it again.")
        )
    if not bulk.cancel(db.session, action.id, actor_id=current_user.id, now=clock.now()):
        db.session.rollback()
        db.session.refresh(action)
        return _action_page(action, status=409, error=_("This action is not running any more."))
    db.session.commit()
    flash(_("Cancelled: what was done so far stays done, and can be undone."), "success")
    return redirect(url_for(".action", action_id=action.id), code=303)


@bp.post("/bulk/<int:action_id>/undo")
def undo(action_id: int):
    action = _action_or_404(action_id)
    if not BulkStepForm().validate_on_submit():
        return _action_page(
            action, status=422, error=_("This form has expired; please send it again.")
        )
    try:
        undoing = bulk.undo(db.session, action.id, actor_id=current_user.id, now=clock.now())
    except bulk.BulkRefused as refused:
        db.session.rollback()
        db.session.refresh(action)
        return _action_page(action, status=409, error=str(refused.message))
    db.session.commit()
    flash(_("Undoing: every signature this action changed is being put back."), "success")
    return redirect(url_for(".action", action_id=undoing.id), code=303)
