"""Admins' pages under /admin/: parse a form, call one service, render or redirect."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock
from ..auth import role_required
from ..extensions import db
from ..models import Role
from ..services import access_rules, pauses, site_settings, trending
from .forms import (
    RULE_ACTION_LABELS,
    RULE_KIND_LABELS,
    RemoveRuleForm,
    ResetForm,
    RuleForm,
    SettingForm,
    SwitchForm,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")

EVENTS_PER_PAGE = 50
SOURCES_PER_PAGE = 50


@bp.before_request
@role_required(Role.ADMIN)
def _admins_only():
    """Every page here is for admins: anonymous visitors are sent to log in, everyone else
    gets 403."""
    return None


def _now():
    return clock.now()


def _config():
    return current_app.config


# --- runtime settings -------------------------------------------------------------------------


def _expired() -> str:
    return _("This form has expired; please send it again.")


def _settings_page(
    *, status: int = 200, failed: str | None = None, form=None, error: str | None = None
):
    forms = {key: SettingForm(formdata=None) for key in site_settings.TUNABLES}
    if failed is not None and form is not None:
        forms[failed] = form
    return (
        render_template(
            "admin/settings.html",
            rows=site_settings.overview(db.session, _config()),
            forms=forms,
            failed=failed,
            error=error,
        ),
        status,
    )


@bp.get("/")
def settings():
    return _settings_page()


def _tunable_or_404(key: str) -> str:
    if key not in site_settings.TUNABLES:
        abort(404)
    return key


@bp.post("/settings/<key>")
def change_setting(key: str):
    key = _tunable_or_404(key)
    form = SettingForm()
    if not form.validate_on_submit():
        return _settings_page(status=422, failed=key, form=form)
    try:
        pauses.change_setting(
            db.session,
            key,
            form.value.data,
            config=_config(),
            actor_id=current_user.id,
            now=_now(),
        )
    except site_settings.SettingError as error:
        db.session.rollback()
        form.value.errors = [str(error)]
        return _settings_page(status=422, failed=key, form=form)
    db.session.commit()
    site_settings.forget()
    flash(_("The setting %(key)s is changed; every instance uses it within seconds.", key=key))
    return redirect(url_for(".settings", _anchor=f"setting-{key}"), code=303)


@bp.post("/settings/<key>/reset")
def reset_setting(key: str):
    key = _tunable_or_404(key)
    if not ResetForm().validate_on_submit():
        return _settings_page(status=422, error=_expired())
    pauses.reset_setting(db.session, key, config=_config(), actor_id=current_user.id, now=_now())
    db.session.commit()
    site_settings.forget()
    flash(_("The setting %(key)s is back to its default.", key=key))
    return redirect(url_for(".settings", _anchor=f"setting-{key}"), code=303)


# --- kill switches ----------------------------------------------------------------------------


def _switches_page(*, status: int = 200, error: str | None = None):
    settings_now = site_settings.load(db.session, _config())
    return (
        render_template(
            "admin/switches.html",
            signing_paused=pauses.site_signing_paused(settings_now),
            signing_since=settings_now.changed_at.get(pauses.SITE_SIGNING),
            creation_paused=pauses.creation_paused(settings_now),
            creation_since=settings_now.changed_at.get(pauses.CREATION),
            paused_petitions=pauses.paused_petitions(db.session),
            form=SwitchForm(formdata=None),
            error=error,
        ),
        status,
    )


@bp.get("/switches")
def switches():
    return _switches_page()


@bp.post("/switches/<any(signing, creation):switch>")
def switch(switch: str):
    form = SwitchForm()
    if not form.validate_on_submit():
        return _switches_page(status=422, error=_("Please choose to pause or to resume."))
    key = pauses.SITE_SIGNING if switch == "signing" else pauses.CREATION
    pauses.change_setting(
        db.session,
        key,
        form.paused.data == "yes",
        config=_config(),
        actor_id=current_user.id,
        now=_now(),
    )
    db.session.commit()
    site_settings.forget()
    messages = {
        ("signing", "yes"): _("Signing is paused on the whole site."),
        ("signing", "no"): _(
            "Signing is open again; open petitions' deadlines moved on by the pause."
        ),
        ("creation", "yes"): _("Creating petitions is paused."),
        ("creation", "no"): _("Creating petitions is open again."),
    }
    flash(messages[switch, form.paused.data])
    return redirect(url_for(".switches"), code=303)


# --- access rules -----------------------------------------------------------------------------


def _rules_page(*, status: int = 200, form: RuleForm | None = None, error: str | None = None):
    return (
        render_template(
            "admin/rules.html",
            rules=access_rules.list_rules(db.session),
            form=form or RuleForm(formdata=None),
            error=error,
            kind_labels=RULE_KIND_LABELS,
            action_labels=RULE_ACTION_LABELS,
        ),
        status,
    )


@bp.get("/rules")
def rules():
    return _rules_page()


@bp.post("/rules")
def add_rule():
    form = RuleForm()
    if not form.validate_on_submit():
        return _rules_page(status=422, form=form)
    try:
        rule = access_rules.add_rule(
            db.session,
            kind=form.kind.data,
            action=form.action.data,
            pattern=form.pattern.data,
            note=form.note.data,
            actor_id=current_user.id,
            now=_now(),
            config=_config(),
        )
    except access_rules.RuleError as error:
        db.session.rollback()
        form.pattern.errors = [str(error)]
        return _rules_page(status=422, form=form)
    pattern = rule.pattern
    db.session.commit()
    access_rules.rules_changed()
    flash(_("The rule for %(pattern)s is in force.", pattern=pattern))
    return redirect(url_for(".rules"), code=303)


@bp.post("/rules/<int:rule_id>/remove")
def remove_rule(rule_id: int):
    if not RemoveRuleForm().validate_on_submit():
        return _rules_page(status=422, error=_expired())
    removed = access_rules.remove_rule(db.session, rule_id, actor_id=current_user.id, now=_now())
    db.session.commit()
    access_rules.rules_changed()
    flash(_("The rule is removed.") if removed else _("That rule was already removed."))
    return redirect(url_for(".rules"), code=303)


# --- what happened ----------------------------------------------------------------------------


@bp.get("/log")
def log():
    page = site_settings.audit_log(
        db.session, page=request.args.get("page", 1, type=int), per_page=EVENTS_PER_PAGE
    )
    return render_template("admin/log.html", log=page)


@bp.get("/trending")
def trending_sources():
    page = trending.recent_sources(
        db.session, page=request.args.get("page", 1, type=int), per_page=SOURCES_PER_PAGE
    )
    return render_template(
        "admin/trending.html",
        sources=page,
        searches={source.id: trending.source_query(source).args() for source, _ in page.items},
        threshold=site_settings.current()["trending_threshold"],
        domain_threshold=site_settings.current()["trending_domain_threshold"],
        webhook=bool(_config().get("TRENDING_WEBHOOK_URL")),
    )
