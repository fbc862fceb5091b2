"""Petitions in several languages, end to end through the HTTP client: the organiser writes a
translation, a moderator reviews it beside the original, and readers of that language see it
(with a note and links to the other versions) once approved, and never before."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from petitions.extensions import db
from petitions.models import EventAction, PetitionEvent, PetitionTranslation
from tests.fixtures.actors import csrf_token, log_in_client
from tests.fixtures.mail import body_text

RU_TITLE = "Не отправляйте войска за границу"
RU_ACTION = "Голосуйте против отправки войск за границу."
RU_BACKGROUND = "Наши солдаты защищают нашу родину."


@pytest.fixture
def organiser(app, make_user):
    """The organiser's own test client, logged in."""
    user_id = make_user(email="aigul@example.kg", role="organiser")
    client = app.test_client()
    log_in_client(app, client, user_id)
    client.user_id = user_id
    return client


@pytest.fixture
def moderator(app, make_user):
    client = app.test_client()
    log_in_client(app, client, make_user(email="marat@example.kg", role="moderator"))
    return client


@pytest.fixture
def reader(app):
    return app.test_client()


@pytest.fixture
def own_petition(make_petition, organiser):
    """An open petition of the organiser's, written in English."""
    return make_petition(owner_id=organiser.user_id)


def form_post(client, page: str, url: str, data: dict):
    html = client.get(page).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **data})


def add_translation(organiser, petition_id: int, **fields):
    page = f"/organiser/petitions/{petition_id}/translations/new"
    data = {"language": "ru", "title": RU_TITLE, "action": RU_ACTION, "background": RU_BACKGROUND}
    return form_post(organiser, page, page, {**data, **fields})


def review(moderator, petition_id: int, language: str, decision: str, **fields):
    """Approve, reject or correct a translation from the review page, as the moderator saw it."""
    page = f"/moderation/petitions/{petition_id}"
    html = moderator.get(page).get_data(as_text=True)
    action = f"/moderation/petitions/{petition_id}/translations/{language}/{decision}"
    form = html[html.index(f'action="{action}"') :]
    seen = re.search(r'name="seen" type="hidden" value="([^"]*)"', form).group(1)
    return moderator.post(action, data={"csrf_token": csrf_token(html), "seen": seen, **fields})


def translation_state(app, petition_id: int, language: str = "ru") -> str | None:
    with app.app_context():
        return db.session.scalar(
            select(PetitionTranslation.state).where(
                PetitionTranslation.petition_id == petition_id,
                PetitionTranslation.language == language,
            )
        )


@pytest.fixture
def approved(app, organiser, moderator, own_petition) -> int:
    """The petition with an approved Russian translation."""
    assert add_translation(organiser, own_petition).status_code == 303
    assert review(moderator, own_petition, "ru", "approve").status_code == 303
    return own_petition


# --- the organiser ---------------------------------------------------------------------------


def test_a_new_translation_waits_for_a_moderator(app, organiser, own_petition):
    response = add_translation(organiser, own_petition)
    assert response.status_code == 303
    assert translation_state(app, own_petition) == "pending"
    page = organiser.get(f"/organiser/petitions/{own_petition}").get_data(as_text=True)
    assert RU_TITLE in page


def test_a_pending_translation_is_not_shown_to_readers(organiser, reader, own_petition):
    add_translation(organiser, own_petition)
    page = reader.get(f"/ru/petitions/{own_petition}").get_data(as_text=True)
    assert RU_TITLE not in page
    assert "Do not send troops abroad" in page


