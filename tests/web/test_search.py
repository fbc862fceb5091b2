"""A reader finds petitions by their words, in any language and script, and browses the
archive: what the search page lists, in which order, and that no link to it can fail."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import insert, update

from petitions.extensions import db
from petitions.models import Petition, PetitionTranslation, utcnow
from petitions.services import search as search_service
from tests.fixtures.database import ON_POSTGRES


def set_fields(app, petition_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Petition).where(Petition.id == petition_id).values(**values))
        db.session.commit()
        db.session.remove()


def listed(page: str) -> list[str]:
    """The titles of the results, in order."""
    found = re.search(r'<ol class="petitions">(.*?)</ol>', page, re.S)
    if not found:
        return []
    return [
        html_lib.unescape(title)
        for title in re.findall(r'<h2><a href="[^"]+">([^<]*)</a></h2>', found.group(1))
    ]


def search(client, path: str = "/search", **params) -> str:
    response = client.get(path, query_string=params)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def answered(app, make_petition):
    """A closed petition with an official response; returns its id."""

    def make(title: str) -> int:
        petition_id = make_petition(state="closed", title=title)
        set_fields(app, petition_id, response_text="We will do it.", response_at=utcnow())
        return petition_id

    return make


# --- words, in any language and script ---------------------------------------------------------


def test_finds_a_kyrgyz_word_whatever_its_case(client, make_petition):
    make_petition(title="Бишкектеги абаны тазалагыла")
    make_petition(title="Street lights in Karakol")
    assert listed(search(client, q="БИШКЕКТЕГИ")) == ["Бишкектеги абаны тазалагыла"]


def test_finds_a_word_inside_a_longer_one(client, make_petition):
    make_petition(title="Бишкектеги абаны тазалагыла")
    assert listed(search(client, q="бишкек")) == ["Бишкектеги абаны тазалагыла"]


def test_finds_yo_written_as_ye(client, make_petition):
    make_petition(title="Новогодняя ёлка на площади Ала-Тоо")
    assert listed(search(client, q="ЕЛКА")) == ["Новогодняя ёлка на площади Ала-Тоо"]


def test_finds_a_latin_word_without_its_accents(client, make_petition):
    make_petition(title="A café in every village library")
    assert listed(search(client, q="CAFE")) == ["A café in every village library"]


def test_finds_an_arabic_word_written_with_vowel_marks(client, make_petition):
    make_petition(title="مدرسة جديدة في القرية")
    assert listed(search(client, q="مَدرسة")) == ["مدرسة جديدة في القرية"]


def test_finds_a_word_of_the_action_or_background(client, make_petition):
    make_petition(title="Clean air", action="Ban coal stoves.", background="Smog in Osh.")
    assert listed(search(client, q="smog")) == ["Clean air"]


def test_every_word_must_be_found(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    assert listed(search(client, q="bishkek bicycles")) == []


def test_punctuation_around_a_word_is_not_part_of_it(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    assert listed(search(client, q='"Bishkek,"')) == ["Clean air in Bishkek"]


@pytest.mark.parametrize("query", ["a%r", "a_r", "cl%n", "b%k"])
def test_like_wildcards_are_taken_literally(client, make_petition, query):
    """Each would match "Clean air in Bishkek" as a LIKE pattern."""
    make_petition(title="Clean air in Bishkek")
    assert listed(search(client, q=query)) == []


def test_finds_a_word_only_in_an_approved_translation(client, make_petition, make_translation):
    petition_id = make_petition(title="Clean air in Bishkek")
    make_translation(petition_id, "ky", title="Бишкекте таза аба", action="Көмүр мешин токтоткула.")
    assert listed(search(client, q="көмүр")) == ["Clean air in Bishkek"]


@pytest.mark.parametrize("state", ["pending", "rejected"])
def test_a_translation_not_approved_is_not_searched(client, make_petition, make_translation, state):
    petition_id = make_petition(title="Clean air in Bishkek")
    make_translation(petition_id, "ky", title="Бишкекте таза аба", state=state)
    assert listed(search(client, q="таза")) == []


def test_words_from_two_versions_do_not_combine(client, make_petition, make_translation):
    """Every word in the same version: the original or one translation."""
    petition_id = make_petition(title="Clean air in Bishkek")
    make_translation(petition_id, "ky", title="Бишкекте таза аба")
    assert listed(search(client, q="clean таза")) == []


@pytest.mark.parametrize("state", ["draft", "sponsoring", "moderation"])
def test_a_petition_not_yet_public_is_not_found(app, client, make_petition, state):
    petition_id = make_petition(state="draft", title="Secret plan for Osh")
    set_fields(app, petition_id, state=state)
    assert listed(search(client, q="secret")) == []


def test_a_hidden_petition_is_not_found(client, make_petition, moderate):
    moderate("hidden", make_petition(title="Secret plan for Osh"))
    assert listed(search(client, q="secret")) == []


def test_a_hidden_petition_is_not_found_by_its_translation(
    client, make_petition, make_translation, moderate
):
    petition_id = make_petition(title="Secret plan for Osh")
    make_translation(petition_id, "ru", title="Тайный план для Оша")
    moderate("hidden", petition_id)
    assert listed(search(client, q="тайный")) == []


def test_a_withheld_petition_is_not_found_by_its_text(client, moderate):
    moderate("rejected", title="Insults about a minister", reason="offensive")
    assert "1 petition found" not in search(client, q="minister")


def test_a_withheld_petition_is_not_found_by_its_translation(client, moderate, make_translation):
    petition_id = moderate("rejected", title="Insults about a minister", reason="offensive")
    make_translation(petition_id, "ru", title="Оскорбления министра")
    assert listed(search(client, q="министра")) == []


def test_a_withheld_petition_is_listed_without_its_title(client, moderate):
    moderate("rejected", title="Insults about a minister", reason="offensive")
    assert listed(search(client, state="rejected")) == ["Rejected petition"]


def test_a_rejected_petition_whose_text_is_public_is_found(client, moderate):
    moderate("rejected", title="Ban old cars", reason="duplicate")
    assert listed(search(client, q="cars")) == ["Ban old cars"]


def test_a_corrected_text_is_found_by_its_new_words(app, client, make_petition, make_user):
    """The moderators' typo fix is an UPDATE statement, not an object change: search follows."""
    from petitions.services import moderation

    petition_id = make_petition(title="Clean air in Bishkak")
    moderator_id = make_user(email="mod@example.kg", role="moderator", name="Mod")
    with app.test_request_context():
        petition = db.session.get(Petition, petition_id)
        moderation.edit_text(
            db.session,
            petition_id,
            moderator_id=moderator_id,
            now=utcnow(),
            seen=moderation.text_fingerprint(petition),
            title="Clean air in Bishkek",
            action=petition.action,
            background=petition.background,
        )
        db.session.commit()
        db.session.remove()
    assert listed(search(client, q="bishkek")) == ["Clean air in Bishkek"]


