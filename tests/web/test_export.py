"""The organiser's CSV of their petition's signatures: exactly what the signers agreed to share,
safe to open in a spreadsheet, readable by Excel in Kyrgyz and Russian, streamed in batches, and
for the petition's owner only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, insert, update
from sqlalchemy.orm import Session

from petitions.extensions import db
from petitions.models import Petition, Signature
from petitions.services import export
from tests.fixtures.database import ON_POSTGRES

OWNER = "owner@example.kg"
HEADER = [
    "Name",
    "Country code",
    "Country",
    "Region",
    "Confirmed (UTC)",
    "Email (shared with you)",
]
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def owner_id(make_user):
    return make_user(email=OWNER, name="Aigul Owner")


@pytest.fixture
def owned(app, make_petition, owner_id):
    """An open petition belonging to `owner_id`; returns its id."""
    petition_id = make_petition(title="Light the road to Karakol")
    with app.app_context():
        db.session.execute(
            update(Petition).where(Petition.id == petition_id).values(owner_id=owner_id)
        )
        db.session.commit()
        db.session.remove()
    return petition_id


def add(
    app,
    petition_id: int,
    name: str,
    *,
    email: str | None = None,
    country: str = "KG",
    region: str | None = None,
    show_name: bool = True,
    wants_updates: bool = False,
    share_email: bool = False,
    confirmed_at: datetime | None = T0,
) -> None:
    """A signature as the signing service leaves it (email kept only for updates or sharing)."""
    with app.app_context():
        db.session.add(
            Signature(
                petition_id=petition_id,
                email_key=f"key-{petition_id}-{name}-{email}",
                email=email,
                name=name,
                country=country,
                region=region,
                show_name=show_name,
                wants_updates=wants_updates,
                share_email=share_email,
                status="confirmed" if confirmed_at else "pending",
                confirmed_at=confirmed_at,
            )
        )
        db.session.commit()
        db.session.remove()


def download(client, petition_id: int):
    response = client.get(f"/organiser/petitions/{petition_id}/signatures.csv")
    assert response.status_code == 200, response.status_code
    return response


def parse(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte order mark for Excel"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


# --- what is in the file -----------------------------------------------------------------------


def test_exact_rows_for_known_signers(app, client, login_as, owner_id, owned, make_petition):
    add(app, owned, "Aibek Asanov", region="Chüy", confirmed_at=T0)
    add(
        app,
        owned,
        "Olga Petrova",
        email="olga@example.ru",
        country="RU",
        region="Moscow",
        share_email=True,
        confirmed_at=T0 + timedelta(hours=1),
    )
    add(app, owned, "Private Person", show_name=False, confirmed_at=T0 + timedelta(hours=2))
    add(app, owned, "Still Pending", email="pending@example.kg", confirmed_at=None)
    elsewhere = make_petition(title="Another petition")
    add(app, elsewhere, "Other Petition Signer")
    login_as(owner_id)

    response = download(client, owned)
    assert response.mimetype == "text/csv"
    assert response.mimetype_params.get("charset") == "utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="petition-{owned}-signatures.csv"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    assert parse(response) == [
        HEADER,
        ["Aibek Asanov", "KG", "Kyrgyzstan", "Chüy", "2026-03-01 09:30:00", ""],
        ["Olga Petrova", "RU", "Russian Federation", "Moscow", "2026-03-01 10:30:00",
         "olga@example.ru"],
        ["", "KG", "Kyrgyzstan", "", "2026-03-01 11:30:00", ""],
    ]  # fmt: skip


def test_email_only_for_signers_who_chose_to_share_it(app, client, login_as, owner_id, owned):
    add(app, owned, "Shares", email="yes@example.kg", share_email=True)
    # Updates come from the platform: asking for them does not give the organiser the address.
    add(app, owned, "Wants Updates", email="updates@example.kg", wants_updates=True)
    # Stored but no choice (cannot happen through the service, which erases it): withheld.
    add(app, owned, "No Choice", email="no@example.kg")
    # Chose to share, but the address has been erased since.
    add(app, owned, "Erased", email=None, share_email=True)
    login_as(owner_id)
    rows = {row[0]: row[5] for row in parse(download(client, owned))[1:]}
    assert rows == {"Shares": "yes@example.kg", "Wants Updates": "", "No Choice": "", "Erased": ""}


def test_end_to_end_with_the_sign_form(app, client, signer, login_as, owner_id, owned):
    """Signed and confirmed in the browser: the choices on the form decide the row."""
    signer.sign_and_confirm(owned, "aibek@example.kg", name="Aibek", show_name="y")
    signer.sign_and_confirm(owned, "olga@example.ru", name="Olga", wants_updates=True)
    signer.sign_and_confirm(owned, "nurlan@example.kg", name="Nurlan", share_email="y")
    signer.sign(owned, "unconfirmed@example.kg", name="Unconfirmed")
    login_as(owner_id)
    rows = [(row[0], row[1], row[3], row[5]) for row in parse(download(client, owned))[1:]]
    assert rows == [
        ("Aibek", "KG", "Chüy", ""),
        ("", "KG", "Chüy", ""),
        ("", "KG", "Chüy", "nurlan@example.kg"),
    ]


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠", "﹦"])
def test_formula_cells_are_neutralised(app, client, login_as, owner_id, owned, first):
    payload = f'{first}HYPERLINK("http://evil.example","x")'
    add(app, owned, payload, region=payload, email=f"{first}cmd@example.kg", share_email=True)
    login_as(owner_id)
    [row] = parse(download(client, owned))[1:]
    assert row[0] == "'" + payload
    assert row[3] == "'" + payload
    assert row[5] == f"'{first}cmd@example.kg"


@pytest.mark.parametrize(
    "value", ["Aibek", "Ne=gative", "a-b", "'quoted", " =leading space", "Жумабек", "5"]
)
def test_harmless_cells_are_left_alone(value):
    assert export.spreadsheet_safe(value) == value


def test_kyrgyz_and_russian_names_round_trip(app, client, login_as, owner_id, owned):
    names = ["Айгүл Токтогулова", "Бакыт Жумабеков", "Ольга Сергеевна Иванова", "Нурлан Өмүров"]
    for n, name in enumerate(names):
        add(app, owned, name, region="Чүй облусу", confirmed_at=T0 + timedelta(minutes=n))
    login_as(owner_id)
    response = download(client, owned)
    rows = parse(response)[1:]
    assert [row[0] for row in rows] == names
    assert {row[3] for row in rows} == {"Чүй облусу"}
    # What Excel does: the BOM says UTF-8, and every byte after it is UTF-8.
    assert "Өмүров".encode() in response.get_data()


def test_empty_petition_has_the_header_only(client, login_as, owner_id, owned):
    login_as(owner_id)
    assert parse(download(client, owned)) == [HEADER]


# --- streamed in batches -----------------------------------------------------------------------


def test_a_large_export_is_streamed_batch_by_batch(app, client, login_as, owner_id, owned):
    total = 20_000
    with app.app_context():
        db.session.execute(
            insert(Signature),
            [
                {
                    "petition_id": owned,
                    "email_key": f"bulk-{n}",
                    "name": f"Signer {n}",
                    "country": "KG",
                    "show_name": True,
                    "status": "confirmed",
                    "confirmed_at": T0 + timedelta(seconds=n),
                }
                for n in range(total)
            ],
        )
        db.session.commit()
        db.session.remove()
    login_as(owner_id)

    seen_options = []
    cursors = []

    def record(state):
        if state.is_select:
            seen_options.append(state.execution_options.get("yield_per"))

    def record_cursor(conn, cursor, statement, parameters, context, executemany):
        if "FROM signatures" in statement:
            cursors.append(type(cursor).__name__)

    event.listen(Session, "do_orm_execute", record)
    event.listen(Engine, "after_cursor_execute", record_cursor)
    try:
        response = client.get(f"/organiser/petitions/{owned}/signatures.csv")
        assert response.status_code == 200
        assert response.is_streamed
        chunks = iter(response.response)
        first = next(chunks)
        assert first.decode("utf-8-sig").splitlines() == [",".join(HEADER)]
        # The header went out before the signatures were even queried: the rows are read
        # as the response is sent, not gathered first.
        assert export.BATCH_SIZE not in seen_options
        rows_per_chunk = []
        for chunk in chunks:
            rows = list(csv.reader(io.StringIO(chunk.decode(), newline="")))
            rows_per_chunk.append(len(rows))
        response.close()
    finally:
        event.remove(Session, "do_orm_execute", record)
        event.remove(Engine, "after_cursor_execute", record_cursor)

    assert sum(rows_per_chunk) == total
    assert rows_per_chunk == [export.BATCH_SIZE] * (total // export.BATCH_SIZE)
    assert export.BATCH_SIZE in seen_options, seen_options
    if ON_POSTGRES:  # psycopg reads through a server-side (named) cursor, batch by batch
        assert cursors == ["ServerCursor"], cursors


def test_rows_come_from_a_yield_per_query(app, owned):
    """The service reads in partitions of `batch_size` rows and holds one at a time."""
    for n in range(7):
        add(app, owned, f"Signer {n}", confirmed_at=T0 + timedelta(seconds=n))
    with app.test_request_context():
        batches = export.signature_rows(db.session, owned, locale="en", batch_size=3)
        assert [len(batch) for batch in batches] == [3, 3, 1]
        db.session.remove()


# --- who may download it -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["organiser", "moderator", "admin"])
def test_only_the_owner(app, client, login_as, make_user, owned, role):
    add(app, owned, "Aibek Asanov", email="aibek@example.kg", share_email=True)
    other = make_user(email=f"other-{role}@example.kg", role=role)
    login_as(other)
    response = client.get(f"/organiser/petitions/{owned}/signatures.csv")
    assert response.status_code == 404
    assert b"aibek@example.kg" not in response.get_data()


def test_anonymous_visitors_are_sent_to_log_in(app, owned):
    response = app.test_client().get(f"/organiser/petitions/{owned}/signatures.csv")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("petition_id", ["999999", "0", "2147483648", "99999999999999999999"])
def test_unknown_petition_is_404(client, login_as, owner_id, owned, petition_id):
    login_as(owner_id)
    response = client.get(f"/organiser/petitions/{petition_id}/signatures.csv")
    assert response.status_code == 404


def test_petition_without_an_owner_is_404_for_everyone(app, client, login_as, owner_id, petition):
    login_as(owner_id)
    assert client.get(f"/organiser/petitions/{petition}/signatures.csv").status_code == 404


def test_the_organiser_page_links_to_the_file(client, login_as, owner_id, owned):
    login_as(owner_id)
    html = client.get(f"/organiser/petitions/{owned}").get_data(as_text=True)
    assert f'href="/organiser/petitions/{owned}/signatures.csv"' in html
