"""The app's clock: what time the public numbers are read at, and when a moderator or an
admin pauses and resumes signing (the pause's length moves deadlines on).

Production uses the wall clock (UTC). A test installs its own (`app.extensions["clock"]`, a
callable returning an aware UTC datetime), so answers that depend on the time (a series that
grows an empty hour, a snapshot's `computed_at`) are checked without waiting for the clock.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from .models import utcnow


def now() -> datetime:
    return current_app.extensions.get("clock", utcnow)()
