"""The form of an organiser's update."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, Length

from ..forms import TOO_LONG, LineField, OneTimeKeyField, ParagraphsField, WebForm
from ..models.updates import UPDATE_BODY_MAX, UPDATE_TITLE_MAX


class UpdateForm(WebForm):
    """Title and text, with the form's one-time key: submitting it twice posts one update."""

    title = LineField(
        _l("Title"),
        validators=[
            DataRequired(_l("Please give your update a title.")),
            Length(max=UPDATE_TITLE_MAX, message=TOO_LONG),
        ],
        render_kw={"maxlength": UPDATE_TITLE_MAX},
    )
    body = ParagraphsField(
        _l("Update"),
        validators=[
            DataRequired(_l("Please write your update.")),
            Length(max=UPDATE_BODY_MAX, message=TOO_LONG),
        ],
        description=_l("Plain text; leave an empty line between paragraphs."),
        render_kw={"maxlength": UPDATE_BODY_MAX, "rows": 10},
    )
    creation_key = OneTimeKeyField()
