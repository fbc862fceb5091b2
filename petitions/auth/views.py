"""Organiser accounts in the browser: /account/signup, login, logout, reset, settings.

Views parse a form, call one function of `services.accounts`, and render or redirect. Every
page here is private (`Cache-Control: no-store`): some carry tokens, the others a user's data.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..extensions import db
from ..http import safe_next
from ..languages import own_name
from ..limits import account_key, limit_posts
from ..models import utcnow
from ..services import accounts
from ..services.accounts import AccountExists, AccountPolicy, TokenProblem, TokenPurpose
from . import log_in, log_out
from .forms import (
    ButtonForm,
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    LoginForm,
    MailLanguageForm,
    ResetPasswordForm,
    ResetRequestForm,
    SignupForm,
)

bp = Blueprint("auth", __name__, url_prefix="/account")


def _policy() -> AccountPolicy:
    return AccountPolicy.from_config(current_app.config)


@bp.after_request
def _no_store(response):
    """Account pages hold personal data or tokens: never cached by browsers or proxies."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _invalid_link(kind: str, status: int = 404):
    return render_template("auth/token_invalid.html", kind=kind), status


def _expired_link(kind: str):
    return render_template("auth/token_expired.html", kind=kind), 410


# --- sign-up and confirmation ----------------------------------------------------------------


@bp.route("/signup", methods=["GET", "POST"])
@limit_posts("rate_signup")
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("auth.settings"))
    form = SignupForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("auth/signup.html", form=form), status
    accounts.sign_up(
        db.session,
        email=form.normalised_email or form.email.data,
        display_name=form.display_name.data,
        password=form.password.data,
        now=utcnow(),
        policy=_policy(),
        locale=str(get_locale()),
    )
    return redirect(url_for("auth.check_email"), code=303)


@bp.get("/check-email")
def check_email():
    return render_template("auth/check_email.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@limit_posts("rate_confirm")
def confirm(token: str):
    """GET shows a button and changes nothing (mail scanners open links); POST confirms."""
    check = accounts.check_token(db.session, TokenPurpose.CONFIRM, token, _policy())
    if check.user is not None and check.user.email_confirmed_at is not None:
        return render_template("auth/confirmed.html", already=True)
    if check.problem is TokenProblem.EXPIRED:
        return _expired_link("confirm")
    if check.user is None:
        return _invalid_link("confirm")
    form = ButtonForm()
    if form.validate_on_submit():
        accounts.confirm_email(db.session, check.user, now=utcnow())
        return render_template("auth/confirmed.html", already=False)
    return render_template("auth/confirm.html", form=form)


# --- login and logout ------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limit_posts("rate_login_address")
@limit_posts("rate_login_account", key_func=account_key)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(form.next.data) or url_for("auth.settings"))
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form), status
    user = accounts.authenticate(
        db.session, form.email.data, form.password.data, now=utcnow(), policy=_policy()
    )
    if user is None:
        return render_template("auth/login.html", form=form, failed=True), 401
    log_in(user)
    return redirect(safe_next(form.next.data) or url_for("auth.settings"), code=303)


@bp.post("/logout")
def logout():
    if ButtonForm().validate_on_submit():
        log_out()
    return redirect(url_for("public.index"), code=303)


# --- password reset --------------------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
@limit_posts("rate_password_reset")
def reset_request():
    form = ResetRequestForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("auth/reset_request.html", form=form), status
    accounts.request_password_reset(
        db.session, form.normalised_email or form.email.data, policy=_policy()
    )
    return redirect(url_for("auth.check_email"), code=303)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_posts("rate_password_reset")
def reset_password(token: str):
    """GET shows the form (changes nothing); POST sets the password once (the token then
    no longer fits the account's credentials version)."""
    check = accounts.check_token(db.session, TokenPurpose.RESET, token, _policy())
    if check.problem is TokenProblem.EXPIRED:
        return _expired_link("reset")
    if check.user is None:
        return _invalid_link("reset")
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("auth/reset_password.html", form=form), status
    accounts.reset_password(db.session, check.user, form.password.data, now=utcnow())
    log_out()
    flash(_("Your password has been changed. You can log in with it now."))
    return redirect(url_for("auth.login"), code=303)


# --- settings (logged in) --------------------------------------------------------------------


