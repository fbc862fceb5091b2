"""Bad input on the sign form: every refusal is a clear page with the right status, the
person's typing is kept, and nothing is stored or mailed.

Also: signing where signing is not possible (unknown, draft, closed, past-deadline petitions),
submitting twice, the cap on confirmation mails, and one signature per mailbox.
"""

from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from petitions.extensions import db
from petitions.models import OutboxMessage, Signature, utcnow
from tests.fixtures.actors import csrf_token
from tests.fixtures.factories import move_deadline_to_past
from tests.fixtures.mail import confirm_link

GOOD = {"name": "Aibek Asanov", "email": "aibek@example.kg", "country": "KG", "region": "Chüy"}


def form_token(client, petition_id: int) -> str:
    """The CSRF token of the sign form, as a browser that loaded the petition page has it."""
    page = client.get(f"/petitions/{petition_id}")
    assert page.status_code == 200
    return csrf_token(page.get_data(as_text=True))


def post_sign(client, petition_id: int, token: str | None, *, consent: bool = True, **fields):
    data = {**GOOD, **fields}
    if token is not None:
        data["csrf_token"] = token
    if consent:
        data["consent"] = "y"
    return client.post(f"/petitions/{petition_id}/sign", data=data)


def page_text(response) -> str:
    """The page with HTML entities decoded, to look for messages as a reader sees them."""
    return html.unescape(response.get_data(as_text=True))


def stored(app) -> tuple[int, int]:
    """(signature rows, queued or sent mails): what a refused submission must leave at 0."""
    with app.app_context():
        signatures = db.session.scalar(select(func.count()).select_from(Signature))
        mails = db.session.scalar(select(func.count()).select_from(OutboxMessage))
        db.session.remove()
    return signatures, mails


def assert_refused(response, app, *messages: str, status: int = 422) -> str:
    """A refused sign form: status, every message shown, the error summary, nothing stored."""
    text = page_text(response)
    assert response.status_code == status, text
    assert "Traceback" not in text
    for message in messages:
        assert message in text
    if status == 422:
        assert "Please correct the highlighted fields." in text
        assert 'class="field has-error"' in response.get_data(as_text=True)
    assert stored(app) == (0, 0)
    return text


# --- lengths and required fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "A" * 101),
        ("region", "Ч" * 101),
        ("email", "a" * 64 + "@" + "b" * 63 + "." + "b" * 63 + "." + "b" * 59 + ".kg"),
    ],
)
def test_over_long_field_is_refused_with_its_limit(client, app, petition, field, value):
    response = post_sign(client, petition, form_token(client, petition), **{field: value})
    text = assert_refused(response, app, "Please use at most")
    assert f'id="{field}-error"' in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ү" * 100),
        ("region", "Ысык-Көл " * 11 + "а"),
        ("email", "a" * 64 + "@" + "b" * 63 + "." + "b" * 63 + "." + "b" * 58 + ".kg"),
    ],
)
def test_field_at_its_limit_is_accepted(client, app, petition, field, value):
    assert len(value) == {"name": 100, "region": 100, "email": 254}[field]
    response = post_sign(client, petition, form_token(client, petition), **{field: value})
    assert response.status_code == 303, page_text(response)
    with app.app_context():
        signature = db.session.scalars(select(Signature)).one()
        assert getattr(signature, field) == value.strip()


def test_oversized_request_gets_a_clear_413(client, app, petition):
    response = post_sign(client, petition, form_token(client, petition), region="x" * 300_000)
    assert_refused(response, app, "Too much data", status=413)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Please enter your name."),
        ({"name": "   \u00a0 "}, "Please enter your name."),
        ({"name": "\u200b\u200d"}, "Please enter your name."),
        ({"name": "..."}, "Please enter your name."),
        ({"email": ""}, "Please enter your email address."),
        ({"email": "  "}, "Please enter your email address."),
        ({"country": ""}, "Please choose your country."),
    ],
)
def test_empty_required_field_is_refused(client, app, petition, fields, message):
    response = post_sign(client, petition, form_token(client, petition), **fields)
    assert_refused(response, app, message)


def test_missing_fields_are_all_reported_at_once(client, app, petition):
    token = form_token(client, petition)
    response = client.post(f"/petitions/{petition}/sign", data={"csrf_token": token})
    assert_refused(
        response,
        app,
        "Please enter your name.",
        "Please enter your email address.",
        "Please choose your country.",
        "We can only count your signature with your agreement.",
    )


