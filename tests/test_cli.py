"""Operator commands: `flask petition create|open|close|close-expired|list` and `flask seed`.

A mistake on the command line must end in a one-line error (exit status not 0, no traceback)
and must leave the database as it was.
"""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from petitions import demo
from petitions.extensions import db
from petitions.models import Petition, PetitionState, utcnow
from petitions.worker import housekeeping
from tests.fixtures.actors import csrf_token
from tests.fixtures.database import TABLES, scalar_sql

KYRGYZ_TITLE = "Жогорку Кеңеш: аскерлерди чет өлкөгө жибербегиле"
RUSSIAN_ACTION = "Просим депутатов голосовать против отправки войск за рубеж."
RUSSIAN_BACKGROUND = "Наши солдаты клялись защищать Родину.\n\nНе чужие войны."


def stored_petitions(app) -> list[Petition]:
    with app.app_context():
        found = db.session.scalars(select(Petition).order_by(Petition.id)).all()
        db.session.expunge_all()
        db.session.remove()
        return list(found)


def scalar_rows(app, sql: str) -> list[tuple]:
    with app.app_context():
        try:
            return [tuple(row) for row in db.session.execute(text(sql))]
        finally:
            db.session.remove()


def only_petition(app) -> Petition:
    found = stored_petitions(app)
    assert len(found) == 1, found
    return found[0]


def assert_ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    return result.output


def assert_clean_error(result, message: str) -> None:
    """Exit status not 0, the reason on the terminal, no traceback."""
    assert result.exit_code != 0, result.output
    # Click ends a handled error with SystemExit; anything else escaped as a traceback.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert message in result.output, result.output


def future(days: int) -> datetime:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0)


BASE_OPTIONS = [
    "--title",
    "Do not send troops abroad",
    "--action",
    "Vote against sending troops abroad.",
    "--addressee",
    "Jogorku Kenesh",
]


def create(runner, *options: str):
    return runner.invoke(args=["petition", "create", *options])


# --- petition create from options -------------------------------------------------------------


def test_create_draft_from_options(app, runner, client):
    output = assert_ok(
        create(runner, *BASE_OPTIONS, "--background", "Line one\nLine two", "--goal", "5000")
    )
    petition = only_petition(app)
    assert f"petition {petition.id} created (draft): Do not send troops abroad" in output
    assert petition.state == PetitionState.DRAFT
    assert petition.title == "Do not send troops abroad"
    assert petition.action == "Vote against sending troops abroad."
    assert petition.addressee == "Jogorku Kenesh"
    assert petition.background == "Line one\nLine two"
    assert petition.signature_goal == 5000
    assert petition.opened_at is None
    assert petition.closes_at is None
    # A draft is not public.
    assert client.get(f"/petitions/{petition.id}").status_code == 404


def test_create_open_uses_the_default_duration(app, runner, client):
    assert_ok(create(runner, *BASE_OPTIONS, "--open"))
    petition = only_petition(app)
    assert petition.state == PetitionState.OPEN
    assert petition.closes_at - petition.opened_at == timedelta(
        days=app.config["DEFAULT_PETITION_DAYS"]
    )
    page = client.get(f"/petitions/{petition.id}")
    assert page.status_code == 200
    assert "Sign this petition" in page.get_data(as_text=True)


def test_create_open_for_days(app, runner):
    assert_ok(create(runner, *BASE_OPTIONS, "--open", "--days", "30"))
    petition = only_petition(app)
    assert petition.state == PetitionState.OPEN
    assert petition.closes_at - petition.opened_at == timedelta(days=30)


def test_create_open_until_a_utc_time(app, runner):
    closes = future(90)
    naive = closes.replace(tzinfo=None).isoformat()
    assert_ok(create(runner, *BASE_OPTIONS, "--open", "--closes", naive))
    petition = only_petition(app)
    assert petition.closes_at == closes


def test_create_open_until_a_time_with_offset(app, runner):
    local = future(90).replace(hour=18, minute=0, second=0).replace(tzinfo=None)
    assert_ok(create(runner, *BASE_OPTIONS, "--open", "--closes", f"{local.isoformat()}+06:00"))
    petition = only_petition(app)
    assert petition.closes_at == local.replace(hour=12, tzinfo=UTC)
    assert petition.closes_at.tzinfo is not None