def test_the_create_form_offers_the_pages_language_first_and_records_both_choices(
    app, organiser, get_petition
):
    page = "/ky/organiser/petitions/new"
    html = organiser.get(page).get_data(as_text=True)
    assert re.search(r'<option selected value="ky">Кыргызча</option>', html)
    assert re.search(r'<option selected value="UTC">UTC</option>', html)
    data = {
        "creation_key": re.search(r'name="creation_key" type="hidden" value="([^"]*)"', html)[1],
        "title": "Бишкекте велосипед жолдору",
        "action": "Велосипед жолдорун куруңуз.",
        "addressee": "Бишкек шаардык кеңеши",
        "language": "ky",
        "time_zone": "Asia/Bishkek",
    }
    response = organiser.post(page, data={"csrf_token": csrf_token(html), **data})
    assert response.status_code == 303
    petition = get_petition(int(response.location.rsplit("/", 1)[1]))
    assert (petition.language, petition.time_zone) == ("ky", "Asia/Bishkek")


def test_a_petition_may_be_written_in_a_language_the_site_is_not_in(
    app, organiser, reader, get_petition
):
    """Organisers in Osh write in Uzbek, others in Arabic: the petition says so, right to left
    where its script is, under an interface in one of the site's languages."""
    page = "/organiser/petitions/new"
    html = organiser.get(page).get_data(as_text=True)
    data = {
        "creation_key": re.search(r'name="creation_key" type="hidden" value="([^"]*)"', html)[1],
        "title": "لا لإرسال القوات إلى الخارج",
        "action": "نطالب البرلمان بعدم إرسال القوات.",
        "addressee": "البرلمان",
        "language": "ar",
        "time_zone": "UTC",
    }
    response = organiser.post(page, data={"csrf_token": csrf_token(html), **data})
    petition = get_petition(int(response.location.rsplit("/", 1)[1]))
    assert petition.language == "ar"
    preview = organiser.get(f"/organiser/petitions/{petition.id}").get_data(as_text=True)
    assert re.search(r'<h1[^>]* lang="ar" dir="rtl"', preview)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("language", "xx", "Please choose one of the languages in the list."),
        ("time_zone", "Mars/Olympus_Mons", "Please choose a time zone from the list."),
        ("time_zone", "US/Eastern", "Please choose a time zone from the list."),
    ],
)
def test_an_unknown_language_or_time_zone_is_refused_clearly(organiser, field, value, message):
    page = "/organiser/petitions/new"
    html = organiser.get(page).get_data(as_text=True)
    data = {
        "creation_key": re.search(r'name="creation_key" type="hidden" value="([^"]*)"', html)[1],
        "title": "Bike lanes",
        "action": "Build them.",
        "addressee": "City council",
        field: value,
    }
    response = organiser.post(page, data={"csrf_token": csrf_token(html), **data})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"language": "xx"}, "Please choose one of the languages in the list."),
        ({"language": "en"}, "a translation must be into another language"),
        ({"title": "x" * 151}, "Please use at most 150 characters."),
        ({"title": "Line\u2028break"}, "characters we cannot accept"),
        ({"action": "Bell\x07"}, "characters we cannot accept"),
        ({"action": ""}, "Please say what the petition asks for."),
    ],
)
def test_bad_translations_get_a_clear_message(app, organiser, own_petition, fields, message):
    response = add_translation(organiser, own_petition, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert translation_state(app, own_petition) is None


def test_a_second_translation_into_the_same_language_is_refused(organiser, own_petition):
    add_translation(organiser, own_petition)
    response = add_translation(organiser, own_petition, title="Другой заголовок")
    assert response.status_code == 422
    assert "already has a translation into Русский" in response.get_data(as_text=True)


def test_changing_an_approved_translation_sends_it_back_to_pending(
    app, organiser, reader, approved
):
    page = f"/organiser/petitions/{approved}/translations/ru/edit"
    response = form_post(
        organiser,
        page,
        page,
        {"title": "Новый заголовок", "action": RU_ACTION, "background": RU_BACKGROUND},
    )
    assert response.status_code == 303
    assert translation_state(app, approved) == "pending"
    shown = reader.get(f"/ru/petitions/{approved}").get_data(as_text=True)
    assert "Новый заголовок" not in shown and RU_TITLE not in shown


def test_deleting_a_translation_takes_it_off_the_page(app, organiser, reader, approved):
    page = f"/organiser/petitions/{approved}"
    response = form_post(organiser, page, f"{page}/translations/ru/delete", {})
    assert response.status_code == 303
    assert translation_state(app, approved) is None
    assert RU_TITLE not in reader.get(f"/ru/petitions/{approved}").get_data(as_text=True)


def test_a_draft_cannot_take_the_language_of_its_translation(app, organiser, make_petition):
    html = organiser.get("/organiser/petitions/new").get_data(as_text=True)
    key = re.search(r'name="creation_key" type="hidden" value="([^"]*)"', html)[1]
    created = organiser.post(
        "/organiser/petitions/new",
        data={
            "csrf_token": csrf_token(html),
            "creation_key": key,
            "title": "Bike lanes",
            "action": "Build them.",
            "addressee": "City council",
            "language": "en",
        },
    )
    petition_id = int(created.location.rsplit("/", 1)[1])
    add_translation(organiser, petition_id)
    page = f"/organiser/petitions/{petition_id}/edit"
    response = form_post(
        organiser,
        page,
        page,
        {"title": "Bike lanes", "action": "Build them.", "addressee": "Council", "language": "ru"},
    )
    assert response.status_code == 422
    assert "has a translation into Русский" in response.get_data(as_text=True)


# --- moderators ------------------------------------------------------------------------------


def test_moderators_see_waiting_translations_in_the_queue(organiser, moderator, own_petition):
    add_translation(organiser, own_petition)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    assert f'data-petition="{own_petition}" data-language="ru"' in queue
    assert RU_TITLE in queue


def test_the_review_page_shows_the_translation_beside_the_original(
    organiser, moderator, own_petition
):
    add_translation(organiser, own_petition)
    html = moderator.get(f"/moderation/petitions/{own_petition}").get_data(as_text=True)
    side_by_side = html[html.index('class="side-by-side"') :]
    assert side_by_side.index("Vote against sending troops abroad.") < side_by_side.index(RU_ACTION)
    assert '<div lang="ru">' in side_by_side


def test_an_approved_translation_is_shown_to_readers_of_its_language(approved, reader):
    html = reader.get(f"/ru/petitions/{approved}").get_data(as_text=True)
    assert f'<h1 lang="ru">{RU_TITLE}</h1>' in html
    note = re.search(r'<p class="translated-from">(.*?)</p>', html)
    assert note and "English" in note[1], "the note names the original language in itself"
    assert f'href="/ru/petitions/{approved}?text=en" hreflang="en" lang="en" data-original' in html
    assert f'<div class="text" lang="ru"><p>{RU_ACTION}</p>' in html


def test_english_readers_still_see_the_original(approved, reader):
    html = reader.get(f"/petitions/{approved}").get_data(as_text=True)
    assert '<h1 lang="en">Do not send troops abroad</h1>' in html
    assert f'href="/petitions/{approved}?text=ru"' in html
    assert RU_TITLE not in html.split("<main")[1].split('class="versions"')[0]


def test_text_shows_another_version_without_changing_the_interface(approved, reader):
    html = reader.get(f"/ru/petitions/{approved}?text=en").get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert '<h1 lang="en">Do not send troops abroad</h1>' in html
    english = reader.get(f"/petitions/{approved}?text=ru").get_data(as_text=True)
    assert f'<h1 lang="ru">{RU_TITLE}</h1>' in english


@pytest.mark.parametrize("asked", ["xx", "ky", "%00", "ru" * 100])
def test_an_unknown_version_is_ignored(approved, reader, asked):
    response = reader.get(f"/petitions/{approved}?text={asked}")
    assert response.status_code == 200
    assert '<h1 lang="en">Do not send troops abroad</h1>' in response.get_data(as_text=True)


def test_a_rejected_translation_is_never_shown_and_the_organiser_sees_why(
    app, organiser, moderator, reader, own_petition
):
    add_translation(organiser, own_petition)
    response = review(moderator, own_petition, "ru", "reject", note="Машинный перевод.")
    assert response.status_code == 303
    assert translation_state(app, own_petition) == "rejected"
    assert RU_TITLE not in reader.get(f"/ru/petitions/{own_petition}").get_data(as_text=True)
    page = organiser.get(f"/organiser/petitions/{own_petition}").get_data(as_text=True)
    assert "Машинный перевод." in page


def test_rejecting_needs_a_note(app, organiser, moderator, own_petition):
    add_translation(organiser, own_petition)
    response = review(moderator, own_petition, "ru", "reject", note="")
    assert response.status_code == 422
    assert translation_state(app, own_petition) == "pending"


def test_an_approval_of_text_changed_meanwhile_is_refused(app, organiser, moderator, own_petition):
    add_translation(organiser, own_petition)
    page = f"/moderation/petitions/{own_petition}"
    html = moderator.get(page).get_data(as_text=True)
    seen = re.search(
        r'name="seen" type="hidden" value="([^"]*)"', html[html.index("translations/ru/approve") :]
    )[1]
    edit = f"/organiser/petitions/{own_petition}/translations/ru/edit"
    form_post(organiser, edit, edit, {"title": "Подмена", "action": RU_ACTION})
    response = moderator.post(
        f"{page}/translations/ru/approve", data={"csrf_token": csrf_token(html), "seen": seen}
    )
    assert response.status_code == 409
    assert translation_state(app, own_petition) == "pending"


def test_a_moderators_correction_is_logged_with_old_and_new(app, moderator, reader, approved):
    response = review(
        moderator,
        approved,
        "ru",
        "correct",
        title="Не отправляйте войска за рубеж",
        action=RU_ACTION,
        background=RU_BACKGROUND,
        note="Опечатка",
    )
    assert response.status_code == 303
    assert translation_state(app, approved) == "approved"
    with app.app_context():
        event = db.session.scalars(
            select(PetitionEvent).where(PetitionEvent.action == EventAction.TRANSLATION_CORRECTED)
        ).one()
        assert event.details == {
            "language": "ru",
            "title": [RU_TITLE, "Не отправляйте войска за рубеж"],
        }
    history = moderator.get(f"/moderation/petitions/{approved}").get_data(as_text=True)
    assert f"<del>{RU_TITLE}</del> <ins>Не отправляйте войска за рубеж</ins>" in history
    assert "Не отправляйте войска за рубеж" in reader.get(f"/ru/petitions/{approved}").get_data(
        as_text=True
    )


def test_every_step_is_in_the_petitions_audit_log(app, organiser, moderator, approved):
    with app.app_context():
        actions = db.session.scalars(
            select(PetitionEvent.action)
            .where(PetitionEvent.petition_id == approved)
            .order_by(PetitionEvent.id)
        ).all()
    assert actions[-2:] == ["translation_submitted", "translation_approved"]
    log = moderator.get(f"/moderation/log?petition={approved}").get_data(as_text=True)
    assert "translation approved" in log


# --- listings --------------------------------------------------------------------------------


def test_the_home_page_lists_the_readers_language_title(approved, reader):
    html = reader.get("/ru/").get_data(as_text=True)
    assert f'lang="ru">{RU_TITLE}</a>' in html
    english = reader.get("/").get_data(as_text=True)
    assert 'lang="en">Do not send troops abroad</a>' in english


def test_the_home_page_never_lists_a_pending_title(organiser, reader, own_petition):
    add_translation(organiser, own_petition)
    assert RU_TITLE not in reader.get("/ru/").get_data(as_text=True)


# --- open data -------------------------------------------------------------------------------


def test_the_api_gives_the_language_and_the_approved_translations(approved, reader):
    body = reader.get(f"/api/v1/petitions/{approved}").get_json()
    assert body["language"] == "en"
    assert body["translations"] == [
        {"language": "ru", "title": RU_TITLE, "action": RU_ACTION, "background": RU_BACKGROUND}
    ]


def test_the_api_never_gives_a_pending_translation(organiser, reader, own_petition):
    add_translation(organiser, own_petition)
    body = reader.get(f"/api/v1/petitions/{own_petition}").get_json()
    assert body["translations"] == []
    assert RU_TITLE not in reader.get("/api/v1/petitions").get_data(as_text=True)


def csv_rows(response) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_translations_csv_has_one_row_per_approved_translation(
    app, organiser, reader, approved, make_petition
):
    pending = make_petition(title="Second", owner_id=organiser.user_id)
    add_translation(organiser, pending, title="Второй")
    rows = csv_rows(reader.get("/api/v1/translations.csv"))
    assert rows == [
        ["petition_id", "language", "title", "action", "background"],
        [str(approved), "ru", RU_TITLE, RU_ACTION, RU_BACKGROUND],
    ]


def test_the_petitions_csv_says_each_petitions_language(approved, reader):
    rows = csv_rows(reader.get("/api/v1/petitions.csv"))
    language = rows[0].index("language")
    assert [row[language] for row in rows[1:]] == ["en"]


@pytest.fixture
def withheld(app, organiser, moderator, make_queued_petition, moderate):
    """A petition with an approved translation, then rejected as offensive."""
    petition_id = make_queued_petition("Insulting title", owner_id=organiser.user_id)
    assert add_translation(organiser, petition_id, title="Оскорбительный").status_code == 303
    assert review(moderator, petition_id, "ru", "approve").status_code == 303
    moderate("rejected", petition_id, reason="offensive")
    return petition_id


def test_a_withheld_petitions_translations_stay_withheld_on_its_page(withheld, reader):
    for path in (f"/ru/petitions/{withheld}", f"/petitions/{withheld}?text=ru"):
        page = reader.get(path).get_data(as_text=True)
        assert "Оскорбительный" not in page
        assert RU_ACTION not in page


def test_a_withheld_petitions_translations_stay_withheld_in_the_open_data(withheld, reader):
    body = reader.get(f"/api/v1/petitions/{withheld}").get_json()
    assert body["translations"] == [
        {"language": "ru", "title": None, "action": None, "background": None}
    ]
    rows = csv_rows(reader.get("/api/v1/translations.csv"))
    assert rows[1:] == [[str(withheld), "ru", "", "", ""]]


# --- sharing ---------------------------------------------------------------------------------


def share_links_of(html: str) -> dict[str, str]:
    from html import unescape

    return {
        service: unescape(href)
        for service, href in re.findall(r'<a class="share-([a-z]+)" href="([^"]+)"', html)
    }


def test_share_links_carry_the_readers_url_and_title_encoded(approved, reader):
    from urllib.parse import quote

    links = share_links_of(reader.get(f"/ru/petitions/{approved}").get_data(as_text=True))
    url = quote(f"http://localhost/ru/petitions/{approved}", safe="")
    title = quote(RU_TITLE, safe="")
    assert title.startswith("%D0%9D%D0%B5%20")
    assert links == {
        "telegram": f"https://t.me/share/url?url={url}&text={title}",
        "whatsapp": f"https://wa.me/?text={title}%20{url}",
        "vk": f"https://vk.com/share.php?url={url}&title={title}",
        "facebook": f"https://www.facebook.com/sharer/sharer.php?u={url}",
        "x": f"https://x.com/intent/post?url={url}&text={title}",
        "email": f"mailto:?subject={title}&body={title}%0D%0A%0D%0A{url}",
    }


def test_the_link_can_be_copied_without_javascript(approved, reader):
    html = reader.get(f"/ru/petitions/{approved}").get_data(as_text=True)
    assert re.search(
        rf'<input id="share-url" class="share-url" type="text" readonly '
        rf'value="http://localhost/ru/petitions/{approved}"',
        html,
    )
    assert '<label for="share-url">' in html
    assert "<script>" not in html


def test_the_share_preview_is_in_the_version_shown(approved, reader):
    from tests.web.test_share_metadata import head_of

    head = head_of(reader, f"/ru/petitions/{approved}")
    assert head.meta["og:title"] == RU_TITLE
    assert head.lang["og:title"] == "ru"
    assert head.meta["og:description"] == RU_ACTION
    assert head.meta["og:url"] == f"http://localhost/ru/petitions/{approved}"
    assert head.links["canonical"] == f"http://localhost/ru/petitions/{approved}"
    assert head.meta["og:locale"] == "ru_RU"
    assert head.repeated["og:locale:alternate"] == ["en_US", "id_ID", "ky_KG"]
    assert head.title_lang == "ru"


def test_a_kyrgyz_readers_preview_is_the_original_in_its_language(approved, reader):
    from tests.web.test_share_metadata import head_of

    head = head_of(reader, f"/ky/petitions/{approved}")
    assert head.meta["og:title"] == "Do not send troops abroad"
    assert head.lang["og:title"] == "en"
    assert head.meta["og:locale"] == "ky_KG"
    assert head.meta["og:url"] == f"http://localhost/ky/petitions/{approved}"


@pytest.mark.parametrize("state", ["pending", "rejected"])
@pytest.mark.parametrize(
    "path",
    [
        "/ru/petitions/{id}",
        "/petitions/{id}?text=ru",
        "/ru/",
        "/api/v1/petitions/{id}",
        "/api/v1/petitions",
        "/api/v1/translations.csv",
        "/feed.atom",
    ],
)
def test_an_unapproved_translation_is_published_nowhere(
    organiser, moderator, reader, own_petition, state, path
):
    add_translation(organiser, own_petition)
    if state == "rejected":
        assert review(moderator, own_petition, "ru", "reject", note="Нет.").status_code == 303
    response = reader.get(path.format(id=own_petition))
    assert response.status_code == 200
    assert RU_TITLE not in response.get_data(as_text=True)


def test_a_refused_signature_shows_the_page_again_in_the_readers_version(approved, signer):
    response = signer.sign(approved, "not-an-address", language="ru")
    assert response.status_code == 422
    assert f'<h1 lang="ru">{RU_TITLE}</h1>' in response.get_data(as_text=True)


@pytest.mark.parametrize("language", ["%00", "r%C3%BC", "x" * 40, "ru%0A"])
def test_an_odd_language_in_the_address_names_no_translation(
    organiser, moderator, own_petition, language
):
    page = f"/organiser/petitions/{own_petition}/translations/{language}/edit"
    assert organiser.get(page).status_code == 303
    html = moderator.get(f"/moderation/petitions/{own_petition}").get_data(as_text=True)
    response = moderator.post(
        f"/moderation/petitions/{own_petition}/translations/{language}/approve",
        data={"csrf_token": csrf_token(html)},
    )
    assert response.status_code == 404


def test_the_organiser_is_emailed_the_moderators_note(
    organiser, moderator, own_petition, deliver, mailbox
):
    add_translation(organiser, own_petition)
    review(moderator, own_petition, "ru", "reject", note="Машинный перевод.")
    deliver()
    message = mailbox.last_to("aigul@example.kg")
    assert "Машинный перевод." in body_text(message)
    assert f"http://localhost/organiser/petitions/{own_petition}" in body_text(message)


def test_the_organiser_is_emailed_when_a_translation_is_published(
    organiser, moderator, own_petition, deliver, mailbox
):
    add_translation(organiser, own_petition)
    review(moderator, own_petition, "ru", "approve")
    deliver()
    from tests.fixtures.mail import body_text

    message = mailbox.last_to("aigul@example.kg")
    assert "Do not send troops abroad" in message["Subject"]
    assert "Русский" in body_text(message), "the language, named in itself"
    assert f"http://localhost/petitions/{own_petition}" in body_text(message)