def test_missing_consent_is_refused_and_typing_kept(client, app, petition):
    response = post_sign(client, petition, form_token(client, petition), consent=False)
    text = assert_refused(response, app, "We can only count your signature with your agreement.")
    # What the person typed is still in the form, so they only tick the box and send again.
    assert 'value="Aibek Asanov"' in text
    assert 'value="aibek@example.kg"' in text
    assert '<option selected value="KG">' in text


# --- characters we cannot store --------------------------------------------------------------

CANNOT_ACCEPT = "This field contains characters we cannot accept"


@pytest.mark.parametrize("field", ["name", "region"])
@pytest.mark.parametrize(
    "char",
    ["\x00", "\x1b", "\x07", "\x7f", "\x85", "\t", "\ufffd", "\ue000"],
    ids=["NUL", "ESC", "BEL", "DEL", "NEL", "TAB", "REPLACEMENT", "PRIVATE-USE"],
)
def test_control_and_invalid_characters_are_refused(client, app, petition, field, char):
    response = post_sign(client, petition, form_token(client, petition), **{field: f"Ai{char}bek"})
    text = assert_refused(response, app, CANNOT_ACCEPT)
    assert f'id="{field}-error"' in text


def test_control_character_in_email_is_refused(client, app, petition):
    response = post_sign(
        client, petition, form_token(client, petition), email="ai\x00bek@example.kg"
    )
    assert_refused(response, app, CANNOT_ACCEPT)


@pytest.mark.parametrize(
    "name",
    [
        "Мөлдір Асанова",
        "میر\u200cحسین",  # ZERO WIDTH NON-JOINER (Cf) is part of Persian spelling
        "\u202eAibek",  # RIGHT-TO-LEFT OVERRIDE (Cf): allowed; only Cc, Cs, Co and U+FFFD are not
    ],
)
def test_format_characters_are_accepted(client, app, petition, name):
    response = post_sign(client, petition, form_token(client, petition), name=name)
    assert response.status_code == 303, page_text(response)
    with app.app_context():
        assert db.session.scalars(select(Signature.name)).one() == name


def test_decomposed_name_is_stored_composed(client, app, petition):
    response = post_sign(
        client, petition, form_token(client, petition), name="Chu\u0308y Ko\u0308l"
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Signature.name)).one() == "Chüy Köl"


@pytest.mark.parametrize(
    "raw",
    [b"%FF", b"\xff", b"%E2%82", b"%C0%AF", b"%ED%A0%80"],
    ids=["pct-FF", "raw-FF", "truncated-utf8", "overlong-utf8", "encoded-surrogate"],
)
def test_undecodable_bytes_are_refused(client, app, petition, raw):
    """Bytes that are not UTF-8 arrive as U+FFFD, which we refuse rather than store."""
    token = form_token(client, petition)
    body = (
        f"csrf_token={quote(token)}&email=aibek%40example.kg&country=KG&consent=y&name=Ai".encode()
        + raw
        + b"bek"
    )
    response = client.post(
        f"/petitions/{petition}/sign",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    text = assert_refused(response, app, CANNOT_ACCEPT)
    assert 'id="name-error"' in text


def test_undecodable_bytes_in_a_multipart_form_are_refused(client, app, petition):
    fields = {"csrf_token": form_token(client, petition), **GOOD, "consent": "y"}
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
        + (b"Ai\xffbek" if key == "name" else value.encode())
        + b"\r\n"
        for key, value in fields.items()
    ]
    response = client.post(
        f"/petitions/{petition}/sign",
        data=b"".join(parts) + b"--b--\r\n",
        content_type="multipart/form-data; boundary=b",
    )
    text = assert_refused(response, app, CANNOT_ACCEPT)
    assert 'id="name-error"' in text


def test_a_typed_percent_sign_is_kept_as_typed(client, app, petition):
    """`%FF` typed by a person arrives as `%25FF`: it is text, not an undecodable byte."""
    response = post_sign(client, petition, form_token(client, petition), region="100%FF")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Signature.region)).one() == "100%FF"


# --- email addresses -------------------------------------------------------------------------

