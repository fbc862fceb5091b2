"""Issue 9: several app instances share their rate limits through Redis.

Two real gunicorn servers, as production runs them, on one database and one Redis (the shared
one at 127.0.0.1:6379, under a key prefix of this test's own, whose keys are deleted after).
Logins sent to them in turn meet one limit: with per-process memory each would allow the
limit, together twice as many.
"""

from __future__ import annotations

import http.client
import os
import secrets
from contextlib import ExitStack
from urllib.parse import urlencode

import pytest
import redis

from tests.fixtures.actors import csrf_token
from tests.fixtures.net import free_port
from tests.fixtures.threads import wait_until
from tests.test_production_server import (
    ANSWER_TIMEOUT,
    START_TIMEOUT,
    database,  # noqa: F401 - the fixture
    gunicorn,
    server_environment,
    status_of,
)

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 0
LIMIT = 4


@pytest.fixture
def shared_redis():
    """The Redis URL and a key prefix no one else uses; the keys under it are deleted after."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        # CI starts Redis (.ci/run): there, a missing server is a failure, not a gap.
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {error}")
    prefix = f"test-shared-limits-{secrets.token_hex(8)}"
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}", prefix
    finally:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def login_attempt(port: int, email: str) -> int:
    """A browser's failed login at the server on `port`: the form, then its POST."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT)
    try:
        conn.request("GET", "/account/login")
        page = conn.getresponse()
        html = page.read().decode()
        cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
        body = urlencode({"csrf_token": csrf_token(html), "email": email, "password": "wrong"})
        conn.request(
            "POST",
            "/account/login",
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def test_two_instances_on_one_redis_share_one_limit(tmp_path, database, shared_redis):  # noqa: F811
    url, _ = database
    storage, prefix = shared_redis
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        for n, port in enumerate(ports):
            home = tmp_path / f"server{n}"
            home.mkdir()
            env = server_environment(
                home,
                url,
                port,
                RATELIMIT_STORAGE_URI=storage,
                RATELIMIT_KEY_PREFIX=prefix,
                RATE_LOGIN_ADDRESS=f"{LIMIT}/minute",
            )
            process = stack.enter_context(gunicorn(home, env))
            wait_until(
                lambda: process.poll() is not None or status_of(port, "/") is not None,  # noqa: B023
                timeout=START_TIMEOUT,
                interval=0.2,
            )
            log = home / "gunicorn.log"
            assert status_of(port, "/") == 200, log.read_text(errors="replace")[-3000:]
        answers = [login_attempt(ports[n % 2], f"guess{n}@example.kg") for n in range(LIMIT + 2)]
    assert answers == [401] * LIMIT + [429, 429]