def test_create_open_until_a_date(app, runner):
    day = future(60).date()
    assert_ok(create(runner, *BASE_OPTIONS, "--open", "--closes", day.isoformat()))
    petition = only_petition(app)
    assert petition.closes_at == datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_create_normalises_text(app, runner):
    assert_ok(
        runner.invoke(
            args=[
                "petition",
                "create",
                "--title",
                "  Чистый воздух в Бишкеке зимо\u0438\u0306  ",
                "--action",
                RUSSIAN_ACTION,
                "--addressee",
                "Мэрия города Бишкек",
            ]
        )
    )
    assert only_petition(app).title == "Чистый воздух в Бишкеке зимой"


# --- petition create from a file --------------------------------------------------------------


def test_create_from_toml_file(app, runner, client, tmp_path):
    closes = future(45)
    path = tmp_path / "petition.toml"
    path.write_text(
        f'''
title = "{KYRGYZ_TITLE}"
action = "{RUSSIAN_ACTION}"
addressee = "Жогорку Кеңеш"
background = """
Наши солдаты клялись защищать Родину.

Не чужие войны."""
goal = 10000
open = true
closes = "{closes.replace(tzinfo=None).isoformat()}"
''',
        encoding="utf-8",
    )
    output = assert_ok(create(runner, "--from-file", str(path)))
    petition = only_petition(app)
    assert KYRGYZ_TITLE in output
    assert petition.title == KYRGYZ_TITLE
    assert petition.action == RUSSIAN_ACTION
    assert petition.addressee == "Жогорку Кеңеш"
    assert petition.background == RUSSIAN_BACKGROUND
    assert petition.signature_goal == 10000
    assert petition.state == PetitionState.OPEN
    assert petition.closes_at == closes

    page = client.get(f"/petitions/{petition.id}").get_data(as_text=True)
    assert KYRGYZ_TITLE in page
    assert "<p>Наши солдаты клялись защищать Родину.</p>" in page


