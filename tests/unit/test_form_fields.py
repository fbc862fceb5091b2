"""The app's fields and validators take any value without raising: what is not text is refused
with a message. Form bodies only ever hold strings, but code may hand a form any mapping."""

from __future__ import annotations

from io import BytesIO

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms.validators import ValidationError

from petitions.auth.forms import ChangeEmailForm, ChangePasswordForm, LoginForm, SignupForm
from petitions.auth.views import safe_next
from petitions.forms import NOT_TEXT, TextOnly, checked_email
from petitions.moderation.forms import EditForm, HideForm, RejectForm
from petitions.organiser.update_forms import UpdateForm
from petitions.signing.forms import SignForm

HOSTILE = {
    "integer": 12345,
    "float": 1.5e308,
    "boolean": True,
    "null": None,
    "list": [1, None],
    "object": {"$ne": "", "inner": {"deeper": [1]}},
    "file": FileStorage(BytesIO(b"aigul@example.kg"), "email.txt"),
}

FORMS = [
    SignForm,
    SignupForm,
    LoginForm,
    ChangePasswordForm,
    ChangeEmailForm,
    UpdateForm,
    RejectForm,
    HideForm,
    EditForm,
]


def _formdata(form_class, value) -> MultiDict:
    data = MultiDict()
    for name in form_class(formdata=None, meta={"csrf": False})._fields:
        if isinstance(value, list):
            data.setlist(name, value)
        else:
            data.add(name, value)
    return data


@pytest.mark.parametrize("form_class", FORMS)
@pytest.mark.parametrize("value", HOSTILE, ids=list(HOSTILE))
def test_forms_refuse_values_that_are_not_text(app, form_class, value):
    with app.test_request_context():
        form = form_class(formdata=_formdata(form_class, HOSTILE[value]), meta={"csrf": False})
        assert form.validate() is False
        text_fields = [f for f in form if isinstance(f, TextOnly)]
        assert text_fields
        for field in text_fields:
            # Refused (as not text, or as missing where a value is required), and held as "".
            assert field.errors, field.name
            assert field.data == "", (field.name, field.data)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=list(HOSTILE))
def test_checked_email_refuses_what_is_not_text(app, value):
    with app.app_context(), pytest.raises(ValidationError) as refused:
        checked_email(value)
    assert str(refused.value) == str(NOT_TEXT)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=list(HOSTILE))
def test_a_next_page_that_is_not_text_is_ignored(value):
    assert safe_next(value) is None
