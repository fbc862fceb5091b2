"""The public petition page shows its numbers: a chart of signatures per day that reads
without JavaScript (SVG with a table of the same numbers), and the breakdown by country and
region, with links to the open data; public data answers can be shared by a CDN."""

from __future__ import annotations

import re
from datetime import timedelta
from xml.etree import ElementTree

from sqlalchemy import text, update

from petitions.extensions import db
from petitions.models import Signature, utcnow

SVG = "{http://www.w3.org/2000/svg}"


def _figures(html: str) -> str:
    match = re.search(r'<section class="figures".*?</section>', html, re.S)
    assert match, "no figures section on the page"
    return match.group(0)


def _backdate(app, region: str, days: int) -> None:
    """Move the confirmations of signers from `region` into the past (the count shards do not
    depend on the day, so the total stays right)."""
    with app.app_context():
        moved = db.session.execute(
            update(Signature)
            .where(Signature.region == region)
            .values(confirmed_at=utcnow() - timedelta(days=days))
        ).rowcount
        assert moved
        db.session.commit()
        db.session.remove()


def test_chart_table_and_breakdowns_show_the_confirmed_signatures(app, client, signer, petition):
    signer.sign_and_confirm(petition, "a@example.kg", region="Chüy")
    signer.sign_and_confirm(petition, "b@example.kg", region="chuy region")
    signer.sign_and_confirm(petition, "c@example.kg", country="RU", region="Two days ago")
    signer.sign(petition, "pending@example.kg")  # never confirmed: not counted anywhere
    _backdate(app, "Two days ago", days=2)

    section = _figures(client.get(f"/petitions/{petition}").get_data(as_text=True))

    svg = ElementTree.fromstring(re.search(r"<svg.*?</svg>", section, re.S).group(0))
    bars = svg.findall(f".//{SVG}rect[@class='bar']")
    per_bar = [int(bar.get("data-count")) for bar in bars]
    assert sum(per_bar) == 3
    assert len(bars) == 3, "two days ago, yesterday (no signatures: 0) and today"
    assert per_bar == [1, 0, 2]
    table_counts = [int(n) for n in re.findall(r'<tr data-day="[^"]+">.*?<td>(\d+)</td>', section)]
    assert table_counts == per_bar

    assert re.search(r'data-country="KG"><th scope="row">Kyrgyzstan</th><td>2</td>', section)
    assert re.search(r'data-country="RU">.*?<td>1</td>', section)
    assert re.search(r'data-region="KG-C"><th scope="row">Chüy</th>.*?<td>2</td>', section)
    # What the Russian signer typed is not a region of Russia: counted, not shown.
    assert "Two days ago" not in section
    assert "Other or not given" in section
    assert "3 confirmed signatures counted at" in section


def test_the_open_data_links_on_the_page_work(app, client, signer, petition):
    signer.sign_and_confirm(petition, "a@example.kg")
    section = _figures(client.get(f"/petitions/{petition}").get_data(as_text=True))
    links = re.findall(r'<a href="(/api/v1/[^"]+)"', section)
    assert len(links) == 5
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
    hourly = client.get(f"/api/v1/petitions/{petition}/timeseries.csv?interval=hour")
    assert hourly.get_data(as_text=True).splitlines()[1].endswith(",1,1")


def test_a_petition_nobody_signed_says_so(client, petition):
    section = _figures(client.get(f"/petitions/{petition}").get_data(as_text=True))
    assert "No confirmed signatures yet." in section
    assert "<svg" not in section
    assert "by-country" not in section


def test_rejected_petitions_have_no_figures(app, client, make_petition):
    petition_id = make_petition(state="draft")
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE petitions SET state = 'rejected', rejection_reason = 'duplicate' "
                "WHERE id = :id"
            ),
            {"id": petition_id},
        )
        db.session.commit()
    page = client.get(f"/petitions/{petition_id}")
    assert page.status_code == 200
    assert 'class="figures"' not in page.get_data(as_text=True)


def test_public_data_answers_carry_no_cookie_and_no_vary(client, signer, petition):
    """A CDN shares one copy among all readers, including visitors who have a session."""
    signer.sign_and_confirm(petition, "a@example.kg")
    client.get("/account/login")
    assert client.get_cookie("session") is not None, "the log-in form needs a session"
    for path in (
        f"/petitions/{petition}/count.json",
        f"/api/v1/petitions/{petition}",
        "/api/v1/petitions",
        f"/api/v1/petitions/{petition}/countries.csv",
        "/api/v1/nowhere",
    ):
        response = client.get(path)
        assert "Cookie" not in response.headers.get("Vary", ""), path
        assert "Set-Cookie" not in response.headers, path
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
