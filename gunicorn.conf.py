"""How gunicorn serves the app in production: run `gunicorn` from the repository root, which
reads this file by itself (README.md, Operations).

WEB_WORKERS processes with WEB_THREADS threads each (the gthread worker). The app reads
WEB_THREADS too: an open live-count stream holds a thread, so the app lets streams take at
most a quarter of a process's threads and keeps the rest for pages (petitions/public/live.py).
That holds only if gunicorn really runs that many threads, so `post_worker_init` refuses to
serve an app sized for more threads than its worker has (say `--threads 2` on the command line
while WEB_THREADS says 8): set WEB_THREADS, not `--threads`.
"""

from __future__ import annotations

import os

from config import Config, setting


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


wsgi_app = "petitions:create_app()"
worker_class = "gthread"
# The variables, their defaults and meanings are rows of config.SETTINGS (README.md lists them).
workers = setting("WEB_WORKERS").read(2 * _cores() + 1)
threads = setting("WEB_THREADS").read(Config.WEB_THREADS)
bind = setting("WEB_BIND").read()
#: A worker that stops answering gunicorn's heartbeat this long is restarted (streams do not
#: count: gthread's main thread keeps beating while they wait).
timeout = setting("WEB_TIMEOUT").read()
#: On a restart, requests under way (and streams, at most LIVE_STREAM_SECONDS) get this long.
graceful_timeout = setting("WEB_GRACEFUL_TIMEOUT").read()
#: Longer than nginx's upstream keepalive_timeout, so nginx is the side that closes an idle
#: connection (deploy/nginx/petitions.conf.template).
keepalive = setting("WEB_KEEPALIVE").read()
#: A worker is replaced after this many requests (0: never), each after its own number.
max_requests = setting("WEB_MAX_REQUESTS").read()
max_requests_jitter = setting("WEB_MAX_REQUESTS_JITTER").read(max_requests // 10)
limit_request_line = setting("WEB_LIMIT_REQUEST_LINE").read()
limit_request_fields = setting("WEB_LIMIT_REQUEST_FIELDS").read()
limit_request_field_size = setting("WEB_LIMIT_REQUEST_FIELD_SIZE").read()
#: gunicorn >= 25 opens a control socket at one fixed path per user, where two servers on one
#: machine would collide.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Refuse to serve if the app sized its live-stream cap for more threads than this worker
    has: idle streams could then take every thread and the pages time out."""
    sized_for = getattr(worker.wsgi, "config", {}).get("WEB_THREADS")
    if sized_for is not None and sized_for > worker.cfg.threads:
        raise RuntimeError(
            f"Refusing to serve: the app sized its live streams for WEB_THREADS={sized_for}, "
            f"but this gunicorn worker has {worker.cfg.threads} threads. Set WEB_THREADS "
            "(gunicorn.conf.py reads it) instead of passing --threads."
        )