NOT_AN_ADDRESS = "This does not look like an email address we can write to:"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("aibek", "must have an @-sign"),
        ("aibek@", "There must be something after the @-sign"),
        ("@example.kg", "There must be something before the @-sign"),
        ("aibek@@example.kg", "invalid characters: '@'"),
        ("aibek@example", "It should have a period"),
        ("aibek @example.kg", "invalid characters before the @-sign: SPACE"),
        ("a..bek@example.kg", "cannot have two periods in a row"),
        ("aibek@localhost", "It should have a period"),
        ("aibek@petitions.invalid", "special-use or reserved name"),
        ("<aibek@example.kg>", "angle brackets"),
        ("Aibek <aibek@example.kg>", "angle brackets"),
        ("aibek@[127.0.0.1]", "bracketed IP address"),
        ("ai\u200bbek@example.kg", "unsafe characters: ZERO WIDTH SPACE"),
    ],
)
def test_invalid_email_is_refused_with_the_reason(client, app, petition, address, reason):
    response = post_sign(client, petition, form_token(client, petition), email=address)
    text = assert_refused(response, app, NOT_AN_ADDRESS, reason)
    assert 'id="email-error"' in text
    # The address is shown back escaped, never as markup.
    assert "<aibek@" not in response.get_data(as_text=True)


# --- country ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ZZ", "kg", "KGZ", "K\x00", "<b>"])
def test_unknown_country_code_is_refused(client, app, petition, code):
    response = post_sign(client, petition, form_token(client, petition), country=code)
    text = assert_refused(response, app, "Please choose your country from the list.")
    assert 'id="country-error"' in text
    assert "<b>" not in response.get_data(as_text=True)


# --- CSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
def test_a_post_from_another_site_gets_the_cross_site_page(client, app, petition, origin):
    """The sign form needs no session (tests/web/test_shared_pages.py has the rest)."""
    response = client.post(f"/petitions/{petition}/sign", data=GOOD, headers={"Origin": origin})
    assert_refused(response, app, "This form was sent from another site", status=403)


# --- petitions that cannot be signed ---------------------------------------------------------


@pytest.mark.parametrize("petition_id", ["999999", "0", "2147483648", "99999999999999999999"])
def test_unknown_petition_is_404(client, app, petition, petition_id):
    token = form_token(client, petition)
    response = client.post(f"/petitions/{petition_id}/sign", data={**GOOD, "csrf_token": token})
    assert_refused(response, app, "Page not found", status=404)
    assert client.get(f"/petitions/{petition_id}").status_code == 404
    assert client.get(f"/petitions/{petition_id}/count.json").status_code == 404


def test_draft_petition_is_404(client, app, make_petition, petition):
    draft = make_petition(state="draft", title="Not published yet")
    token = form_token(client, petition)
    page = client.get(f"/petitions/{draft}")
    assert page.status_code == 404
    assert "Not published yet" not in page_text(page)
    response = post_sign(client, draft, token)
    text = assert_refused(response, app, "Page not found", status=404)
    assert "Not published yet" not in text


def assert_not_open(response, app, deliver, mailbox) -> None:
    assert_refused(response, app, "This petition is not open for signatures", status=409)
    deliver()
    assert mailbox.messages == []


def test_petition_closed_while_the_form_was_open(client, app, runner, petition, deliver, mailbox):
    token = form_token(client, petition)
    result = runner.invoke(args=["petition", "close", str(petition)])
    assert result.exit_code == 0, result.output
    response = post_sign(client, petition, token)
    assert_not_open(response, app, deliver, mailbox)
    page = client.get(f"/petitions/{petition}")
    assert "This petition is closed and no longer accepts signatures." in page_text(page)
    assert 'name="csrf_token"' not in page_text(page)


def test_petition_past_its_deadline(client, app, petition, deliver, mailbox):
    token = form_token(client, petition)
    move_deadline_to_past(app, petition)
    response = post_sign(client, petition, token)
    assert_not_open(response, app, deliver, mailbox)
    page = client.get(f"/petitions/{petition}")
    assert page.status_code == 200
    assert "no longer accepts signatures" in page_text(page)


def test_closed_petition_refuses_even_invalid_input_with_409(client, app, runner, petition):
    token = form_token(client, petition)
    runner.invoke(args=["petition", "close", str(petition)])
    response = post_sign(client, petition, token, email="not an address", name="\x00")
    assert_refused(response, app, "not open for signatures", status=409)


