"""The app under its production server: real gunicorn started as README.md says (from the
repository root, which makes it read gunicorn.conf.py), PETITIONS_ENV=production, one worker
with four threads, on a migrated SQLite file of its own.

Issue 8: idle live-count streams, more of them than the server has threads, took every thread
and the home page timed out. Streams now take at most a quarter of the threads; the rest get
503 at once and the pages keep answering. Each test starts its own server and stops it, and
every socket it opens is closed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures import net
from tests.fixtures.net import free_port
from tests.fixtures.servers import migrated_with_open_petition
from tests.fixtures.threads import wait_until

ROOT = Path(__file__).resolve().parent.parent
THREADS = 4
#: Streams a process with THREADS threads serves: a quarter of them (live.max_streams).
CAP = 1
#: Longer than any test here, so the streams it opens hold their threads throughout.
STREAM_SECONDS = 120
#: How long a client waits for an answer; none within it means the site is down.
ANSWER_TIMEOUT = 10.0
#: How long gunicorn may take to boot, and to stop once asked.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Site:
    port: int
    petition_id: int
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def database(tmp_path) -> tuple[str, int]:
    """A SQLite file built by the migrations, with one open petition: (URL, its id)."""
    url = f"sqlite:///{tmp_path / 'production.sqlite3'}"
    return url, migrated_with_open_petition(url)


def server_environment(tmp_path: Path, database_url: str, port: int, **settings: str) -> dict:
    """Only what the server needs, so nothing leaks in from the shell that runs the tests."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PETITIONS_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        # Plain http on 127.0.0.1: a Secure cookie would never come back.
        "SESSION_COOKIE_SECURE": "0",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TRUSTED_HOSTS": "127.0.0.1",
        "WEB_WORKERS": "1",
        "WEB_THREADS": str(THREADS),
        "WEB_BIND": f"127.0.0.1:{port}",
        # Streams still open when the test ends need not keep the worker for long.
        "WEB_GRACEFUL_TIMEOUT": "2",
        "LIVE_STREAM_SECONDS": str(STREAM_SECONDS),
        **settings,
    }


@contextmanager
def gunicorn(tmp_path: Path, env: dict, *args: str) -> Iterator[subprocess.Popen]:
    """`gunicorn` run from the repository root; stopped (and, if it must be, killed) after."""
    with (tmp_path / "gunicorn.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, which the kill below reaches
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(STOP_TIMEOUT)


def status_of(port: int, path: str) -> int | None:
    return net.status_of(port, path, ANSWER_TIMEOUT)


@pytest.fixture
def site(tmp_path, database) -> Iterator[Site]:
    url, petition_id = database
    port = free_port()
    site = Site(port, petition_id, tmp_path / "gunicorn.log")
    with gunicorn(tmp_path, server_environment(tmp_path, url, port)) as process:
        wait_until(
            lambda: process.poll() is not None or status_of(port, "/") is not None,
            timeout=START_TIMEOUT,
            interval=0.2,
        )
        assert status_of(port, "/") == 200, f"the site did not come up:\n{site.log_tail()}"
        yield site


@dataclass(frozen=True)
class Head:
    status: int
    headers: dict[str, str]


def open_streams(site: Site, count: int, stack: ExitStack) -> list[socket.socket]:
    """`count` connections that ask for the petition's live stream and then read no further;
    closed when `stack` closes."""
    request = (
        f"GET /petitions/{site.petition_id}/count/stream HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{site.port}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    streams = []
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", site.port)))
        sock.sendall(request)
        streams.append(sock)
    return streams


def read_head(sock: socket.socket) -> Head | None:
    """The status line and headers of the answer, or None if none came within ANSWER_TIMEOUT;
    the body (the stream itself) is left unread."""
    sock.settimeout(ANSWER_TIMEOUT)
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(1024)
            if not chunk:
                break
            received += chunk
    except TimeoutError:
        return None
    if b"\r\n\r\n" not in received:
        return None  # closed without an answer
    lines = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Head(int(lines[0].split()[1]), headers)


def test_idle_streams_beyond_the_threads_leave_the_pages_answering(site):
    with ExitStack() as stack:
        streams = open_streams(site, THREADS + 2, stack)
        for sock in streams:  # each has had its turn at a thread, or waited ANSWER_TIMEOUT
            read_head(sock)
        for path in ("/", f"/petitions/{site.petition_id}"):
            assert status_of(site.port, path) == 200, (
                f"{path}: no 200 within {ANSWER_TIMEOUT} s while {THREADS + 2} streams are "
                f"open on {THREADS} threads\n{site.log_tail()}"
            )


def test_streams_beyond_the_cap_get_503_with_retry_after_at_once(site):
    with ExitStack() as stack:
        heads = [read_head(sock) for sock in open_streams(site, THREADS + 2, stack)]
    assert None not in heads, f"a stream request got no answer at all\n{site.log_tail()}"
    assert sorted(head.status for head in heads) == [200] * CAP + [503] * (THREADS + 2 - CAP)
    refused = [head for head in heads if head.status == 503]
    assert {head.headers.get("retry-after") for head in refused} == {str(STREAM_SECONDS)}
    assert {head.headers.get("content-type") for head in refused} == {"application/problem+json"}


@pytest.mark.parametrize(
    ("settings", "args", "message"),
    [
        (
            {"LIVE_MAX_STREAMS": "2"},
            (),
            "Refusing to start with LIVE_MAX_STREAMS=2",
        ),
        (
            {"WEB_THREADS": "8"},
            ("--threads", "2"),
            "the app sized its live streams for WEB_THREADS=8, but this gunicorn worker has 2",
        ),
    ],
    ids=["too many streams for the threads", "fewer threads than WEB_THREADS"],
)
def test_gunicorn_refuses_to_serve_when_streams_could_take_the_pages_threads(
    tmp_path, settings, args, message
):
    port = free_port()
    env = server_environment(tmp_path, f"sqlite:///{tmp_path / 'unused.sqlite3'}", port)
    with gunicorn(tmp_path, {**env, **settings}, *args) as process:
        try:
            process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("gunicorn kept running with an unsafe stream cap")
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert process.returncode != 0
    assert message in log, log[-3000:]


@contextmanager
def serving(tmp_path: Path, database_url: str, **settings: str) -> Iterator[Site]:
    """gunicorn on the database with these settings, up and answering."""
    port = free_port()
    site = Site(port, 0, tmp_path / "gunicorn.log")
    env = server_environment(tmp_path, database_url, port, **settings)
    with gunicorn(tmp_path, env) as process:
        wait_until(
            lambda: process.poll() is not None or status_of(port, "/") is not None,
            timeout=START_TIMEOUT,
            interval=0.2,
        )
        assert status_of(port, "/") == 200, f"the site did not come up:\n{site.log_tail()}"
        yield site


def test_a_worker_replaced_after_its_requests_loses_none_of_them(tmp_path, database):
    url, _ = database
    with serving(tmp_path, url, WEB_MAX_REQUESTS="3", WEB_MAX_REQUESTS_JITTER="0") as site:
        statuses = [status_of(site.port, "/") for _ in range(10)]
        log = site.log_tail()
    assert "Autorestarting worker" in log, log
    assert statuses == [200] * 10, log


def test_a_request_line_over_the_limit_is_refused_before_the_app(tmp_path, database):
    url, _ = database
    with serving(tmp_path, url, WEB_LIMIT_REQUEST_LINE="200") as site:
        assert status_of(site.port, "/search?q=" + "x" * 300) == 414
