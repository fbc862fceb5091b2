"""The organiser's side: draft, edit, preview, submit, sponsors, moderation queue, early close;
and who may see which petition.

Logins go through the `login_as` fixture (the login form has tests of its own). Mail goes to
the real SMTP server of the test suite, and sponsors confirm from the links they receive.
"""

import re
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from petitions.extensions import db
from petitions.models import EventAction, Petition, PetitionEvent, Signature, utcnow
from petitions.models.petition import ACTION_MAX, ADDRESSEE_MAX, BACKGROUND_MAX, TITLE_MAX
from tests.fixtures.actors import csrf_token, session_csrf_token, sponsor_sign

SPONSORS = 5


def events(app, petition_id: int) -> list[str]:
    with app.app_context():
        found = db.session.scalars(
            select(PetitionEvent.action)
            .where(PetitionEvent.petition_id == petition_id)
            .order_by(PetitionEvent.id)
        ).all()
        db.session.remove()
        return list(found)


def set_fields(app, petition_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Petition).where(Petition.id == petition_id).values(**values))
        db.session.commit()
        db.session.remove()


def sponsors_confirm(client, signer, share_path: str, emails: list[str]) -> None:
    """Each sponsor signs through the link, then confirms from the email they receive."""
    for email in emails:
        response = sponsor_sign(client, share_path, email)
        assert response.status_code == 303, response.get_data(as_text=True)
    for email in emails:
        page = signer.confirm(signer.confirmation_path(email))
        assert page.status_code == 200, page.get_data(as_text=True)
        assert "Your signature is confirmed" in page.get_data(as_text=True)


# --- the whole path ------------------------------------------------------------------------------


def test_draft_to_moderation(app, client, organiser, signer, mailbox, deliver, get_petition):
    petition_id = organiser.create()
    draft = get_petition(petition_id)
    assert draft.state == "draft" and draft.owner_id == organiser.user_id
    assert draft.signature_goal == 1000

    edited = organiser.post_form(
        f"/organiser/petitions/{petition_id}/edit",
        **{**organiser.DRAFT, "title": "Light the road to Jeti-Oguz", "signature_goal": ""},
    )
    assert edited.status_code == 303
    assert get_petition(petition_id).title == "Light the road to Jeti-Oguz"
    assert get_petition(petition_id).signature_goal is None

    preview = client.get(f"/organiser/petitions/{petition_id}/preview")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Preview" in html and "Light the road to Jeti-Oguz" in html
    assert '<meta name="robots" content="noindex' in html
    assert preview.headers["X-Robots-Tag"] == "noindex"
    assert "Three accidents this year." in html

    # Not public before it opens, even to its organiser.
    assert client.get(f"/petitions/{petition_id}").status_code == 404

    submitted = organiser.submit(petition_id)
    assert submitted.status_code == 303
    petition = get_petition(petition_id)
    assert petition.state == "sponsoring" and petition.submitted_at is not None
    share_path = organiser.share_path(petition_id)

    emails = [f"sponsor{n}@example.kg" for n in range(SPONSORS)]
    sponsors_confirm(client, signer, share_path, emails[:-1])
    assert get_petition(petition_id).state == "sponsoring"
    sponsors_confirm(client, signer, share_path, emails[-1:])

    petition = get_petition(petition_id)
    assert petition.state == "moderation"
    assert petition.moderation_requested_at is not None
    assert events(app, petition_id) == [
        EventAction.CREATED,
        EventAction.EDITED,
        EventAction.SUBMITTED,
        EventAction.ENTERED_MODERATION,
    ]
    with app.app_context():
        flags = db.session.execute(
            select(Signature.is_sponsor, Signature.status).where(
                Signature.petition_id == petition_id
            )
        ).all()
        db.session.remove()
    assert sorted(flags) == [(True, "confirmed")] * SPONSORS

    deliver()
    mail = mailbox.last_to("organiser@example.kg")
    assert "awaiting moderation" in mail["Subject"]
    assert "Light the road to Jeti-Oguz" in mail["Subject"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"http://localhost/organiser/petitions/{petition_id}" in body
    assert "5 confirmed sponsors" in body

    page = client.get(f"/organiser/petitions/{petition_id}").get_data(as_text=True)
    assert "Awaiting moderation" in page

    # Once a moderator opens it, the sponsors are ordinary signatures in the public total.
    set_fields(app, petition_id, state="open", opened_at=utcnow())
    assert signer.count(petition_id) == SPONSORS
    assert client.get(share_path).status_code == 303  # the link now leads to the public page


def test_my_petitions_lists_only_mine(app, client, organiser, make_user, make_petition):
    mine = organiser.create(title="Mine")
    other_user = make_user(email="other@example.kg")
    theirs = make_petition(state="draft", title="Somebody else's")
    set_fields(app, theirs, owner_id=other_user)
    html = client.get("/organiser/petitions").get_data(as_text=True)
    assert "Mine" in html and "Draft" in html
    assert f"/organiser/petitions/{mine}" in html
    assert "Somebody else" not in html


# --- one form, one petition ---------------------------------------------------------------------


def test_double_submit_creates_one_petition(app, client, organiser):
    page = client.get("/organiser/petitions/new").get_data(as_text=True)
    from tests.fixtures.actors import creation_key

    data = {
        "csrf_token": csrf_token(page),
        "creation_key": creation_key(page),
        **organiser.DRAFT,
    }
    first = client.post("/organiser/petitions/new", data=data)
    second = client.post("/organiser/petitions/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Petition)) == 1
        db.session.remove()
    # A fresh form is a new petition.
    organiser.create()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Petition)) == 2
        db.session.remove()


