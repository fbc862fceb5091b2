"""The sign form."""

from __future__ import annotations

import unicodedata
from functools import cache

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import html_params

from ..countries import country_choices, is_country
from ..forms import TOO_LONG, LineField, WebForm, checked_email
from ..models.signature import EMAIL_MAX, NAME_MAX, REGION_MAX
from ..services.signing import Signer


@cache
def _country_options(locale: str) -> str:
    """Every country as an <option>, escaped, for one locale."""
    return "".join(
        str(Markup('<option value="{}">{}</option>').format(code, name))
        for code, name in country_choices(locale)
    )


class CountrySelect:
    """The country <select>, its ~250 options rendered once per locale and reused.

    WTForms' Select widget rebuilds every option on every page view, which was the largest
    cost of showing a petition (several ms of a ~8 ms page).
    """

    def __call__(self, field, **kwargs) -> Markup:
        kwargs.setdefault("id", field.id)
        placeholder = Markup('<option value="">{}</option>').format(_("Choose a country"))
        options = _country_options(str(get_locale()))
        if field.data and is_country(field.data):
            options = options.replace(
                f'<option value="{field.data}">', f'<option selected value="{field.data}">', 1
            )
        attributes = Markup(html_params(name=field.name, **kwargs))  # noqa: S704 (escaped)
        return Markup("<select {}>{}{}</select>").format(attributes, placeholder, Markup(options))  # noqa: S704


class SessionlessForm(WebForm):
    """A form that needs no session: shown on pages a shared cache serves to everyone (the
    sign form), or reached through a link whose token is itself the secret a forger lacks
    (the confirmation buttons). Its views take `security.same_origin_posts` instead of the
    session's CSRF token, so showing it sets no cookie."""

    class Meta:
        csrf = False


class SignForm(SessionlessForm):
    name = LineField(
        _l("Full name"),
        validators=[
            DataRequired(_l("Please enter your name.")),
            Length(max=NAME_MAX, message=TOO_LONG),
        ],
        render_kw={"autocomplete": "name", "maxlength": NAME_MAX},
    )
    email = LineField(
        _l("Email address"),
        validators=[
            DataRequired(_l("Please enter your email address.")),
            Length(max=EMAIL_MAX, message=TOO_LONG),
        ],
        description=_l("We send a link to this address; your signature counts once you confirm."),
        render_kw={
            "autocomplete": "email",
            "inputmode": "email",
            "maxlength": EMAIL_MAX,
            "type": "email",
        },
    )
    country = SelectField(
        _l("Country"),
        validators=[InputRequired(_l("Please choose your country."))],
        validate_choice=False,
        widget=CountrySelect(),
        render_kw={"autocomplete": "country"},
    )
    region = LineField(
        _l("Region or city (optional)"),
        validators=[Length(max=REGION_MAX, message=TOO_LONG)],
        render_kw={"autocomplete": "address-level1", "maxlength": REGION_MAX},
    )
    consent = BooleanField(
        _l(
            "I agree that my name, country and region are stored to count my signature, "
            "and my email address until I confirm it (longer only if I ask for updates or "
            "to share it below). The organiser never sees my address unless I choose to "
            "share it."
        ),
        validators=[DataRequired(_l("We can only count your signature with your agreement."))],
    )
    wants_updates = BooleanField(
        _l(
            "Email me about this petition's progress (optional). This site sends these "
            "emails; the organiser does not get my address."
        )
    )
    share_email = BooleanField(
        _l("Share my email address with the petition's organiser (optional).")
    )
    show_name = BooleanField(_l("Show my name as a signer to the petition's organiser (optional)."))
    #: A trap for scripts that fill every input: hidden from sight by CSS (`.hp`) and from
    #: screen readers (aria-hidden on its wrapper), out of the tab order; filled, the signature
    #: is accepted as any other and held for review (services/screening.py).
    website = StringField(
        _l("Leave this field empty"),
        render_kw={"tabindex": "-1", "autocomplete": "off"},
    )
    #: tokens.make_served_token: when the page was made (the time to submit).
    served = HiddenField()
    #: proofofwork.issue, when the proof of work is on; pow.js fills `proof_nonce`.
    proof_challenge = HiddenField()
    proof_nonce = HiddenField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.normalised_email: str | None = None
        #: The proof of work's difficulty, for pow.js (signing/screen.prepare).
        self.proof_bits = 0
        #: Where pow.js fetches a challenge when the page carries none (a shared page).
        self.proof_url: str | None = None

    def validate_country(self, field) -> None:
        if field.data and not is_country(field.data):
            raise ValidationError(_l("Please choose your country from the list."))

    def validate_name(self, field) -> None:
        if field.data and not any(unicodedata.category(c)[0] in "LN" for c in field.data):
            raise ValidationError(_l("Please enter your name."))

    def validate_email(self, field) -> None:
        self.normalised_email = checked_email(field.data or "")

    @property
    def honeypot_filled(self) -> bool:
        return bool((self.website.data or "").strip())

    def signer(self) -> Signer:
        return Signer(
            name=self.name.data,
            email=self.normalised_email or self.email.data,
            country=self.country.data,
            region=self.region.data or None,
            wants_updates=bool(self.wants_updates.data),
            show_name=bool(self.show_name.data),
            share_email=bool(self.share_email.data),
            locale=str(get_locale()),
        )


class ConfirmForm(SessionlessForm):
    """A button only: confirming needs a POST (mail scanners open links with GET)."""


class ResendForm(SessionlessForm):
    """A button only: asks for a fresh confirmation link."""