def test_the_words_are_searched_under_a_language_prefix(client, make_petition):
    make_petition(title="Бишкектеги абаны тазалагыла")
    page = search(client, "/ky/search", q="бишкек")
    assert '<html lang="ky"' in page
    assert listed(page) == ["Бишкектеги абаны тазалагыла"]


# --- filters, orders, counts ------------------------------------------------------------------


@pytest.fixture
def one_of_each(make_petition, answered, moderate):
    make_petition(title="Open one")
    make_petition(state="closed", title="Closed, no response")
    answered("Closed, answered")
    moderate("rejected", title="Rejected one", reason="duplicate")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("open", {"Open one"}),
        ("closed", {"Closed, no response", "Closed, answered"}),
        ("awaiting", {"Closed, no response"}),
        ("answered", {"Closed, answered"}),
        ("rejected", {"Rejected one"}),
        ("archive", {"Closed, no response", "Closed, answered", "Rejected one"}),
        ("", {"Open one", "Closed, no response", "Closed, answered", "Rejected one"}),
    ],
)
def test_each_state_filter_lists_its_petitions(client, one_of_each, state, expected):
    assert set(listed(search(client, state=state))) == expected


def test_an_open_petition_with_a_response_counts_as_answered(app, client, make_petition):
    set_fields(app, make_petition(title="Open, answered"), response_at=utcnow(), response_text="Ok")
    assert listed(search(client, state="answered")) == ["Open, answered"]


def test_sorted_by_signatures_most_first(client, make_petition, make_signature):
    few = make_petition(title="Few signatures")
    many = make_petition(title="Many signatures")
    make_signature(few, lambda n: f"few{n}@example.kg", count=1, counted=True)
    make_signature(many, lambda n: f"many{n}@example.kg", count=3, counted=True)
    make_petition(title="No signatures")
    assert listed(search(client, sort="signatures")) == [
        "Many signatures",
        "Few signatures",
        "No signatures",
    ]