def test_another_accounts_creation_key_makes_nothing(app, client, organiser, make_user, login_as):
    page = client.get("/organiser/petitions/new").get_data(as_text=True)
    from tests.fixtures.actors import creation_key

    data = {"csrf_token": csrf_token(page), "creation_key": creation_key(page), **organiser.DRAFT}
    assert client.post("/organiser/petitions/new", data=data).status_code == 303
    login_as(make_user(email="other@example.kg"))
    page = client.get("/organiser/petitions/new").get_data(as_text=True)
    replay = client.post("/organiser/petitions/new", data={**data, "csrf_token": csrf_token(page)})
    assert replay.status_code == 422
    assert "please check it and send it again" in replay.get_data(as_text=True)


# --- drafts only change while they are drafts ----------------------------------------------------


def test_editing_after_submit_is_refused(app, client, organiser, get_petition):
    petition_id = organiser.create()
    page = client.get(f"/organiser/petitions/{petition_id}/edit").get_data(as_text=True)
    assert organiser.submit(petition_id).status_code == 303

    assert client.get(f"/organiser/petitions/{petition_id}/edit").status_code == 409
    late = client.post(
        f"/organiser/petitions/{petition_id}/edit",
        data={"csrf_token": csrf_token(page), **organiser.DRAFT, "title": "Changed after"},
    )
    assert late.status_code == 409
    assert "can no longer be edited" in late.get_data(as_text=True)
    assert get_petition(petition_id).title == organiser.DRAFT["title"]
    # Submitting twice changes nothing either.
    again = organiser.submit(petition_id)
    assert again.status_code == 303
    assert events(app, petition_id).count(EventAction.SUBMITTED) == 1


def test_sent_back_draft_shows_the_note_and_goes_straight_to_moderation(
    app, client, organiser, signer, get_petition, mailbox, deliver
):
    petition_id = organiser.create()
    organiser.submit(petition_id)
    share_path = organiser.share_path(petition_id)
    sponsors_confirm(client, signer, share_path, [f"s{n}@example.kg" for n in range(SPONSORS)])
    assert get_petition(petition_id).state == "moderation"
    # A moderator sends it back (the moderation service has tests of its own).
    set_fields(app, petition_id, state="draft", changes_requested="Please name the road's length.")

    overview = client.get(f"/organiser/petitions/{petition_id}").get_data(as_text=True)
    assert "Please name the road&#39;s length." in overview
    edit_page = client.get(f"/organiser/petitions/{petition_id}/edit").get_data(as_text=True)
    assert "Please name the road&#39;s length." in edit_page
    assert client.get(share_path).status_code == 409  # not collecting while being changed

    edited = organiser.post_form(
        f"/organiser/petitions/{petition_id}/edit",
        **{**organiser.DRAFT, "action": "Install 40 km of street lights."},
    )
    assert edited.status_code == 303
    assert organiser.submit(petition_id).status_code == 303
    petition = get_petition(petition_id)
    assert petition.state == "moderation"
    assert petition.action == "Install 40 km of street lights."
    assert events(app, petition_id)[-2:] == [EventAction.SUBMITTED, EventAction.ENTERED_MODERATION]


