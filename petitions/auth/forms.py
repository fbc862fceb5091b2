"""Account forms: sign-up, login, password reset and change, change of address, deletion."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, ValidationError

from ..forms import TOO_LONG, CleanText, LineField, TextOnly, WebForm, checked_email
from ..models.signature import EMAIL_MAX
from ..models.user import DISPLAY_NAME_MAX
from ..passwords import PASSWORD_MAX, PASSWORD_MIN


def _nfc(value):
    """Passwords are compared as NFC, so the same word typed on another keyboard matches.
    Unlike other text they are not trimmed: spaces are part of a password."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


class SecretField(TextOnly, PasswordField):
    """A password input: NFC, no control characters, at most PASSWORD_MAX characters."""

    def __init__(self, *args, validators=(), **kwargs):
        kwargs.setdefault("render_kw", {"maxlength": PASSWORD_MAX})
        super().__init__(
            *args,
            validators=[
                *validators,
                Length(max=PASSWORD_MAX, message=TOO_LONG),
                CleanText(),
            ],
            filters=[_nfc],
            **kwargs,
        )


def new_password_fields(label=None):
    """The new password, typed twice."""
    password = SecretField(
        label or _l("Password"),
        validators=[
            DataRequired(_l("Please choose a password.")),
            Length(
                min=PASSWORD_MIN,
                message=_l("Please use at least %(min)d characters.", min=PASSWORD_MIN),
            ),
        ],
        description=_l(
            "At least %(min)d characters. A few unrelated words are easy to remember and hard "
            "to guess.",
            min=PASSWORD_MIN,
        ),
        render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX},
    )
    password2 = SecretField(
        _l("The same password again"),
        validators=[
            DataRequired(_l("Please type the password again.")),
            EqualTo("password", _l("The two passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX},
    )
    return password, password2


def email_field(label=None, description=None, autocomplete="email"):
    return LineField(
        label or _l("Email address"),
        validators=[
            DataRequired(_l("Please enter your email address.")),
            Length(max=EMAIL_MAX, message=TOO_LONG),
        ],
        description=description,
        render_kw={
            "autocomplete": autocomplete,
            "inputmode": "email",
            "maxlength": EMAIL_MAX,
            "type": "email",
        },
    )


class _ValidatedEmail:
    """For forms that send mail to the address: it must be one we can write to."""

    normalised_email: str | None = None

    def validate_email(self, field) -> None:
        if not field.data:
            return
        self.normalised_email = checked_email(field.data)


def current_password_field(label=None, message=None):
    return SecretField(
        label or _l("Your current password"),
        validators=[DataRequired(message or _l("Please enter your current password."))],
        render_kw={"autocomplete": "current-password", "maxlength": PASSWORD_MAX},
    )


class SignupForm(_ValidatedEmail, WebForm):
    display_name = LineField(
        _l("Your name"),
        validators=[
            DataRequired(_l("Please enter your name.")),
            Length(max=DISPLAY_NAME_MAX, message=TOO_LONG),
        ],
        description=_l("Shown with the petitions you start."),
        render_kw={"autocomplete": "name", "maxlength": DISPLAY_NAME_MAX},
    )
    email = email_field(description=_l("We send a link to this address to confirm it."))
    password, password2 = new_password_fields()
    consent = BooleanField(
        _l(
            "I agree to the terms of use, and that my name and email address are stored "
            "for my account."
        ),
        validators=[DataRequired(_l("We can only open an account with your agreement."))],
    )

    def validate_display_name(self, field) -> None:
        name = field.data
        if (
            isinstance(name, str)
            and name
            and not any(unicodedata.category(c)[0] in "LN" for c in name)
        ):
            raise ValidationError(_l("Please enter your name."))


class LoginForm(WebForm):
    email = LineField(
        _l("Email address"),
        validators=[
            DataRequired(_l("Please enter your email address.")),
            Length(max=EMAIL_MAX, message=TOO_LONG),
        ],
        render_kw={
            "autocomplete": "username",
            "inputmode": "email",
            "maxlength": EMAIL_MAX,
            "type": "email",
        },
    )
    password = current_password_field(_l("Password"), _l("Please enter your password."))
    next = HiddenField()


class ResetRequestForm(_ValidatedEmail, WebForm):
    email = email_field(description=_l("We send a link to set a new password to this address."))


class ResetPasswordForm(WebForm):
    password, password2 = new_password_fields(_l("New password"))


class ChangePasswordForm(WebForm):
    current_password = current_password_field()
    password, password2 = new_password_fields(_l("New password"))


class ChangeEmailForm(_ValidatedEmail, WebForm):
    email = email_field(
        _l("New email address"),
        description=_l("We send a link to the new address; the change happens when you open it."),
    )
    password = current_password_field()


class MailLanguageForm(WebForm):
    """The language of the account's emails; the choices are the site's languages, each named
    in itself (set by the view from LANGUAGES)."""

    locale = SelectField(
        _l("Language of your emails"),
        description=_l("Links in them open the site in this language."),
        validators=[InputRequired(_l("Please choose a language."))],
        validate_choice=True,
    )


class DeleteAccountForm(WebForm):
    password = current_password_field()
    confirm = BooleanField(
        _l("I understand that my account is deleted for good; my petitions stay public."),
        validators=[DataRequired(_l("Please tick the box to confirm."))],
    )


class ButtonForm(WebForm):
    """A button only (log out, confirm an address): a POST with its CSRF token."""
