"""The investigation page of a petition (moderators): signatures per hour with the flagged
share, the top sources, and a search by address or range, domain, window, name, flag, status
and country; bad search input gets a message, never an error page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

HOUR = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


@pytest.fixture
def moderator(make_user, login_as) -> int:
    user_id = make_user(email="mod@example.kg", role="moderator", name="Marat Moderator")
    login_as(user_id)
    return user_id


def page(client, petition_id: int, **args) -> str:
    response = client.get(f"/moderation/petitions/{petition_id}/signatures", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def matched(html: str) -> int:
    found = re.search(r"([\d,]+) signatures? match", html)
    assert found, "the page says how many signatures match"
    return int(found.group(1).replace(",", ""))


def listed_ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-signature="(\d+)"', html)}


def row_of(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', html, re.S)
    assert found, f"no row {attribute}={value}"
    return re.sub(r"<[^>]+>", " ", found.group(1))


def test_each_hour_shows_its_signatures_and_flagged_share(
    client, moderator, petition, make_signature
):
    make_signature(petition, count=3, created_at=HOUR + timedelta(minutes=5))
    make_signature(
        petition, count=1, created_at=HOUR + timedelta(minutes=50), status="held", flag="rate"
    )
    make_signature(
        petition, count=4, created_at=HOUR + timedelta(hours=1), status="held", flag="too_fast"
    )

    html = page(client, petition, since="")

    assert row_of(html, "data-hour", HOUR.isoformat()).split()[2:5] == [
        "4",
        "4",
        "1",
    ]
    assert "25%" in row_of(html, "data-hour", HOUR.isoformat())
    assert "100%" in row_of(html, "data-hour", (HOUR + timedelta(hours=1)).isoformat())


def test_the_busiest_network_heads_its_table(client, moderator, petition, make_signature):
    make_signature(petition, count=2, client_network="198.51.100.0/24")
    make_signature(petition, count=5, client_network="203.0.113.0/24", flag="rate", status="held")

    html = page(client, petition, since="")
    table = html[html.index("<caption>Networks") :]
    table = table[: table.index("</table>")]

    assert re.findall(r">(\d+\.\d+\.\d+\.\d+/24)<", table) == ["203.0.113.0/24", "198.51.100.0/24"]


def test_a_range_finds_the_networks_inside_it_and_no_other(
    client, moderator, petition, make_signature
):
    inside = make_signature(petition, count=2, client_network=lambda n: f"10.20.{n}.0/24")
    outside = make_signature(petition, client_network="10.21.0.0/24")

    html = page(client, petition, since="", address="10.20.0.0/16")

    assert listed_ids(html) == set(inside)
    assert outside not in listed_ids(html)


def test_a_wide_range_is_matched_through_the_networks_that_signed(
    client, moderator, petition, make_signature
):
    inside = make_signature(petition, client_network="2001:db8:1::/48")
    make_signature(petition, client_network="2001:db9::/48")

    html = page(client, petition, since="", address="2001:db8::/32")

    assert listed_ids(html) == {inside}


def test_one_address_finds_its_signatures(client, moderator, petition, make_signature):
    mine = make_signature(petition, client_ip="203.0.113.7", client_network="203.0.113.0/24")
    make_signature(petition, client_ip="203.0.113.8", client_network="203.0.113.0/24")

    assert listed_ids(page(client, petition, since="", address="203.0.113.7")) == {mine}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("mail.example", {"mail.example", "eu.mail.example"}), ("*.xyz", {"spam.xyz"})],
)
def test_a_domain_finds_itself_and_its_subdomains_or_a_glob(
    client, moderator, petition, make_signature, pattern, expected
):
    ids = {
        domain: make_signature(petition, email=f"a@{domain}", email_domain=domain)
        for domain in ("mail.example", "eu.mail.example", "gmail.com", "spam.xyz")
    }

    found = listed_ids(page(client, petition, since="", domain=pattern))

    assert found == {ids[d] for d in expected}


def test_a_name_pattern_ignores_case_in_any_script(client, moderator, petition, make_signature):
    aigul = make_signature(petition, name="Айгуль Чолпонбаева")
    make_signature(petition, name="Бакыт Айгулов")

    assert listed_ids(page(client, petition, since="", name="айгуль*")) == {aigul}


def test_the_window_flag_status_and_country_narrow_the_search(
    client, moderator, petition, make_signature
):
    wanted = make_signature(petition, created_at=HOUR, status="held", flag="no_proof", country="KZ")
    make_signature(
        petition, created_at=HOUR - timedelta(hours=2), status="held", flag="no_proof", country="KZ"
    )
    make_signature(petition, created_at=HOUR, status="held", flag="rate", country="KZ")
    make_signature(petition, created_at=HOUR, status="held", flag="no_proof", country="KG")
    make_signature(petition, created_at=HOUR, country="KZ")

    html = page(
        client,
        petition,
        since="2026-03-03T13:30",
        until="2026-03-03T15:00",
        flag="no_proof",
        status="held",
        country="kz",
    )

    assert listed_ids(html) == {wanted}
    assert matched(html) == 1


def test_the_page_opens_on_the_last_day(client, moderator, petition, make_signature):
    recent = make_signature(petition)
    make_signature(petition, created_at=datetime.now(UTC) - timedelta(days=3))

    assert listed_ids(page(client, petition)) == {recent}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("address", "10.0.0.300", "Give an IP address or a range"),
        ("address", "2001:db8::/64", "Addresses are kept to /48 networks"),
        ("since", "2026-13-45", "Give a date and time"),
        ("until", "yesterday", "Give a date and time"),
        ("domain", "[a-z].com", "Give a domain such as"),
        ("name", "a\u2028b", "cannot hold control characters"),
        ("name", "x" * 101, "At most 100 characters"),
        ("flag", "sneaky", "Choose a flag from the list"),
        ("status", "deleted", "Choose a status from the list"),
        ("country", "Kyrgyzstan", "Give a two-letter country code"),
    ],
)
def test_bad_search_input_gets_a_clear_message(client, moderator, petition, field, value, message):
    html = page(client, petition, **{field: value})

    assert message in html


def test_an_end_before_the_start_is_refused(client, moderator, petition):
    html = page(client, petition, since="2026-03-03T15:00", until="2026-03-03T14:00")

    assert "The end of the window must be after its start." in html


def test_organisers_cannot_investigate(client, make_user, login_as, petition):
    login_as(make_user(email="org@example.kg"))

    assert client.get(f"/moderation/petitions/{petition}/signatures").status_code == 403


def test_the_page_never_shows_signers_email_addresses(client, moderator, petition, make_signature):
    make_signature(petition, email="secret.person@example.kg", email_domain="example.kg")

    html = page(client, petition, since="")

    assert "secret.person" not in html
    assert "example.kg" in html


def test_a_signature_is_listed_with_its_network_not_its_address(
    client, moderator, petition, make_signature
):
    mine = make_signature(petition, client_ip="203.0.113.77", client_network="203.0.113.0/24")

    html = page(client, petition, since="")
    row = row_of(html, "data-signature", str(mine))

    assert "203.0.113.0/24" in row
    assert "203.0.113.77" not in row


def test_the_next_page_of_every_signature_keeps_searching_every_signature(
    client, moderator, petition, make_signature
):
    old = make_signature(petition, created_at=datetime.now(UTC) - timedelta(days=3))
    make_signature(petition, count=50)

    first = page(client, petition, since="")
    next_link = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(next_link).get_data(as_text=True)

    assert old in listed_ids(second)