# --- closing early --------------------------------------------------------------------------------


def test_organiser_closes_an_open_petition(app, client, organiser, signer, get_petition):
    petition_id = organiser.create()
    set_fields(app, petition_id, state="open", opened_at=utcnow())
    confirm_page = client.get(f"/organiser/petitions/{petition_id}/close")
    assert confirm_page.status_code == 200
    assert "Close your petition?" in confirm_page.get_data(as_text=True)
    assert get_petition(petition_id).state == "open"  # a GET changes nothing

    no_csrf = client.post(f"/organiser/petitions/{petition_id}/close")
    assert no_csrf.status_code == 400
    assert "This form has expired" in no_csrf.get_data(as_text=True)
    assert get_petition(petition_id).state == "open"

    closed = organiser.post_form(f"/organiser/petitions/{petition_id}/close")
    assert closed.status_code == 303
    petition = get_petition(petition_id)
    assert petition.state == "closed" and petition.closed_at is not None
    assert events(app, petition_id)[-1] == EventAction.CLOSED
    assert "is closed" in client.get(f"/petitions/{petition_id}").get_data(as_text=True).lower()
    assert client.get(f"/organiser/petitions/{petition_id}/close").status_code == 409


def test_only_open_petitions_close(client, organiser):
    petition_id = organiser.create()
    page = client.get(f"/organiser/petitions/{petition_id}/close")
    assert page.status_code == 409
    assert "Only an open petition can be closed." in page.get_data(as_text=True)


# --- who may see what ----------------------------------------------------------------------------

ROUTES = [
    ("GET", "/organiser/petitions/{id}"),
    ("GET", "/organiser/petitions/{id}/edit"),
    ("POST", "/organiser/petitions/{id}/edit"),
    ("GET", "/organiser/petitions/{id}/preview"),
    ("POST", "/organiser/petitions/{id}/submit"),
    ("GET", "/organiser/petitions/{id}/close"),
    ("POST", "/organiser/petitions/{id}/close"),
]


@pytest.mark.parametrize("role", ["organiser", "moderator", "admin"])
@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_other_accounts_get_404(
    app, client, make_user, login_as, make_petition, get_petition, role, method, route
):
    owner = make_user(email="owner@example.kg")
    petition_id = make_petition(state="draft", title="The owner's secret draft")
    set_fields(app, petition_id, owner_id=owner)
    login_as(make_user(email=f"{role}@example.kg", role=role))
    page = client.get("/organiser/petitions/new").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "title": "Taken over", "action": "x", "addressee": "y"}
    response = client.open(route.format(id=petition_id), method=method, data=data)
    assert response.status_code == 404
    assert "secret draft" not in response.get_data(as_text=True)
    assert get_petition(petition_id).title == "The owner's secret draft"
    assert get_petition(petition_id).state == "draft"


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_unknown_petitions_are_404(client, organiser, method, route):
    # With the form's CSRF token, so a POST is answered for its petition, not for the token.
    page = client.get("/organiser/petitions/new").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page)} if method == "POST" else None
    for petition_id in (999999, 2**31, 2**70):
        response = client.open(route.format(id=petition_id), method=method, data=data)
        assert response.status_code == 404, (petition_id, response.status_code)