# --- submitting more than once ---------------------------------------------------------------


def signature_rows(app) -> list[Signature]:
    with app.app_context():
        rows = list(db.session.scalars(select(Signature).order_by(Signature.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_double_submit_keeps_one_signature_and_resends_the_link(
    client, app, petition, signer, mailbox, deliver
):
    token = form_token(client, petition)
    first = post_sign(client, petition, token)
    second = post_sign(client, petition, token)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(signature_rows(app)) == 1

    deliver()
    mails = mailbox.to("aibek@example.kg")
    assert len(mails) == 2
    paths = [confirm_link(mail).removeprefix("http://localhost") for mail in mails]
    for path in paths:
        page = client.get(path)
        assert page.status_code == 200
        assert "Confirm my signature" in page_text(page)
    assert "Your signature is confirmed" in page_text(signer.confirm(paths[0]))
    assert "Already confirmed" in page_text(signer.confirm(paths[1]))
    assert signer.count(petition) == 1
    assert len(signature_rows(app)) == 1


def test_repeat_with_other_details_does_not_change_the_pending_signature(client, app, petition):
    """Whoever types the same address again cannot rewrite someone's signature."""
    token = form_token(client, petition)
    post_sign(client, petition, token)
    again = post_sign(client, petition, token, name="Someone Else", country="KZ", region="Almaty")
    assert again.status_code == 303
    (row,) = signature_rows(app)
    assert (row.name, row.country, row.region) == ("Aibek Asanov", "KG", "Chüy")


def test_confirmation_mails_are_capped(client, app, petition, signer, mailbox, deliver):
    token = form_token(client, petition)
    for _ in range(5):
        response = post_sign(client, petition, token)
        assert response.status_code == 303
    deliver()
    mails = mailbox.to("aibek@example.kg")
    assert len(mails) == app.config["CONFIRMATION_MAX_SENDS"] == 3
    (row,) = signature_rows(app)
    assert row.confirmation_sends == 3
    # The capped mails still carry working links.
    confirmed = signer.confirm(confirm_link(mails[-1]).removeprefix("http://localhost"))
    assert "Your signature is confirmed" in page_text(confirmed)
    assert signer.count(petition) == 1


def test_cap_lifts_once_every_link_sent_has_expired(
    client, app, petition, signer, mailbox, deliver
):
    """Lost mails must not lock a signer out for good: when all their links have expired, signing
    again sends a fresh one."""
    token = form_token(client, petition)
    for _ in range(4):
        post_sign(client, petition, token)
    deliver()
    assert len(mailbox.to("aibek@example.kg")) == 3
    with app.app_context():
        db.session.execute(
            update(Signature).values(
                last_confirmation_sent_at=utcnow()
                - timedelta(seconds=app.config["CONFIRMATION_MAX_AGE_SECONDS"] + 60)
            )
        )
        db.session.commit()
    assert post_sign(client, petition, token).status_code == 303
    deliver()
    mails = mailbox.to("aibek@example.kg")
    assert len(mails) == 4
    confirmed = signer.confirm(confirm_link(mails[-1]).removeprefix("http://localhost"))
    assert "Your signature is confirmed" in page_text(confirmed)
    assert signer.count(petition) == 1


@pytest.fixture
def one_send(app_config):
    app_config["CONFIRMATION_MAX_SENDS"] = 1


def test_cap_comes_from_config(one_send, client, app, petition, mailbox, deliver):
    token = form_token(client, petition)
    for _ in range(3):
        assert post_sign(client, petition, token).status_code == 303
    deliver()
    assert len(mailbox.to("aibek@example.kg")) == 1


def test_same_mailbox_written_differently_signs_once(signer, app, petition, mailbox):
    confirmed = signer.sign_and_confirm(petition, "aibek@gmail.com")
    assert "Your signature is confirmed" in page_text(confirmed)

    again = signer.sign(petition, "Ai.Bek+news@GoogleMail.com", follow=True)
    assert again.status_code == 200
    assert "Check your email" in page_text(again)
    signer.deliver()
    (notice,) = mailbox.to("Ai.Bek+news@googlemail.com")
    assert notice["Subject"].startswith("You have already signed")
    assert "/confirm/" not in notice.get_body(preferencelist=("plain",)).get_content()
    assert signer.count(petition) == 1
    assert len(signature_rows(app)) == 1
