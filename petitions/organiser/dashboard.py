"""What the organiser's dashboard page needs beyond the numbers: the chart and country names in
the reader's language (petitions/figures.py). The numbers come from services/stats.py; the
route is `organiser.dashboard` in views.py.
"""

from __future__ import annotations

from ..figures import country_label, country_rows, signatures_chart
from ..models import Petition
from ..services.stats import Dashboard


def page_context(petition: Petition, numbers: Dashboard) -> dict:
    """The template's variables."""
    return {
        "petition": petition,
        "numbers": numbers,
        "chart": signatures_chart(numbers.per_day) if numbers.per_day else None,
        "countries": country_rows(numbers.countries),
        "country_label": country_label,
    }
