"""The fixtures live in `tests/fixtures/`, one plugin module per concern; this file only loads
them. Helpers that tests import (csrf_token, body_text, scalar_sql, run_in_threads, ...) are
imported from those modules, never from a conftest.
"""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.mail",
    "tests.fixtures.app",
    "tests.fixtures.factories",
    "tests.fixtures.actors",
    "tests.fixtures.postgres",
]