def _password_ok(password: str) -> bool:
    return accounts.check_password(
        db.session, current_user._get_current_object(), password, now=utcnow(), policy=_policy()
    )


def _language_form(*, submitted: bool = False) -> MailLanguageForm:
    form = (
        MailLanguageForm()
        if submitted
        else MailLanguageForm(formdata=None, locale=current_user.locale)
    )
    form.locale.choices = [(code, own_name(code)) for code in current_app.config["LANGUAGES"]]
    return form


def _settings_page(status: int = 200, **forms):
    context = {
        "language_form": _language_form(),
        "password_form": ChangePasswordForm(formdata=None),
        "email_form": ChangeEmailForm(formdata=None),
        "delete_form": DeleteAccountForm(formdata=None),
    }
    context.update(forms)
    return render_template("auth/settings.html", **context), status


@bp.get("/settings")
@login_required
def settings():
    return _settings_page()


NOT_YOUR_PASSWORD = _l("This is not your current password.")


@bp.post("/settings/language")
@login_required
def change_language():
    """The language of the account's emails (the pages follow the switcher, not this)."""
    form = _language_form(submitted=True)
    if form.validate_on_submit():
        accounts.set_locale(
            db.session,
            current_user._get_current_object(),
            form.locale.data,
            offered=current_app.config["LANGUAGES"],
        )
        flash(_("Your emails will be in %(language)s.", language=own_name(form.locale.data)))
        return redirect(url_for("auth.settings"), code=303)
    return _settings_page(422, language_form=form)


@bp.post("/settings/password")
@login_required
@limit_posts("rate_login_address")
def change_password():
    """Checks the current password (an argon2 hash each time): limited like logins, so a
    stolen session cannot guess it, nor make the site hash for ever."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if _password_ok(form.current_password.data):
            user = current_user._get_current_object()
            accounts.set_password(db.session, user, form.password.data, now=utcnow())
            # The new credentials version ended every session, this one too: log in again.
            log_in(user)
            flash(_("Your password has been changed. Other devices have been logged out."))
            return redirect(url_for("auth.settings"), code=303)
        form.current_password.errors.append(NOT_YOUR_PASSWORD)
    return _settings_page(422, password_form=form)


@bp.post("/settings/email")
@login_required
@limit_posts("rate_email_change")
def change_email_request():
    form = ChangeEmailForm()
    if form.validate_on_submit():
        if _password_ok(form.password.data):
            new_email = form.normalised_email or form.email.data
            accounts.request_email_change(db.session, current_user, new_email, policy=_policy())
            flash(
                _(
                    "We have sent a link to %(email)s. Your address changes when you open it.",
                    email=new_email,
                )
            )
            return redirect(url_for("auth.settings"), code=303)
        form.password.errors.append(NOT_YOUR_PASSWORD)
    return _settings_page(422, email_form=form)


@bp.route("/email/<token>", methods=["GET", "POST"])
@limit_posts("rate_email_change")
def change_email(token: str):
    """The link sent to a new address: GET shows a button, POST moves the account there."""
    check = accounts.check_token(db.session, TokenPurpose.EMAIL, token, _policy())
    if check.problem is TokenProblem.EXPIRED:
        return _expired_link("email")
    if check.user is None or not check.new_email:
        return _invalid_link("email")
    form = ButtonForm()
    if not form.validate_on_submit():
        return render_template("auth/email_confirm.html", form=form, new_email=check.new_email)
    user = check.user
    was_logged_in = current_user.is_authenticated and current_user.id == user.id
    try:
        accounts.change_email(
            db.session, user, check.new_email, now=utcnow(), rules=_policy().alias_rules
        )
    except AccountExists:
        return _invalid_link("email_taken", 409)
    if was_logged_in:
        log_in(user)
    return render_template("auth/email_changed.html", new_email=check.new_email)


@bp.post("/settings/delete")
@login_required
@limit_posts("rate_login_address")
def delete_account():
    """Checks the password like `change_password`, and is limited the same way."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if _password_ok(form.password.data):
            user = current_user._get_current_object()
            log_out()
            accounts.delete_account(db.session, user, now=utcnow())
            return render_template("auth/deleted.html")
        form.password.errors.append(NOT_YOUR_PASSWORD)
    return _settings_page(422, delete_form=form)
