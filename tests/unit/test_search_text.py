"""How search reads text (services/search.py): the same word typed any way folds the same,
and every way the ORM writes a petition's texts keeps its folded text right."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update

from petitions.extensions import db
from petitions.models import Petition, PetitionTranslation, utcnow
from petitions.services.search import (
    QUERY_MAX,
    WORDS_MAX,
    SearchRequest,
    fold,
    query_words,
)


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("БИШКЕК", "бишкек"),
        ("Ёлка", "елка"),
        ("café", "cafe"),
        ("CAFE\u0301", "cafe"),  # e + combining acute
        ("ﬁle", "file"),  # a ligature
        ("ＡＢＣ", "abc"),  # full-width
        ("Straße", "strasse"),
        ("Өкмөт Үй Ң", "өкмөт үй ң"),  # Kyrgyz letters stay themselves
        ("Мой", "мой"),  # й is not и
        ("مَدْرَسَة", "مدرسة"),  # Arabic vowel signs
        ("  many\n\tspaces \x00here ", "many spaces here"),
        ("Биш\u00adкек", "бишкек"),  # a soft hyphen
        ("می\u200cخواهم", "میخواهم"),  # a zero-width non-joiner
    ],
)
def test_fold(typed, folded):
    assert fold(typed) == folded


def test_query_words_are_distinct_and_folded():
    assert query_words("Бишкек, БИШКЕК! Ош") == ["бишкек", "ош"]


def test_query_words_are_at_most_the_limit():
    assert len(query_words(" ".join(f"w{n}" for n in range(50)))) == WORDS_MAX


def test_a_query_is_cut_at_its_limit():
    assert query_words("a" * (QUERY_MAX + 50)) == ["a" * QUERY_MAX]


def test_a_query_of_punctuation_has_no_words():
    assert query_words("%% __ !!") == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("x", "bogus", "bogus", -1), SearchRequest("x", "", "signatures", 1)),
        ((None, None, None, None), SearchRequest()),
        ((["x"], "open", "newest", 3), SearchRequest("", "open", "newest", 3)),
        (("a\x00b\x1bc", "", "closing", 1), SearchRequest("a b c", "", "closing", 1)),
    ],
)
def test_a_request_takes_only_usable_values(args, expected):
    assert SearchRequest.from_args(*args) == expected


# --- every ORM write folds the text ------------------------------------------------------------


def search_text(model, row_id: int) -> str:
    return db.session.scalar(select(model.search_text).where(model.id == row_id))


def new_petition(**fields) -> Petition:
    petition = Petition(
        title=fields.get("title", "Clean air"),
        action=fields.get("action", "Ban coal stoves."),
        background=fields.get("background", "Smog in Bishkek."),
        addressee="Bishkek city council",
        state="draft",
    )
    db.session.add(petition)
    db.session.flush()
    return petition


def test_a_new_petition_is_folded(app):
    with app.app_context():
        petition = new_petition(title="ЧИСТЫЙ Воздух")
        assert (
            search_text(Petition, petition.id) == "чистый воздух ban coal stoves. smog in bishkek."
        )
        db.session.rollback()


def test_a_changed_title_is_folded_again(app):
    with app.app_context():
        petition = new_petition()
        petition.title = "Clean WATER"
        db.session.flush()
        assert search_text(Petition, petition.id).startswith("clean water ban coal")
        db.session.rollback()


def test_a_change_of_another_column_keeps_the_folded_text(app):
    with app.app_context():
        petition = new_petition()
        db.session.commit()
        petition_id = petition.id
        db.session.expire_all()
        petition = db.session.get(Petition, petition_id)
        petition.signature_goal = 100
        db.session.flush()
        assert search_text(Petition, petition_id).startswith("clean air")
        db.session.rollback()


def test_an_update_statement_of_all_texts_is_folded(app):
    with app.app_context():
        petition_id = new_petition().id
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition_id)
            .values(title="Ёлка", action="Put one up.", background="")
        )
        assert search_text(Petition, petition_id) == "елка put one up."
        db.session.rollback()


def test_an_update_statement_of_one_text_is_folded_with_the_others(app):
    with app.app_context():
        petition_id = new_petition().id
        changed = db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(title="Only THIS")
        ).rowcount
        assert changed == 1
        assert search_text(Petition, petition_id) == "only this ban coal stoves. smog in bishkek."
        db.session.rollback()


def test_an_update_statement_with_returning_is_folded(app):
    with app.app_context():
        petition_id = new_petition().id
        returned = db.session.execute(
            update(Petition)
            .where(Petition.id == petition_id)
            .values(action=Petition.action + " Now.")
            .returning(Petition.id)
        ).scalar_one()
        assert returned == petition_id
        assert search_text(Petition, petition_id).endswith("stoves. now. smog in bishkek.")
        db.session.rollback()


def test_rows_written_past_the_orm_are_folded_by_the_next_orm_write(app):
    """A row inserted with Core (a script, a migration test) has the stale mark and is healed
    the next time an ORM statement cannot fold the text itself."""
    with app.app_context():
        row_id = db.session.execute(
            Petition.__table__.insert().values(
                title="Raw",
                action="Written by Core.",
                addressee="Osh",
                state="draft",
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]
        other = new_petition().id
        db.session.execute(update(Petition).where(Petition.id == other).values(title="x"))
        assert search_text(Petition, row_id) == "raw written by core."
        db.session.rollback()


def test_an_insert_statement_is_folded(app):
    with app.app_context():
        petition_id = db.session.scalar(
            insert(Petition)
            .values(
                title="ОШ",
                action="Build a bridge.",
                addressee="Osh",
                state="draft",
                created_at=utcnow(),
            )
            .returning(Petition.id)
        )
        assert search_text(Petition, petition_id) == "ош build a bridge."
        db.session.rollback()


def test_rows_inserted_together_are_each_folded(app):
    with app.app_context():
        rows = [
            {
                "title": f"Petition {n}",
                "action": "Act.",
                "addressee": "Osh",
                "state": "draft",
                "created_at": utcnow(),
            }
            for n in ("ONE", "TWO")
        ]
        db.session.execute(insert(Petition), rows)
        found = db.session.scalars(select(Petition.search_text).order_by(Petition.id)).all()
        assert found == ["petition one act.", "petition two act."]
        db.session.rollback()


def test_a_translation_is_folded(app):
    with app.app_context():
        petition_id = new_petition().id
        translation = PetitionTranslation(
            petition_id=petition_id,
            language="ky",
            title="Таза АБА",
            action="Көмүр.",
            state="pending",
        )
        db.session.add(translation)
        db.session.flush()
        assert search_text(PetitionTranslation, translation.id) == "таза аба көмүр."
        db.session.rollback()
