"""Charts drawn on the server as SVG: no JavaScript, no CDN, nothing a strict CSP blocks.

The functions here are pure: data and already translated labels in, an SVG document out. The
SVG is well-formed XML (it can be served as a file or parsed in a test) and is meant to be
inlined in an HTML page. It uses presentation attributes (`fill=`, `stroke=`, `font-size=`)
rather than `style=` attributes or a `<style>` element, so `style-src 'self'` has nothing to
refuse. For screen readers it is one image (`role="img"`) named by its `<title>` and described
by its `<desc>`; every bar has a `<title>` of its own (a tooltip for pointer users). Pages show
the same numbers in a table as well, since a chart is never the only way to read them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date

from markupsafe import Markup, escape

SVG_NAMESPACE = "http://www.w3.org/2000/svg"

#: Colours of the site (static/site.css): ink, accent, muted, and a light grid.
INK = "#1b1b1b"
ACCENT = "#0b5394"
MUTED = "#555555"
GRID = "#dddddd"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"

#: Margins of the plot inside the drawing, in SVG units: room for tick labels and axis titles.
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 56

#: At most this many dates are written under the x axis (the first and last always are).
MAX_DAY_TICKS = 6


def _num(value: float) -> str:
    """A coordinate, short: 12, 12.5, 12.33."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _attrs(**attributes: object) -> str:
    """XML attributes, escaped; trailing underscores dropped and other underscores made dashes."""
    parts = []
    for name, value in attributes.items():
        if value is None:
            continue
        xml_name = name.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = _num(value)
        parts.append(f'{xml_name}="{escape(str(value))}"')
    return " ".join(parts)


def nice_ceiling(largest: int) -> tuple[int, int]:
    """(top, step) of a count axis: whole-number ticks at 1, 2 or 5 times a power of ten.

    The top is the smallest multiple of the step at or above `largest`, with at most five steps,
    so the tallest bar nearly fills the plot and the tick labels are round numbers.
    """
    if largest <= 0:
        return 1, 1
    rough = largest / 5
    magnitude = 10 ** max(0, math.floor(math.log10(rough))) if rough >= 1 else 1
    for factor in (1, 2, 5, 10):
        step = factor * magnitude
        if step * 5 >= largest:
            break
    top = math.ceil(largest / step) * step
    return top, step


def day_tick_indexes(days: int, most: int = MAX_DAY_TICKS) -> list[int]:
    """Which of `days` consecutive bars get a date under them: evenly spread, ends included."""
    if days <= 0:
        return []
    if days <= most:
        return list(range(days))
    last = days - 1
    return sorted({round(n * last / (most - 1)) for n in range(most)})


def daily_bar_chart(
    points: Sequence[tuple[date, int]],
    *,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    format_day: Callable[[date], str] = date.isoformat,
    format_count: Callable[[int], str] = str,
    describe_bar: Callable[[date, int], str] | None = None,
    id_prefix: str = "chart",
    width: int = 640,
    height: int = 280,
) -> Markup:
    """A bar chart of counts per day as an SVG document: one bar per point, in the given order.

    `points` are (day, count) pairs, one per day to draw (days without signatures included,
    with 0, so the gaps show). Labels arrive translated: this module knows no language.
    `id_prefix` keeps the ids of the title and description unique when a page has several
    charts. With no points the chart has its axes and no bars (pages show a message instead).
    """
    describe_bar = describe_bar or (lambda day, count: f"{format_day(day)}: {format_count(count)}")
    plot_left, plot_top = MARGIN_LEFT, MARGIN_TOP
    plot_width = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = height - MARGIN_TOP - MARGIN_BOTTOM
    plot_bottom = plot_top + plot_height
    top, step = nice_ceiling(max((count for _, count in points), default=0))
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    text_attrs = {"fill": INK}

    parts = [
        f"<svg {_attrs(xmlns=SVG_NAMESPACE, viewBox=f'0 0 {width} {height}', width='100%')}"
        f" {_attrs(role='img', aria_labelledby=f'{title_id} {desc_id}', class_='chart')}"
        f" {_attrs(font_family=FONT, font_size=12)}>",
        f"<title {_attrs(id=title_id)}>{escape(title)}</title>",
        f"<desc {_attrs(id=desc_id)}>{escape(description)}</desc>",
    ]

    # Horizontal grid lines with the counts they stand for.
    parts.append(f"<g {_attrs(class_='y-axis', aria_hidden='true')}>")
    for tick in range(0, top + 1, step):
        y = plot_bottom - plot_height * tick / top
        parts.append(
            f"<line {_attrs(x1=float(plot_left), x2=float(plot_left + plot_width), y1=y, y2=y)}"
            f" {_attrs(stroke=GRID if tick else MUTED, stroke_width=1)}/>"
        )
        parts.append(
            f"<text {_attrs(class_='tick count', x=float(plot_left - 6), y=y + 4.0)}"
            f" {_attrs(text_anchor='end', **text_attrs)}>{escape(format_count(tick))}</text>"
        )
    parts.append("</g>")

    # The bars, each with its own title.
    slot = plot_width / len(points) if points else plot_width
    bar_width = max(slot * 0.8, 1.0) if slot >= 1.25 else slot
    offset = (slot - bar_width) / 2
    parts.append(f"<g {_attrs(class_='bars')}>")
    for index, (day, count) in enumerate(points):
        bar_height = plot_height * count / top
        parts.append(
            f"<rect {_attrs(class_='bar', x=plot_left + index * slot + offset)}"
            f" {_attrs(y=plot_bottom - bar_height, width=float(bar_width), height=bar_height)}"
            f" {_attrs(fill=ACCENT, data_day=day.isoformat(), data_count=count)}>"
            f"<title>{escape(describe_bar(day, count))}</title></rect>"
        )
    parts.append("</g>")

    # Dates under some of the bars.
    parts.append(f"<g {_attrs(class_='x-axis', aria_hidden='true')}>")
    for index in day_tick_indexes(len(points)):
        x = plot_left + (index + 0.5) * slot
        day = points[index][0]
        parts.append(
            f"<text {_attrs(class_='tick day', x=x, y=float(plot_bottom + 18))}"
            f" {_attrs(text_anchor='middle', **text_attrs)}>{escape(format_day(day))}</text>"
        )
    parts.append("</g>")

    # Axis titles.
    parts.append(
        f"<text {_attrs(class_='axis-label x-label', x=plot_left + plot_width / 2)}"
        f" {_attrs(y=float(height - 10), text_anchor='middle', **text_attrs)}>"
        f"{escape(x_label)}</text>"
    )
    y_middle = plot_top + plot_height / 2
    parts.append(
        f"<text {_attrs(class_='axis-label y-label', x=16.0, y=y_middle, text_anchor='middle')}"
        f" {_attrs(transform=f'rotate(-90 16 {_num(y_middle)})', **text_attrs)}>"
        f"{escape(y_label)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped
