"""Server-side SVG charts (petitions/charts.py): well-formed, accessible, nothing a CSP blocks;
and the day series they draw (services/stats.fill_days)."""

from datetime import date, timedelta
from xml.etree import ElementTree

import pytest

from petitions import charts
from petitions.services.stats import fill_days

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [(date(2026, 3, 1), 2), (date(2026, 3, 2), 0), (date(2026, 3, 3), 7)]


def draw(points=DAYS, **labels):
    return charts.daily_bar_chart(
        points,
        title=labels.pop("title", "Signatures per day"),
        description=labels.pop("description", "Nine signatures in three days."),
        x_label=labels.pop("x_label", "Day (UTC)"),
        y_label=labels.pop("y_label", "Signatures"),
        **labels,
    )


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def bars(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def texts(root: ElementTree.Element, css_class: str) -> list[str]:
    return [el.text for el in root.iter(f"{SVG}text") if css_class in el.get("class", "").split()]


def test_the_chart_is_well_formed_svg_with_one_bar_per_day():
    root = parse(draw())
    assert root.tag == f"{SVG}svg"
    found = bars(root)
    assert [bar.get("data-day") for bar in found] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [int(bar.get("data-count")) for bar in found] == [2, 0, 7]
    # Each bar says what it stands for, for pointer and screen-reader users alike.
    assert [bar.find(f"{SVG}title").text for bar in found] == [
        "2026-03-01: 2",
        "2026-03-02: 0",
        "2026-03-03: 7",
    ]


def test_bar_heights_follow_the_counts():
    found = bars(parse(draw()))
    heights = [float(bar.get("height")) for bar in found]
    assert heights[1] == 0
    assert heights[2] > heights[0] > 0
    assert heights[2] / heights[0] == pytest.approx(7 / 2)
    # Bars stand on one baseline, left to right, without overlapping.
    bottoms = {round(float(bar.get("y")) + float(bar.get("height")), 6) for bar in found}
    assert len(bottoms) == 1
    lefts = [float(bar.get("x")) for bar in found]
    widths = [float(bar.get("width")) for bar in found]
    assert all(w > 0 for w in widths)
    assert all(lefts[n] + widths[n] <= lefts[n + 1] for n in range(len(found) - 1))


def test_the_chart_is_named_described_and_labelled():
    root = parse(draw(id_prefix="per-day"))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "Signatures per day" and desc.text == "Nine signatures in three days."
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.get("id") == "per-day-title" and desc.get("id") == "per-day-desc"
    assert list(root)[0] is title  # the accessible name comes first
    assert texts(root, "x-label") == ["Day (UTC)"]
    assert texts(root, "y-label") == ["Signatures"]
    # Dates under the bars, counts beside the grid lines (0 up to a round top above 7).
    assert texts(root, "day") == ["2026-03-01", "2026-03-02", "2026-03-03"]
    y_ticks = [int(label) for label in texts(root, "count")]
    assert y_ticks[0] == 0 and y_ticks[-1] >= 7 and y_ticks == sorted(y_ticks)


def test_formatters_and_translated_labels_are_used():
    root = parse(
        draw(
            format_day=lambda day: day.strftime("%d.%m"),
            format_count=lambda n: f"{n:,}".replace(",", "\u202f"),
            describe_bar=lambda day, n: f"{n} подписей {day:%d.%m}",
            x_label="День (UTC)",
        )
    )
    assert texts(root, "day") == ["01.03", "02.03", "03.03"]
    assert bars(root)[2].find(f"{SVG}title").text == "7 подписей 03.03"
    assert texts(root, "x-label") == ["День (UTC)"]


def test_everything_written_into_the_svg_is_escaped():
    hostile = "<script>alert(\"x\")</script> & 'quotes'"
    svg = draw(title=hostile, description=hostile, x_label=hostile, id_prefix='a"b<c')
    assert "<script" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == hostile
    assert root.find(f"{SVG}desc").text == hostile
    assert texts(root, "x-label") == [hostile]


def test_nothing_a_strict_content_security_policy_would_block():
    svg = draw()
    root = parse(svg)
    for element in root.iter():
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
        assert element.tag not in (f"{SVG}style", f"{SVG}script", f"{SVG}foreignObject")
    assert "href" not in svg and "url(" not in svg  # nothing fetched from anywhere


def test_an_empty_series_is_still_a_valid_chart_without_bars():
    root = parse(draw([], description="No signatures yet."))
    assert bars(root) == []
    assert root.find(f"{SVG}desc").text == "No signatures yet."


def test_a_long_series_keeps_every_day_inside_the_drawing():
    start = date(2025, 1, 1)
    points = [(start + timedelta(days=n), n % 17) for n in range(400)]
    root = parse(draw(points, width=640, height=280))
    found = bars(root)
    assert len(found) == 400
    for bar in found:
        x, width = float(bar.get("x")), float(bar.get("width"))
        assert (
            width > 0 and x >= charts.MARGIN_LEFT and x + width <= 640 - charts.MARGIN_RIGHT + 1e-6
        )
    days = texts(root, "day")  # a few dates, not 400 overlapping ones
    assert len(days) == charts.MAX_DAY_TICKS
    assert days[0] == "2025-01-01" and days[-1] == "2026-02-04"


@pytest.mark.parametrize(
    ("largest", "top", "step"),
    [(0, 1, 1), (1, 1, 1), (3, 3, 1), (5, 5, 1), (7, 8, 2), (12, 15, 5), (1000, 1000, 200),
     (1001, 1500, 500), (123_456, 150_000, 50_000)],
)  # fmt: skip
def test_count_axis_has_round_whole_number_ticks(largest, top, step):
    assert charts.nice_ceiling(largest) == (top, step)
    assert top >= largest and top // step <= 5


@pytest.mark.parametrize("days", [0, 1, 2, 6, 7, 30, 365])
def test_day_ticks_include_both_ends(days):
    indexes = charts.day_tick_indexes(days)
    assert len(indexes) == min(days, charts.MAX_DAY_TICKS)
    if days:
        assert indexes[0] == 0 and indexes[-1] == days - 1
        assert indexes == sorted(set(indexes))


# --- the days a chart shows ---------------------------------------------------------------------


def test_fill_days_adds_the_quiet_days_with_zero():
    points = [(date(2026, 3, 1), 2), (date(2026, 3, 4), 1)]
    assert fill_days(points) == [
        (date(2026, 3, 1), 2),
        (date(2026, 3, 2), 0),
        (date(2026, 3, 3), 0),
        (date(2026, 3, 4), 1),
    ]


def test_fill_days_reaches_to_the_given_end_and_adds_up_repeats():
    points = [(date(2026, 3, 1), 2), (date(2026, 3, 1), 3)]
    assert fill_days(points, end=date(2026, 3, 3)) == [
        (date(2026, 3, 1), 5),
        (date(2026, 3, 2), 0),
        (date(2026, 3, 3), 0),
    ]
    assert fill_days([]) == []
