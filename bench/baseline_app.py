"""A bare Flask JSON route: the ceiling that `count.json` is compared with in bench/load.py.

It answers the same JSON shape as `/petitions/<id>/count.json` without a database, templates,
extensions or after-request hooks, so the difference between the two is what the petition app
adds per request (two queries, a connection ping, security and cache headers, an ETag).

    gunicorn -w 3 --threads 4 -b 127.0.0.1:8001 --chdir bench 'baseline_app:create_app()'
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/count.json")
    def count_json():
        """A constant total and the current time, like the petition app's count.json."""
        computed_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return jsonify(petition_id=1, state="open", signature_count=12345, computed_at=computed_at)

    return app