def test_sorted_by_signatures_by_default(client, make_petition, make_signature):
    make_petition(title="Few signatures")
    many = make_petition(title="Many signatures")
    make_signature(many, lambda n: f"many{n}@example.kg", count=2, counted=True)
    assert listed(search(client)) == ["Many signatures", "Few signatures"]


def test_sorted_newest_first(app, client, make_petition):
    now = utcnow()
    for title, days_ago in [("Middle", 5), ("Newest", 1), ("Oldest", 9)]:
        set_fields(app, make_petition(title=title), opened_at=now - timedelta(days=days_ago))
    assert listed(search(client, sort="newest")) == ["Newest", "Middle", "Oldest"]


def test_sorted_by_closing_soon_open_ones_first(client, make_petition):
    make_petition(title="Closes in a month", closes_in=timedelta(days=30))
    make_petition(state="closed", title="Already closed")
    make_petition(title="No deadline", closes_in=None)
    make_petition(title="Closes tomorrow", closes_in=timedelta(days=1))
    assert listed(search(client, sort="closing")) == [
        "Closes tomorrow",
        "Closes in a month",
        "No deadline",
        "Already closed",
    ]


def test_the_number_of_results_is_shown(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    make_petition(title="Clean water in Osh")
    assert "2 petitions found" in search(client, q="clean")


def test_one_result_is_counted_in_the_singular(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    assert "1 petition found" in search(client, q="bishkek")


def test_no_results_says_so(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    page = search(client, q="bicycles")
    assert "0 petitions found" in page
    assert '<p class="no-results">' in page


def test_each_result_shows_its_state_and_total(client, make_petition, make_signature):
    petition_id = make_petition(state="closed", title="Clean air in Bishkek")
    make_signature(petition_id, lambda n: f"s{n}@example.kg", count=3, counted=True)
    page = search(client, q="bishkek")
    assert "Closed — awaiting a response" in page
    assert "<strong data-count>3</strong>" in page


def test_the_form_shows_what_was_asked(client, make_petition):
    page = search(client, q="clean air", state="closed", sort="newest")
    assert 'name="q" value="clean air"' in page
    assert '<option value="closed" selected>' in page
    assert '<option value="newest" selected>' in page


# --- pages, links, bad input ------------------------------------------------------------------


def test_page_links_keep_the_query_filter_and_order(app, client, make_petition):
    app.config["PETITIONS_PER_PAGE"] = 2
    for n in range(5):
        make_petition(title=f"Clean air number {n}")
    page = search(client, q="clean", state="open", sort="newest")
    href = html_lib.unescape(re.search(r'<a rel="next" href="([^"]+)"', page).group(1))
    assert parse_qs(urlsplit(href).query) == {
        "q": ["clean"],
        "state": ["open"],
        "sort": ["newest"],
        "page": ["2"],
    }


def test_the_next_page_lists_the_next_results(app, client, make_petition):
    app.config["PETITIONS_PER_PAGE"] = 2
    now = utcnow()
    for n in range(3):
        set_fields(app, make_petition(title=f"Clean air {n}"), opened_at=now - timedelta(days=n))
    assert listed(search(client, q="clean", sort="newest", page="2")) == ["Clean air 2"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 10_000},
        {"q": "бишкек " * 500},
        {"q": "clean\x00air\x1b\x7f"},
        "q=%FF%FEbishkek%C0%80",  # not UTF-8
        "q=%ED%A0%80",  # an encoded surrogate
        {"q": ""},
        {"q": "   "},
        {"page": "-1"},
        {"page": "0"},
        {"page": "abc"},
        {"page": "99999999999999999999999"},
        {"state": "bogus"},
        {"sort": "bogus"},
        {"state": ["open", "closed"], "sort": ["newest", "x"]},
    ],
)
def test_bad_parameters_still_give_a_page(client, make_petition, params):
    make_petition(title="Clean air in Bishkek")
    response = client.get("/search", query_string=params)
    assert response.status_code == 200
    assert '<p class="results-count"' in response.get_data(as_text=True)


def test_a_bogus_state_lists_every_public_petition(client, one_of_each):
    assert len(listed(search(client, state="bogus"))) == 4


def test_an_out_of_range_page_lands_on_the_last(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    assert listed(search(client, page="40")) == ["Clean air in Bishkek"]


def test_control_characters_separate_words(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    assert listed(search(client, q="air\x00bishkek")) == ["Clean air in Bishkek"]


def test_words_past_the_limit_are_ignored(client, make_petition):
    make_petition(title="one two three four five six seven eight")
    assert listed(search(client, q="one two three four five six seven eight nine")) == [
        "one two three four five six seven eight"
    ]


def test_the_search_page_sets_no_cookie(client):
    response = client.get("/search?q=clean")
    assert "Set-Cookie" not in response.headers


# --- the archive, the home page, the petition page ---------------------------------------------


def test_the_archive_lists_closed_answered_and_rejected(client, one_of_each):
    assert set(listed(search(client, state="archive"))) == {
        "Closed, no response",
        "Closed, answered",
        "Rejected one",
    }


def test_the_header_links_to_the_archive(client):
    page = client.get("/privacy").get_data(as_text=True)
    header = re.search(r'<header class="site">.*?</header>', page, re.S).group(0)
    assert '<a href="/search?state=archive">Archive</a>' in header


def test_the_home_page_links_to_the_archive(client):
    page = client.get("/").get_data(as_text=True)
    main = page[page.index('<main id="main">') :]
    assert 'href="/search?state=archive"' in main


def test_the_home_page_search_box_leads_to_the_results(client, make_petition):
    make_petition(title="Clean air in Bishkek")
    page = client.get("/").get_data(as_text=True)
    form = re.search(r'<form class="search" method="get" action="([^"]+)"', page)
    assert form and 'name="q"' in page
    assert listed(search(client, form.group(1), q="bishkek")) == ["Clean air in Bishkek"]


def test_the_home_page_offers_a_visitor_to_sign_up_to_start_one(client):
    page = client.get("/").get_data(as_text=True)
    start = re.search(r'<section class="start".*?</section>', page, re.S).group(0)
    assert '<a href="/account/signup">Sign up to start a petition</a>' in start


def test_a_closed_petition_says_when_it_closed_and_with_how_many(
    client, make_petition, make_signature
):
    petition_id = make_petition(state="closed", title="Clean air in Bishkek")
    make_signature(petition_id, lambda n: f"s{n}@example.kg", count=2, counted=True)
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert re.search(r"It closed on [^<]+ with 2 signatures\.", page)


def test_a_closed_petition_without_a_response_says_it_awaits_one(client, make_petition):
    page = client.get(f"/petitions/{make_petition(state='closed')}").get_data(as_text=True)
    assert "It is awaiting an official response." in page


def test_an_answered_petition_shows_its_response(client, answered):
    page = client.get(f"/petitions/{answered('Clean air')}").get_data(as_text=True)
    assert "Official response" in page and "We will do it." in page
    assert "awaiting an official response" not in page


# --- the index (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="the trigram indexes exist on PostgreSQL only")
def test_the_query_can_use_the_trigram_indexes(app):
    """On a few thousand petitions, each with an approved translation, and with sequential
    scans priced out, the planner answers a word from both trigram indexes."""
    now = utcnow()
    with app.app_context():
        petition_ids = db.session.scalars(
            insert(Petition).returning(Petition.id),
            [
                {
                    "title": f"Petition {n} about street {n * 7}",
                    "action": f"Repair street {n * 7}.",
                    "addressee": "Bishkek city council",
                    "state": "open",
                    "created_at": now,
                    "opened_at": now,
                }
                for n in range(3000)
            ],
        ).all()
        db.session.execute(
            insert(PetitionTranslation),
            [
                {
                    "petition_id": petition_id,
                    "language": "ky",
                    "title": f"Петиция {n}: көчө {n * 7}",
                    "action": f"Көчөнү оңдоо {n * 7}.",
                    "state": "approved",
                    "submitted_at": now,
                    "reviewed_at": now,
                }
                for n, petition_id in enumerate(petition_ids)
            ],
        )
        db.session.commit()
        connection = db.session.connection()
        for table in ("petitions", "petition_translations"):
            # As VACUUM would: the new rows go from the GIN index's pending list into the index.
            connection.exec_driver_sql(f"SELECT gin_clean_pending_list('ix_{table}_search_text')")
            connection.exec_driver_sql(f"ANALYZE {table}")
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        statement = search_service.listed(search_service.SearchRequest(query="бишкек"))
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        with connection.connection.cursor() as cursor:  # psycopg's own: no placeholders
            cursor.execute(f"EXPLAIN {str(compiled).replace('%%', '%')}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        db.session.rollback()
    assert "Bitmap Index Scan on ix_petitions_search_text" in plan, plan
    assert "Bitmap Index Scan on ix_petition_translations_search_text" in plan, plan