@pytest.mark.parametrize(
    ("method", "route"),
    [("GET", "/organiser/petitions"), ("GET", "/organiser/petitions/new"), *ROUTES],
)
def test_anonymous_visitors_are_sent_to_log_in(app, client, make_petition, method, route):
    petition_id = make_petition(state="draft")
    # A valid CSRF token of the anonymous session (from the log-in form), so a POST is
    # refused for want of a login, not for want of a token.
    data = {"csrf_token": session_csrf_token(client)} if method == "POST" else None
    url = route.format(id=petition_id)
    response = client.open(url, method=method, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/account/login?next={quote(url, safe='')}"


def test_organiser_pages_are_private(client, organiser):
    petition_id = organiser.create()
    for path in ("/organiser/petitions", f"/organiser/petitions/{petition_id}"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-store"


# --- bad input gets a clear message ------------------------------------------------------------

BAD_INPUT = [
    ({"title": ""}, "Please give your petition a title."),
    ({"title": "x" * (TITLE_MAX + 1)}, f"at most {TITLE_MAX} characters"),
    ({"action": "y" * (ACTION_MAX + 1)}, f"at most {ACTION_MAX} characters"),
    ({"background": "z" * (BACKGROUND_MAX + 1)}, f"at most {BACKGROUND_MAX} characters"),
    ({"addressee": "w" * (ADDRESSEE_MAX + 1)}, f"at most {ADDRESSEE_MAX} characters"),
    ({"action": "   \n  "}, "Please say what the petition asks for."),
    ({"addressee": ""}, "Please say who the petition is addressed to."),
    ({"title": "Bell\x07"}, "characters we cannot accept"),
    ({"title": "Two\nlines"}, "characters we cannot accept"),
    ({"action": "Null\x00byte"}, "characters we cannot accept"),
    ({"background": "Escape \x1b[31m red"}, "characters we cannot accept"),
    ({"addressee": "Private \ue000 use"}, "characters we cannot accept"),
    ({"signature_goal": "0"}, "Please enter a whole number from 1 to"),
    ({"signature_goal": "-5"}, "Please enter a whole number from 1 to"),
    ({"signature_goal": str(2**40)}, "Please enter a whole number from 1 to"),
    ({"signature_goal": "lots"}, "Please enter a whole number from 1 to"),
    ({"creation_key": ""}, "This form has expired"),
    ({"creation_key": "short"}, "This form has expired"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_INPUT)
def test_bad_input_on_create(app, client, organiser, fields, message):
    response = organiser.post_new(**fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Petition)) == 0
        db.session.remove()


@pytest.mark.parametrize(
    ("fields", "message"), [case for case in BAD_INPUT if "creation_key" not in case[0]]
)
def test_bad_input_on_edit(client, organiser, get_petition, fields, message):
    petition_id = organiser.create()
    response = organiser.post_form(
        f"/organiser/petitions/{petition_id}/edit", **{**organiser.DRAFT, **fields}
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert get_petition(petition_id).title == organiser.DRAFT["title"]


def test_undecodable_bytes_are_refused(client, organiser):
    page = client.get("/organiser/petitions/new").get_data(as_text=True)
    from tests.fixtures.actors import creation_key

    body = (
        f"csrf_token={csrf_token(page)}&creation_key={creation_key(page)}"
        "&title=%FF%FE&action=Do+it&addressee=Council"
    )
    response = client.post(
        "/organiser/petitions/new",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 422
    assert "characters we cannot accept" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/organiser/petitions/new", "/organiser/petitions/{id}/edit"])
def test_missing_csrf_token_is_explained(client, organiser, get_petition, path):
    petition_id = organiser.create()
    response = client.post(path.format(id=petition_id), data=organiser.DRAFT)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    submit = client.post(f"/organiser/petitions/{petition_id}/submit")
    assert submit.status_code == 400
    assert get_petition(petition_id).state == "draft"


def test_texts_are_normalised(client, organiser, get_petition):
    petition_id = organiser.create(
        title="  Cafe\u0301 lights  ", action="Line one   \r\nLine two\r\n\r\n"
    )
    petition = get_petition(petition_id)
    assert petition.title == "Caf\u00e9 lights"
    assert petition.action == "Line one\nLine two"


def test_preview_escapes_what_the_organiser_wrote(client, organiser):
    petition_id = organiser.create(title="<script>alert(1)</script>")
    html = client.get(f"/organiser/petitions/{petition_id}/preview").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert re.search(r"&lt;script&gt;alert\(1\)&lt;/script&gt;", html)


def test_racing_submissions_of_one_form_create_one_petition(app, make_user):
    """Four requests carrying the same creation key at the same moment (a double click on a
    slow connection): one INSERT wins at the unique constraint, the others find its petition."""
    from petitions.forms import new_one_time_key as new_creation_key
    from petitions.services.lifecycle import create_draft
    from petitions.services.petitions import PetitionDraft
    from tests.fixtures.threads import run_in_threads

    owner = make_user()
    key = new_creation_key()
    draft = PetitionDraft(title="Once", action="Only once.", addressee="Council")

    def create():
        with app.app_context():
            try:
                return create_draft(
                    db.session, draft, owner_id=owner, creation_key=key, now=utcnow()
                )
            finally:
                db.session.remove()

    results = run_in_threads([create] * 4)
    assert len({petition_id for petition_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert events(app, results[0][0]) == [EventAction.CREATED]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Petition)) == 1
        db.session.remove()