def test_create_from_toml_file_with_native_toml_dates(app, runner, tmp_path):
    """TOML has date and datetime values; writing them unquoted is the natural way."""
    day = future(50).date()
    path = tmp_path / "petition.toml"
    path.write_text(
        f'title = "T"\naction = "A"\naddressee = "B"\nopen = true\ncloses = {day.isoformat()}\n',
        encoding="utf-8",
    )
    assert_ok(create(runner, "--from-file", str(path)))
    assert only_petition(app).closes_at == datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_create_from_toml_file_with_native_offset_datetime(app, runner, tmp_path):
    day = future(50).date()
    path = tmp_path / "petition.toml"
    path.write_text(
        f'title = "T"\naction = "A"\naddressee = "B"\nopen = true\n'
        f"closes = {day.isoformat()}T18:00:00+06:00\n",
        encoding="utf-8",
    )
    assert_ok(create(runner, "--from-file", str(path)))
    assert only_petition(app).closes_at == datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def test_create_from_json_file(app, runner, tmp_path):
    path = tmp_path / "petition.json"
    path.write_text(
        json.dumps(
            {
                "title": KYRGYZ_TITLE,
                "action": RUSSIAN_ACTION,
                "addressee": "Мэрия города Бишкек",
                "background": RUSSIAN_BACKGROUND,
                "signature_goal": 5000,
                "open": True,
                "days": 14,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert_ok(create(runner, "--from-file", str(path)))
    petition = only_petition(app)
    assert petition.title == KYRGYZ_TITLE
    assert petition.action == RUSSIAN_ACTION
    assert petition.addressee == "Мэрия города Бишкек"
    assert petition.background == RUSSIAN_BACKGROUND
    assert petition.signature_goal == 5000
    assert petition.state == PetitionState.OPEN
    assert petition.closes_at - petition.opened_at == timedelta(days=14)


def test_create_from_json_file_with_escaped_unicode_as_draft(app, runner, tmp_path):
    path = tmp_path / "petition.json"
    path.write_text(
        json.dumps({"title": KYRGYZ_TITLE, "action": "A", "addressee": "B"}), encoding="utf-8"
    )
    assert_ok(create(runner, "--from-file", str(path)))
    petition = only_petition(app)
    assert petition.title == KYRGYZ_TITLE
    assert petition.state == PetitionState.DRAFT
    assert petition.signature_goal is None


def test_numbers_in_a_file_may_be_strings(app, runner, tmp_path):
    path = tmp_path / "petition.json"
    path.write_text(
        json.dumps({"title": "T", "action": "A", "addressee": "B", "goal": "100", "days": "7"}),
        encoding="utf-8",
    )
    assert_ok(create(runner, "--from-file", str(path), "--open"))
    petition = only_petition(app)
    assert petition.signature_goal == 100
    assert petition.closes_at - petition.opened_at == timedelta(days=7)


def test_options_win_over_the_file(app, runner, tmp_path):
    path = tmp_path / "petition.json"
    path.write_text(
        json.dumps({"title": "From file", "action": "A", "addressee": "B", "goal": 10, "days": 9}),
        encoding="utf-8",
    )
    assert_ok(
        create(
            runner,
            *["--from-file", str(path), "--title", "From option", "--goal", "20"],
            *["--open", "--days", "3"],
        )
    )
    petition = only_petition(app)
    assert petition.title == "From option"
    assert petition.action == "A"
    assert petition.signature_goal == 20
    assert petition.closes_at - petition.opened_at == timedelta(days=3)


# --- petition create: mistakes end cleanly and store nothing --------------------------------

TOO_LONG_TITLE = "Т" * 151


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "title, action and addressee are required"),
        (BASE_OPTIONS[2:], "title, action and addressee are required"),
        (["--title", "T", "--action", "A"], "title, action and addressee are required"),
        (["--title", "   ", *BASE_OPTIONS[2:]], "Title is required"),
        (["--title", TOO_LONG_TITLE, *BASE_OPTIONS[2:]], "Title is too long (151 characters"),
        (["--title", "bell\x07", *BASE_OPTIONS[2:]], "Title contains a control"),
        ([*BASE_OPTIONS[:4], "--addressee", "А" * 201], "Addressee is too long"),
        ([*BASE_OPTIONS, "--goal", "0"], "0 is not in the range x>=1"),
        ([*BASE_OPTIONS, "--goal", "-5"], "-5 is not in the range x>=1"),
        ([*BASE_OPTIONS, "--goal", "many"], "'many' is not a valid integer"),
        ([*BASE_OPTIONS, "--open", "--days", "0"], "0 is not in the range x>=1"),
        ([*BASE_OPTIONS, "--open", "--closes", "2000-01-01"], "must be in the future"),
        (
            [*BASE_OPTIONS, "--open", "--closes", "2000-01-01T00:00:00+06:00"],
            "must be in the future",
        ),
        ([*BASE_OPTIONS, "--open", "--closes", "tomorrow"], "not an ISO 8601 date"),
        ([*BASE_OPTIONS, "--open", "--closes", "2031-02-30"], "not an ISO 8601 date"),
        ([*BASE_OPTIONS, "--open", "--closes", "31.12.2031"], "not an ISO 8601 date"),
        ([*BASE_OPTIONS, "--from-file", "/nonexistent/petition.toml"], "does not exist"),
    ],
)
def test_create_refuses_bad_options(app, runner, options, message):
    assert_clean_error(create(runner, *options), message)
    assert stored_petitions(app) == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.toml", 'title = "unterminated\n', "bad.toml:"),
        ("bad.toml", "title = Жогорку\n", "bad.toml:"),
        ("bad.toml", b"title = '\xff\xfe'\n", "bad.toml:"),
        ("bad.json", '{"title": "T", "action": ', "bad.json:"),
        ("bad.json", "{'title': 'T'}", "bad.json:"),
        ("bad.json", b'{"title": "\xff"}', "bad.json:"),
        ("bad.json", "", "bad.json:"),
        ("list.json", '["title", "action"]', "expected a table/object"),
        ("string.json", '"just a title"', "expected a table/object"),
        ("empty.toml", "", "title, action and addressee are required"),
        ("no-title.json", '{"action": "A", "addressee": "B"}', "title, action and addressee"),
        (
            "long.json",
            json.dumps({"title": TOO_LONG_TITLE, "action": "A", "addressee": "B"}),
            "Title is too long",
        ),
        (
            "goal0.json",
            '{"title": "T", "action": "A", "addressee": "B", "goal": 0}',
            "goal must be a positive number",
        ),
        (
            "goal0.toml",
            'title = "T"\naction = "A"\naddressee = "B"\nsignature_goal = 0\n',
            "goal must be a positive number",
        ),
        (
            "goal-neg.json",
            '{"title": "T", "action": "A", "addressee": "B", "goal": -3}',
            "goal must be a positive number",
        ),
        (
            "goal-text.json",
            '{"title": "T", "action": "A", "addressee": "B", "goal": "many"}',
            "goal must be a whole number",
        ),
        (
            "goal-float.json",
            '{"title": "T", "action": "A", "addressee": "B", "goal": 10.5}',
            "goal must be a whole number",
        ),
        (
            "days0.json",
            '{"title": "T", "action": "A", "addressee": "B", "open": true, "days": 0}',
            "days must be at least 1",
        ),
        (
            "days-text.json",
            '{"title": "T", "action": "A", "addressee": "B", "open": true, "days": "ten"}',
            "days must be a whole number",
        ),
        (
            "past.toml",
            'title = "T"\naction = "A"\naddressee = "B"\nopen = true\ncloses = 2001-01-01\n',
            "must be in the future",
        ),
        (
            "past.json",
            '{"title": "T", "action": "A", "addressee": "B", "open": true, "closes": "2001-01-01"}',
            "must be in the future",
        ),
        (
            "baddate.json",
            '{"title": "T", "action": "A", "addressee": "B", "open": true, "closes": "next week"}',
            "not an ISO 8601 date",
        ),
        (
            "baddate.toml",
            'title = "T"\naction = "A"\naddressee = "B"\nopen = true\ncloses = 12\n',
            "not an ISO 8601 date",
        ),
    ],
)
def test_create_refuses_bad_files(app, runner, tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    assert_clean_error(create(runner, "--from-file", str(path)), message)
    assert stored_petitions(app) == []


# --- petition open / close ----------------------------------------------------------------------


def test_open_a_draft(app, runner, client, make_petition):
    petition_id = make_petition(state="draft")
    assert client.get(f"/petitions/{petition_id}").status_code == 404

    output = assert_ok(runner.invoke(args=["petition", "open", str(petition_id), "--days", "10"]))
    assert f"petition {petition_id} open until" in output
    petition = only_petition(app)
    assert petition.state == PetitionState.OPEN
    assert petition.closes_at - petition.opened_at == timedelta(days=10)

    page = client.get(f"/petitions/{petition_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Open for signatures" in html
    assert "Sign this petition" in html
    assert 'name="email"' in html


def test_open_until_a_time(app, runner, make_petition):
    petition_id = make_petition(state="draft")
    closes = future(20)
    assert_ok(
        runner.invoke(args=["petition", "open", str(petition_id), "--closes", closes.isoformat()])
    )
    assert only_petition(app).closes_at == closes


def test_opening_twice_is_an_error(app, runner, make_petition):
    petition_id = make_petition(state="draft")
    assert_ok(runner.invoke(args=["petition", "open", str(petition_id)]))
    first = only_petition(app)

    result = runner.invoke(args=["petition", "open", str(petition_id), "--days", "1"])
    assert_clean_error(result, "only drafts can open")
    again = only_petition(app)
    assert again.state == PetitionState.OPEN
    assert again.opened_at == first.opened_at
    assert again.closes_at == first.closes_at


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--closes", "2000-01-01"], "must be in the future"),
        (["--closes", "soon"], "not an ISO 8601 date"),
        (["--days", "0"], "0 is not in the range x>=1"),
    ],
)
def test_open_refuses_bad_deadlines(app, runner, make_petition, options, message):
    petition_id = make_petition(state="draft")
    assert_clean_error(
        runner.invoke(args=["petition", "open", str(petition_id), *options]), message
    )
    assert only_petition(app).state == PetitionState.DRAFT


