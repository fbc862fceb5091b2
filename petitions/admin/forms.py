"""Admins' forms: every change is a POST with a CSRF token; the services validate values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from ..forms import TOO_LONG, LineField, WebForm
from ..models import RuleAction, RuleKind
from ..services.access_rules import NOTE_MAX, PATTERN_MAX

RULE_KIND_LABELS = {
    RuleKind.DOMAIN: _l("Email domain (globs allowed)"),
    RuleKind.ADDRESS: _l("Email address"),
    RuleKind.NETWORK: _l("IP range (CIDR)"),
}

RULE_ACTION_LABELS = {
    RuleAction.BLOCK: _l("Block: refuse with a clear message"),
    RuleAction.ALLOW: _l("Allow: exempt from the disposable list and the rate limits"),
    RuleAction.REVIEW: _l("Review: accept and hold for a moderator"),
}


class SettingForm(WebForm):
    """A new value for one runtime setting (checked by services/site_settings.py)."""

    value = LineField(
        _l("New value"),
        validators=[InputRequired(_l("Please type a value.")), Length(max=200, message=TOO_LONG)],
    )


class ResetForm(WebForm):
    """Back to the environment's default: nothing but the CSRF token."""


class SwitchForm(WebForm):
    """A kill switch turned on or off."""

    paused = SelectField(
        _l("Paused"),
        choices=[SelectChoice("yes", _l("Pause")), SelectChoice("no", _l("Resume"))],
        validators=[InputRequired(_l("Please choose."))],
    )


class RuleForm(WebForm):
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("", _l("Choose a kind"))]
        + [SelectChoice(kind.value, label) for kind, label in RULE_KIND_LABELS.items()],
        validators=[InputRequired(_l("Please choose a kind."))],
    )
    action = SelectField(
        _l("What it does"),
        choices=[SelectChoice("", _l("Choose an action"))]
        + [SelectChoice(action.value, label) for action, label in RULE_ACTION_LABELS.items()],
        validators=[InputRequired(_l("Please choose what the rule does."))],
    )
    pattern = LineField(
        _l("Pattern"),
        description=_l(
            "example.com (and its subdomains), *.example.com, mailinator.*; "
            "someone@example.com; 203.0.113.0/24, 2001:db8::/32."
        ),
        validators=[
            InputRequired(_l("Please type a pattern.")),
            Length(max=PATTERN_MAX, message=TOO_LONG),
        ],
    )
    note = LineField(
        _l("Why (for the other admins, optional)"),
        validators=[Length(max=NOTE_MAX, message=TOO_LONG)],
    )


class RemoveRuleForm(WebForm):
    """Removing a rule: nothing but the CSRF token."""