@pytest.mark.parametrize("command", ["open", "close"])
def test_unknown_petition_is_an_error(app, runner, command):
    assert_clean_error(runner.invoke(args=["petition", command, "999"]), "No petition with id 999")


@pytest.mark.parametrize("command", ["open", "close"])
def test_petition_id_must_be_a_number(app, runner, command):
    assert_clean_error(runner.invoke(args=["petition", command, "abc"]), "is not a valid integer")


def test_close_an_open_petition(app, runner, client, signer, make_petition):
    petition_id = make_petition()
    signer.sign_and_confirm(petition_id, "aibek@example.kg")

    output = assert_ok(runner.invoke(args=["petition", "close", str(petition_id)]))
    assert f"petition {petition_id} closed" in output
    petition = only_petition(app)
    assert petition.state == PetitionState.CLOSED
    assert petition.closed_at is not None

    page = client.get(f"/petitions/{petition_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Closed" in html
    assert "no longer accepts signatures" in html
    assert "Sign this petition" not in html
    assert "<form" not in html
    assert 'name="email"' not in html
    # The total stays public.
    assert signer.count(petition_id) == 1


def test_closed_petition_refuses_signatures(app, runner, client, make_petition, signer):
    petition_id = make_petition()
    other_page = client.get(f"/petitions/{make_petition(title='Still open')}")
    token = csrf_token(other_page.get_data(as_text=True))
    assert_ok(runner.invoke(args=["petition", "close", str(petition_id)]))

    # A form loaded before the close, sent after it.
    response = client.post(
        f"/petitions/{petition_id}/sign",
        data={
            "csrf_token": token,
            "name": "Aibek Asanov",
            "email": "aibek@example.kg",
            "country": "KG",
            "consent": "y",
        },
    )
    assert response.status_code == 409
    assert signer.count(petition_id) == 0


@pytest.mark.parametrize(("state", "message"), [("draft", "is draft"), ("closed", "is closed")])
def test_close_only_open_petitions(app, runner, make_petition, state, message):
    petition_id = make_petition(state=state)
    result = runner.invoke(args=["petition", "close", str(petition_id)])
    assert_clean_error(result, message)
    assert only_petition(app).state == state


# --- petition close-expired -----------------------------------------------------------------


def backdate(app, petition_id: int, *, opened_days_ago: int, closes_days_ago: int) -> None:
    """Move a petition's dates into the past (the service refuses past deadlines)."""
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        now = utcnow()
        petition.opened_at = now - timedelta(days=opened_days_ago)
        petition.closes_at = now - timedelta(days=closes_days_ago)
        db.session.commit()
        db.session.remove()


def test_close_expired(app, runner, client, make_petition):
    expired = make_petition(title="Expired")
    running = make_petition(title="Still running")
    endless = make_petition(title="No deadline", closes_in=None)
    draft = make_petition(title="Draft", state="draft")
    backdate(app, expired, opened_days_ago=30, closes_days_ago=1)

    # Past its deadline, the page already refuses signatures ...
    html = client.get(f"/petitions/{expired}").get_data(as_text=True)
    assert "Closed" in html
    assert "Sign this petition" not in html

    # ... and close-expired records it.
    assert "closed 1 petition(s)" in assert_ok(runner.invoke(args=["petition", "close-expired"]))
    states = {p.id: p for p in stored_petitions(app)}
    assert states[expired].state == PetitionState.CLOSED
    assert states[expired].closed_at == states[expired].closes_at
    assert states[running].state == PetitionState.OPEN
    assert states[endless].state == PetitionState.OPEN
    assert states[draft].state == PetitionState.DRAFT

    html = client.get(f"/petitions/{expired}").get_data(as_text=True)
    assert "Closed" in html
    assert "Sign this petition" not in html
    assert "Sign this petition" in client.get(f"/petitions/{running}").get_data(as_text=True)

    # Nothing left to close.
    assert "closed 0 petition(s)" in assert_ok(runner.invoke(args=["petition", "close-expired"]))


def test_close_expired_with_nothing_to_do(app, runner):
    assert "closed 0 petition(s)" in assert_ok(runner.invoke(args=["petition", "close-expired"]))


# --- petition list ----------------------------------------------------------------------------


def test_list_with_no_petitions(app, runner):
    assert "no petitions" in assert_ok(runner.invoke(args=["petition", "list"]))
    assert json.loads(assert_ok(runner.invoke(args=["petition", "list", "--json"]))) == []


def test_list_shows_confirmed_counts(app, runner, signer, make_petition):
    popular = make_petition(title="Popular")
    quiet = make_petition(title=KYRGYZ_TITLE)
    draft = make_petition(title="A draft", state="draft")
    for email in ("aibek@example.kg", "aigul@example.kg", "nurlan@example.kg"):
        signer.sign_and_confirm(popular, email)
    signer.sign_and_confirm(quiet, "aibek@example.kg")
    # A pending signature does not count.
    assert signer.sign(quiet, "pending@example.kg").status_code == 303
    # Nor does signing again with the same address.
    signer.sign(popular, "AIBEK@example.kg")

    lines = assert_ok(runner.invoke(args=["petition", "list"])).splitlines()
    assert len(lines) == 3
    by_id = {int(line.split()[0]): line.split(None, 3) for line in lines}
    assert by_id[popular] == [str(popular), "open", "3", "Popular"]
    assert by_id[quiet] == [str(quiet), "open", "1", KYRGYZ_TITLE]
    assert by_id[draft] == [str(draft), "draft", "0", "A draft"]

    output = assert_ok(runner.invoke(args=["petition", "list", "--json"]))
    assert KYRGYZ_TITLE in output, "non-ASCII titles are written as they are"
    assert json.loads(output) == [
        {"id": popular, "state": "open", "signature_count": 3, "title": "Popular"},
        {"id": quiet, "state": "open", "signature_count": 1, "title": KYRGYZ_TITLE},
        {"id": draft, "state": "draft", "signature_count": 0, "title": "A draft"},
    ]


def test_list_after_close_keeps_the_count(app, runner, signer, make_petition):
    petition_id = make_petition()
    signer.sign_and_confirm(petition_id, "aibek@example.kg")
    assert_ok(runner.invoke(args=["petition", "close", str(petition_id)]))
    rows = json.loads(assert_ok(runner.invoke(args=["petition", "list", "--json"])))
    assert rows == [
        {
            "id": petition_id,
            "state": "closed",
            "signature_count": 1,
            "title": "Do not send troops abroad",
        }
    ]


# --- seed --------------------------------------------------------------------------------------


def seed(runner) -> str:
    return assert_ok(runner.invoke(args=["seed"]))


def table_sizes(app) -> dict[str, int]:
    with app.app_context():
        sizes = {
            table: db.session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in TABLES
        }
        db.session.remove()
        return sizes


def csto_petition_id(app) -> int:
    found = [p.id for p in stored_petitions(app) if p.title == demo.CSTO_PETITION.title]
    assert len(found) == 1, found
    return found[0]


def test_seed_says_what_it_seeded(app, runner):
    output = seed(runner)
    assert "seeded 5 demo petitions with" in output
    assert f"{demo.CSTO_PETITION.title}  http://localhost/petitions/1" in output
    assert f"organiser@example.org password {demo.DEMO_PASSWORD}" in output


def test_seed_then_reconcile_finds_no_drift(app, runner):
    """The count shards are written from the confirmed rows, with the rule of counts.py."""
    seed(runner)
    output = assert_ok(runner.invoke(args=["counts", "reconcile"]))
    assert "5 petition(s) checked, 0 with drift" in output


def test_seeded_public_totals_equal_the_confirmed_signatures(app, runner, client):
    seed(runner)
    confirmed = dict(
        scalar_rows(
            app,
            "SELECT petition_id, count(*) FROM signatures WHERE status = 'confirmed' "
            "GROUP BY petition_id",
        )
    )
    public = {
        p.id: client.get(f"/petitions/{p.id}/count.json").get_json()["signature_count"]
        for p in stored_petitions(app)
        if p.state in (PetitionState.OPEN, PetitionState.CLOSED)
    }
    assert public == {petition_id: confirmed[petition_id] for petition_id in public}


def test_seeded_signatures_are_thousands_in_every_state(app, runner):
    seed(runner)
    statuses = dict(scalar_rows(app, "SELECT status, count(*) FROM signatures GROUP BY status"))
    assert statuses["confirmed"] > 10000
    assert statuses["pending"] > 0
    assert statuses["invalidated"] > 0
    assert statuses["withdrawn"] > 0


def test_the_csto_petition_page_shows_its_chart_regions_and_total(app, runner, client):
    seed(runner)
    petition_id = csto_petition_id(app)
    total = scalar_sql(
        app,
        "SELECT count(*) FROM signatures WHERE petition_id = :id AND status = 'confirmed'",
        id=petition_id,
    )
    html = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    figures = re.search(r'<section class="figures".*?</section>', html, re.S).group(0)
    # One bar a day from the opening on 6 January 2022 to the closing on the 20th.
    bars = [int(n) for n in re.findall(r'<rect class="bar"[^>]*data-count="(\d+)"', figures)]
    assert len(bars) == 15
    assert sum(bars) == total
    assert re.search(r'data-region="KG-GB"><th scope="row">Bishkek Shaary</th>', figures)
    assert re.search(r'data-region="KG-O"><th scope="row">Osh</th>', figures)
    assert f"<strong data-count>{total:,}</strong>" in html


def test_the_worker_finds_nothing_to_do_after_seeding(app, runner):
    """Milestones already passed are recorded and the signer emails of the history marked as
    sent, so `make run` does not mail the demo organiser or thousands of made-up signers; the
    pending signatures are younger than the purge of unconfirmed ones."""
    seed(runner)
    before = table_sizes(app)
    with app.app_context():
        housekeeping(db.session, app.config, now=utcnow())
        db.session.remove()
    after = table_sizes(app)
    assert {t: n - before[t] for t, n in after.items() if n != before[t]} == {
        "daily_counts": 4  # today's totals of the open and closed petitions
    }


def test_the_demo_organiser_can_log_in_with_the_printed_password(app, runner, client):
    output = seed(runner)
    password = re.search(r"organiser@example.org password (\S+)", output).group(1)
    page = client.get("/account/login").get_data(as_text=True)
    response = client.post(
        "/account/login",
        data={
            "csrf_token": csrf_token(page),
            "email": "organiser@example.org",
            "password": password,
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)


def test_seeding_twice_adds_nothing(app, runner):
    seed(runner)
    first = table_sizes(app)
    assert "petitions exist; nothing seeded" in seed(runner)
    assert table_sizes(app) == first


def test_seed_gives_the_same_data_every_time(app, runner):
    """The same data for the same moment: recent petitions' dates follow the clock."""
    moment = datetime(2026, 3, 9, 17, 59, 59, tzinfo=UTC)
    app.extensions["clock"] = lambda: moment
    query = (
        "SELECT petition_id, name, email_key, country, region, status FROM signatures "
        "ORDER BY petition_id, id"
    )
    seed(runner)
    first = scalar_rows(app, query)
    with app.app_context():
        for table in TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
        db.session.commit()
        db.session.remove()
    seed(runner)
    second = scalar_rows(app, query)
    # Petition ids may move on (PostgreSQL sequences); everything else is the same.
    assert [row[1:] for row in second] == [row[1:] for row in first]


def test_seed_refuses_in_production(app_config, request):
    """The demo accounts' password is published; no demo data ever reaches production."""
    app_config["PETITIONS_ENV"] = "production"
    app = request.getfixturevalue("app")
    result = app.test_cli_runner().invoke(args=["seed"])
    assert_clean_error(result, "does not run in production")
    assert table_sizes(app) == dict.fromkeys(TABLES, 0)


def test_seed_leaves_an_existing_database_alone(app, runner, make_petition):
    make_petition(title="Real petition")
    assert "nothing seeded" in seed(runner)
    assert [p.title for p in stored_petitions(app)] == ["Real petition"]


def test_seed_uses_an_existing_account_with_a_demo_address(app, runner, make_user):
    """Someone who made organiser@example.org by hand keeps their password."""
    user_id = make_user(email="organiser@example.org", password="my own password")
    output = seed(runner)
    assert "organiser@example.org password" not in output
    owners = {p.owner_id for p in stored_petitions(app) if p.title == demo.CSTO_PETITION.title}
    assert owners == {user_id}


def test_closing_date_without_open_is_refused(runner, app):
    """A deadline on a draft would be silently ignored; say so instead, and store nothing."""
    for extra in (["--days", "30"], ["--closes", "2031-01-01"]):
        result = create(runner, *BASE_OPTIONS, *extra)
        assert result.exit_code != 0
        assert "needs --open" in result.output
    assert "no petitions" in runner.invoke(args=["petition", "list"]).output
