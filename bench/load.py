"""Load benchmark of the petition app, run by hand (`make bench`), never by CI or pytest.

What it does, all on 127.0.0.1 and bounded in count and time:

1. drops and recreates a PostgreSQL database of its own (default `petitions_bench`), runs the
   migrations and creates one open petition through the CLI;
2. starts an SMTP sink (aiosmtpd, in this process) and the app: with `--through nginx` (the
   default) the production stack of deploy/loopback.py (nginx with the production template's
   cache and limits, one gunicorn instance, the mail workers), with `--through gunicorn` a
   gunicorn and `flask worker` process(es) of its own, without nginx;
3. phase 1, signing end to end: C client threads, each repeating for fresh addresses
   GET the petition page -> POST sign -> wait for the confirmation mail at the sink ->
   GET the emailed link -> POST confirm; reports confirmed signatures per second, latencies
   and the server CPU per confirmed signature (app + PostgreSQL + nginx);
4. phase 2, reads: GET /petitions/<id>/count.json, then the anonymous petition page, over R
   keep-alive connections for a fixed time with `wrk` (or a Python client), through nginx's
   cache and straight from gunicorn; then the same against a bare Flask JSON route
   (bench/baseline_app.py) under the same gunicorn settings, and a bare nginx serving a small
   static file (the machine's ceiling), for comparison;
5. checks that the public count equals the confirmations done (through nginx's cache too),
   that no mail went twice and that `flask counts reconcile` finds no drift; exits 1 if not
   (or if any request failed).

Everything it started (the stack or gunicorn, workers, the sink) is stopped on exit, Ctrl-C or
error. The Markdown summary goes to stdout (progress to stderr), and with logs to
bench/results/<time>/.

    .venv/bin/python bench/load.py --signatures 300 --read-seconds 5
    make bench BENCH_ARGS='--signatures 300 --read-seconds 5'
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from config import ENVIRONMENT_VARIABLES  # noqa: E402 (config.py is at the repository root)
from deploy import loopback  # noqa: E402

BENCH_DIR = ROOT / "bench"
HOST = "127.0.0.1"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

#: Variables config.py reads (its SETTINGS rows), and Flask's own; cleared from the inherited
#: environment so that a developer's own settings (a MAIL_USERNAME, a PROXY_FIX_HOPS, ...)
#: cannot leak into the benchmark.
APP_VARIABLES = (*ENVIRONMENT_VARIABLES, "FLASK_APP", "FLASK_DEBUG")

LINK_RE = re.compile(r"https?://[^\s<>\"]+/confirm/[^\s<>\"]+")
CONFIRMED_TEXT = "Your signature is confirmed"


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the Markdown summary."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Interrupted(Exception):
    """SIGTERM, turned into an exception so the same cleanup runs as for Ctrl-C."""


def _raise_interrupted(signum, _frame) -> None:
    raise Interrupted(signal.Signals(signum).name)


# --- options ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load benchmark: sign-and-confirm end to end, then count.json reads.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--through",
        choices=("nginx", "gunicorn"),
        default="nginx",
        help="nginx: the clients talk to the production stack of deploy/loopback.py (Debian "
        "nginx, its proxy_cache, one gunicorn instance behind it); gunicorn: to gunicorn "
        "directly, without nginx",
    )
    parser.add_argument(
        "-c",
        "--concurrency",
        type=int,
        default=64,
        help="signing clients in phase 1 (each waits ~1 s for its mail, see BENCHMARKS.md)",
    )
    parser.add_argument(
        "--read-concurrency",
        type=int,
        default=32,
        help="connections in phase 2",
    )
    parser.add_argument(
        "--signatures", type=int, default=2000, help="signatures to sign and confirm at most"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="phase 1 starts no new signature after this; flows under way still finish",
    )
    parser.add_argument("--read-seconds", type=float, default=10.0, help="duration of phase 2")
    parser.add_argument(
        "--workers", type=int, default=CPUS + 1, help="gunicorn worker processes (WEB_WORKERS)"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (WEB_THREADS)")
    parser.add_argument(
        "--mail-workers", type=int, default=1, help="`flask worker` processes delivering mail"
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="phase 2 client: wrk if installed (auto), or the Python one",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare Flask baseline")
    parser.add_argument(
        "--no-ceiling",
        "--no-nginx",
        dest="no_ceiling",
        action="store_true",
        help="skip the bare nginx ceiling (a small static file, if nginx is installed); "
        "--through nginx still puts the stack's nginx in front of the app",
    )
    parser.add_argument(
        "--label",
        default="unlabelled run",
        help="how the summary describes this run",
    )
    parser.add_argument("--skip-signing", action="store_true", help="skip phase 1")
    parser.add_argument(
        "--limits",
        choices=("memory", "redis", "off"),
        default="memory",
        help="rate-limit counters in each process's memory (the default), in Redis at "
        "--redis-url (shared, as on several instances), or limits off (their cost, by difference)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--pg-host", default=HOST)
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument(
        "--database",
        default="petitions_bench",
        help="database to DROP and recreate; its name must contain 'bench'",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="keep the database after a passing run"
    )
    parser.add_argument(
        "--mail-timeout", type=float, default=60.0, help="seconds to wait for one mail"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=BENCH_DIR / "results",
        help="a <timestamp>/ folder with logs and the summary is made here",
    )
    args = parser.parse_args(argv)
    for name in ("concurrency", "read_concurrency", "signatures", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.through == "nginx" and not os.access(loopback.NGINX, os.X_OK):
        parser.error(
            f"--through nginx: no nginx at {loopback.NGINX} (`make nginx` installs Debian's, "
            "NGINX=... names another); --through gunicorn measures without it"
        )
    if args.mail_workers < 1:
        parser.error("--mail-workers must be at least 1 (nothing would deliver the mail)")
    if args.pg_host not in LOOPBACK_NAMES:
        parser.error("--pg-host must be a loopback address: this benchmark targets 127.0.0.1 only")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database) or "bench" not in args.database:
        parser.error("--database must be a plain lower-case name containing 'bench'")
    if args.max_seconds <= 0 or args.read_seconds <= 0:
        parser.error("--max-seconds and --read-seconds must be positive")
    # Bounded on purpose: this is a benchmark of one small machine, not a load generator.
    limits = {"concurrency": 1000, "read_concurrency": 1000, "signatures": 1_000_000}
    limits |= {"max_seconds": 3600, "read_seconds": 600, "workers": 64, "threads": 64}
    for name, limit in limits.items():
        if getattr(args, name) > limit:
            parser.error(f"--{name.replace('_', '-')} is capped at {limit}")
    return args


# --- statistics ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile of already sorted values (nan if empty)."""
    if not values:
        return math.nan
    k = (len(values) - 1) * q / 100
    low = math.floor(k)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


@dataclass
class Latencies:
    """Seconds per operation, summarised in milliseconds."""

    values: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        ordered = sorted(self.values)
        return {
            "n": len(ordered),
            "p50": percentile(ordered, 50) * 1000,
            "p90": percentile(ordered, 90) * 1000,
            "p95": percentile(ordered, 95) * 1000,
            "p99": percentile(ordered, 99) * 1000,
            "max": (ordered[-1] * 1000) if ordered else math.nan,
        }


def ms(value: float) -> str:
    return "–" if math.isnan(value) else (f"{value:.1f}" if value < 100 else f"{value:.0f}")


# --- CPU accounting ------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU seconds used so far by the given processes and their live descendants."""
    stats = {pid: stat for pid in _all_pids() if (stat := _proc_stat(pid))}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    stack = [pid for pid in roots if pid in stats]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, []))
    return sum(stats[pid][1] for pid in seen)


def postgres_cpu_seconds(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `database` (found by process title)."""
    total = 0.0
    marker = f" {database} ".encode()
    for pid in _all_pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres:") and marker in title:
            stat = _proc_stat(pid)
            total += stat[1] if stat else 0.0
    return total


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


@dataclass
class CpuSnapshot:
    wall: float
    app: float
    #: Of `app`, the `flask worker` processes (mail delivery).
    mail: float
    postgres: float
    client: float
    machine_busy: int
    machine_total: int
    #: nginx's master and its worker processes (the stack's, or the bare ceiling's).
    nginx: float = 0.0


class CpuMeter:
    """Who used the CPU during a phase: the app, its PostgreSQL backends, nginx, the client,
    others."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.app_pids: list[int] = []
        self.mail_pids: list[int] = []
        self.nginx_pids: list[int] = []

    def snapshot(self) -> CpuSnapshot:
        own = os.times()
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, total = machine_cpu_ticks()
        return CpuSnapshot(
            wall=time.monotonic(),
            app=tree_cpu_seconds(self.app_pids),
            mail=tree_cpu_seconds(self.mail_pids),
            postgres=postgres_cpu_seconds(self.database),
            # This process (client threads, SMTP sink) and finished children (wrk, pools).
            client=own.user + own.system + reaped.ru_utime + reaped.ru_stime,
            machine_busy=busy,
            machine_total=total,
            nginx=tree_cpu_seconds(self.nginx_pids),
        )

    @staticmethod
    def usage(start: CpuSnapshot, end: CpuSnapshot) -> dict:
        wall = max(end.wall - start.wall, 1e-9)
        total_ticks = max(end.machine_total - start.machine_total, 1)
        busy_share = (end.machine_busy - start.machine_busy) / total_ticks
        app = end.app - start.app
        pg = max(end.postgres - start.postgres, 0.0)
        nginx = max(end.nginx - start.nginx, 0.0)
        client = end.client - start.client
        busy_seconds = busy_share * CPUS * wall
        return {
            "wall": wall,
            "machine_busy_pct": 100 * busy_share,
            "app": app,
            "mail": max(end.mail - start.mail, 0.0),
            "postgres": pg,
            "nginx": nginx,
            "client": client,
            "other": max(busy_seconds - app - pg - nginx - client, 0.0),
        }


def cpu_line(usage: dict) -> str:
    def cores(seconds: float) -> float:
        return seconds / usage["wall"]

    return (
        f"machine CPU busy {usage['machine_busy_pct']:.0f}% of {CPUS} cores over "
        f"{usage['wall']:.1f} s; cores used on average: app (gunicorn + mail workers) "
        f"{cores(usage['app']):.2f}, PostgreSQL backends {cores(usage['postgres']):.2f}, "
        f"nginx {cores(usage.get('nginx', 0.0)):.2f}, "
        f"benchmark client {cores(usage['client']):.2f}, "
        f"everything else {cores(usage['other']):.2f}"
    )


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Started:
    name: str
    process: subprocess.Popen
    stop_signal: signal.Signals
    log_file: object


class Processes:
    """Every long-running process this script starts, so all of them can be stopped."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[Started] = []

    def start(
        self, name: str, argv: list[str], env: dict, stop_signal=signal.SIGTERM
    ) -> subprocess.Popen:
        log(f"starting {name}: {' '.join(argv)}")
        log_file = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop())
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C in the terminal reaches only this script, which
            # then stops everything in order; killpg() below reaches only this group.
            start_new_session=True,
        )
        self.running.append(Started(name, process, stop_signal, log_file))
        return process

    @staticmethod
    def _force(item: Started, waited: float) -> None:
        """SIGTERM, then SIGKILL to the process group (its own: start_new_session).

        The leader is not reaped yet, so the group id still names only what we started.
        """
        log(f"{item.name} did not stop within {waited:.0f} s of {item.stop_signal.name}")
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                if sig == signal.SIGKILL:
                    os.killpg(item.process.pid, sig)
                else:
                    item.process.send_signal(sig)
            try:
                item.process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self, process: subprocess.Popen, timeout: float = 15.0) -> None:
        for started in [s for s in self.running if s.process is process]:
            self._stop([started], timeout)

    def stop_all(self, timeout: float = 15.0) -> None:
        self._stop(list(reversed(self.running)), timeout)

    def _stop(self, items: list[Started], timeout: float) -> None:
        for item in items:
            if item.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    item.process.send_signal(item.stop_signal)
        deadline = time.monotonic() + timeout
        for item in items:
            try:
                item.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._force(item, timeout)
            item.log_file.close()
            self.running.remove(item)


def gunicorn_options() -> list[str]:
    """Options this gunicorn understands that keep parallel runs from meeting each other."""
    out = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, check=False
    )
    # gunicorn >= 25 opens a control socket at one fixed path (~/.gunicorn/gunicorn.ctl) by
    # default; two servers on one machine would fight over it.
    return ["--no-control-socket"] if "--no-control-socket" in out.stdout else []


def gunicorn_argv(app: str, port: int, args: argparse.Namespace, *extra: str) -> list[str]:
    """The production server's shape (gunicorn.conf.py; --workers and --threads reach it as
    WEB_WORKERS and WEB_THREADS, see _app_env), on this benchmark's port."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "-b",
        f"{HOST}:{port}",
        "--graceful-timeout",
        "10",
        *args.gunicorn_options,
        *extra,
        app,
    ]


def wait_for_http(port: int, path: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Until `path` answers 200 (gunicorn boots its workers), or fail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}; see its log")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"http://{HOST}:{port}{path} did not answer 200 within {timeout:.0f} s")


def app_environment(args: argparse.Namespace, port: int, dropped=APP_VARIABLES) -> dict:
    """The environment of the app's processes: production mode, a fresh SECRET_KEY, this
    run's database and port; the variables in `dropped` are not inherited from ours.

    `args` needs pg_user, pg_host, pg_port, database, workers and threads (bench/timing.py
    uses it too).
    """
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    a = args
    env.update(
        PETITIONS_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=database_url(a),
        # Plain http on 127.0.0.1: a Secure cookie would never be sent back.
        SESSION_COOKIE_SECURE="0",
        PUBLIC_BASE_URL=f"http://{HOST}:{port}",
        PYTHONUNBUFFERED="1",
        # Read by gunicorn.conf.py and by the app (which sizes its live streams by it).
        WEB_WORKERS=str(a.workers),
        WEB_THREADS=str(a.threads),
        **bench_settings(a),
    )
    return env


def database_url(args: argparse.Namespace) -> str:
    a = args
    return f"postgresql+psycopg://{a.pg_user}@{a.pg_host}:{a.pg_port}/{a.database}"


def bench_settings(args: argparse.Namespace) -> dict[str, str]:
    """What the benchmark sets beyond production in either mode: plain SMTP to the sink, no
    minimum time on the sign form, and the rate-limit storage of --limits."""
    env = {
        "MAIL_USE_TLS": "0",
        "MAIL_USE_SSL": "0",
        # The clients post the sign form the moment its page arrives, faster than a person;
        # every other abuse check runs as in production (and is measured).
        "SIGN_MIN_SECONDS": "0",
    }
    limits = getattr(args, "limits", "memory")
    if limits == "off":
        env["RATELIMIT_ENABLED"] = "0"
    elif limits == "redis":
        env["RATELIMIT_STORAGE_URI"] = args.redis_url
        # This run's own keys: an earlier run's counters must not flag this one's signers.
        env["RATELIMIT_KEY_PREFIX"] = f"bench-{secrets.token_hex(4)}"
    return env


def bench_stack(args: argparse.Namespace, workdir: Path, smtp_port: int) -> loopback.Stack:
    """--through nginx: the production stack of deploy/loopback.py on this run's database.

    Its nginx runs the production template as it is (cache, rate limits, ProxyFix with one
    hop), in front of one gunicorn instance of --workers x --threads and --mail-workers mail
    workers that deliver to the sink. The app gets the stack's environment plus
    bench_settings(); nothing of nginx's is loosened for the benchmark: the form-post zone
    counts per client address, and each signer connects from an address of its own
    (signer_address), as real signers do.
    """
    env = bench_settings(args)
    # The stack's processes start from a clean environment; libpq may need the password.
    if "PGPASSWORD" in os.environ:
        env["PGPASSWORD"] = os.environ["PGPASSWORD"]
    return loopback.Stack(
        workdir,
        database_url(args),
        app_instances=1,
        mail_workers=args.mail_workers,
        smtp_port=smtp_port,
        redis_url=None,  # the storage is chosen by bench_settings(), as for --through gunicorn
        env=env,
        web_workers=args.workers,
        web_threads=args.threads,
        access_logs=False,
        migrate=False,  # the benchmark runs `flask db upgrade` itself, and checks it
    )


# --- the database ----------------------------------------------------------------------------


def recreate_database(args: argparse.Namespace) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres", autocommit=True
    ) as conn:
        name = sql.Identifier(args.database)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(args: argparse.Namespace) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.database))
        )


def query_one(args: argparse.Namespace, statement: str, params: tuple = ()) -> tuple:
    import psycopg

    with psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname=args.database
    ) as conn:
        return conn.execute(statement, params or None).fetchone()


# --- the SMTP sink ---------------------------------------------------------------------------


class MailSink:
    """Receives the outbox's mail in this process and hands out confirmation links."""

    def __init__(self) -> None:
        self.links: dict[str, tuple[str, float]] = {}
        self.received = 0
        self.duplicates = 0
        self.without_link = 0
        self.condition = threading.Condition()
        self.controller = None
        self.port = 0

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.controller = Controller(self, hostname=HOST, port=self.port, ready_timeout=10)
        self.controller.start()
        log(f"SMTP sink listening on {HOST}:{self.port}")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        arrived = time.monotonic()
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        found = LINK_RE.search(body.get_content()) if body is not None else None
        with self.condition:
            self.received += 1
            if found is None:
                self.without_link += 1
            for address in envelope.rcpt_tos:
                key = address.lower()
                if key in self.links:
                    self.duplicates += 1
                elif found is not None:
                    self.links[key] = (found.group(0), arrived)
            self.condition.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, address: str, timeout: float, stop: threading.Event) -> tuple[str, float]:
        """The confirmation link sent to `address` and when it arrived (monotonic)."""
        key = address.lower()
        with self.condition:
            self.condition.wait_for(lambda: key in self.links or stop.is_set(), timeout)
            if key not in self.links:
                raise FlowError("stopped" if stop.is_set() else f"no mail within {timeout:.0f} s")
            return self.links.pop(key)

    def wake_all(self) -> None:
        with self.condition:
            self.condition.notify_all()


# --- an HTTP client that keeps a connection and a cookie jar -------------------------------


class FlowError(Exception):
    """A step of the signing flow did not answer as a browser would expect."""


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str
    seconds: float


class Browser:
    """One simulated browser: a keep-alive connection and its cookies (only what we need)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.reconnects = 0
        #: The loopback address this browser connects from (None: the system's choice).
        self.source: str | None = None

    def forget_cookies(self) -> None:
        self.cookies.clear()

    def become(self, source: str) -> None:
        """Be a new person on another network: no cookies, a new connection from `source`
        (the app's rate limits count per client address and per network, as in production)."""
        self.forget_cookies()
        if source != self.source:
            self.close()
            self.source = source

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, form: dict | None = None) -> Answer:
        headers = {"Accept-Language": "en", "User-Agent": "petitions-bench/1"}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # What a browser posting this site's own form says (security.same_origin_posts:
            # the sign form and confirmation buttons carry no session token); the same
            # authority as the Host header http.client sends.
            headers["Origin"] = f"http://{HOST}:{self.port}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            fresh = self.connection is None
            if fresh:
                self.connection = http.client.HTTPConnection(
                    HOST,
                    self.port,
                    timeout=self.timeout,
                    source_address=(self.source, 0) if self.source else None,
                )
            start = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection before reading the request
                # (gunicorn's keep-alive is 2 s; waiting for mail can take longer): what a
                # browser does is retry once on a new connection.
                self.close()
                if fresh or attempt == 2:
                    raise
                self.reconnects += 1
                continue
            except BaseException:
                self.close()
                raise
            seconds = time.perf_counter() - start
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            if response.will_close:
                self.close()
            text = data.decode("utf-8", "replace")
            return Answer(response.status, response.headers, text, seconds)
        raise AssertionError("unreachable")


#: The signers' mail providers, as in a real campaign in Kyrgyzstan: the big ones, which the
#: per-domain signing rate exempts (RATE_SIGN_DOMAIN_EXEMPT). A thousand signers of one small
#: domain would be a script's signature, held for review, and the run would fail its checks.
SIGNER_DOMAINS = ("gmail.com", "mail.ru", "yandex.ru", "inbox.ru")


def signer_address(n: int) -> str:
    """A loopback address standing for signer n's own network (127.a.b.1, one /24 each, for
    64,000 signers), so the app's per-address and per-network limits see what they would in a
    real campaign rather than one client signing thousands of times."""
    return f"127.{1 + n // 250 % 250}.{1 + n % 250}.1"


def expect(answer: Answer, status: int, step: str, text: str | None = None) -> None:
    if answer.status != status:
        raise FlowError(f"{step}: HTTP {answer.status} (expected {status})")
    if text is not None and text not in answer.text:
        raise FlowError(f"{step}: page does not say {text!r}")


#: The sign form's signed "served at" (screen.prepare), posted back as a browser does.
SERVED_FIELD = re.compile(r'<input[^>]*\bname="served"[^>]*\bvalue="([^"]*)"')


def served_value(page: Answer) -> str:
    """The page's `served` value; its absence means the form is not the one signers get."""
    found = SERVED_FIELD.search(page.text)
    if found is None:
        raise FlowError(f"{STEPS[0]}: the sign form carries no served value")
    return found.group(1)


# --- phase 1: sign and confirm ---------------------------------------------------------------

STEPS = ("GET petition page", "POST sign", "mail arrives", "GET confirm link", "POST confirm")


@dataclass
class SigningRun:
    port: int
    petition_id: int
    sink: MailSink
    limit: int
    deadline: float
    mail_timeout: float
    tag: str
    max_errors: int = 50
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0
    confirmed: int = 0
    in_flight: int = 0
    reconnects: int = 0
    last_confirmed_at: float = 0.0
    steps: dict[str, Latencies] = field(default_factory=lambda: {s: Latencies() for s in STEPS})
    flow: Latencies = field(default_factory=Latencies)
    errors: Counter = field(default_factory=Counter)
    uncertain: int = 0
    #: nginx's X-Cache-Status of each petition page GET (HIT, MISS, ...; none without nginx).
    page_cache: Counter = field(default_factory=Counter)

    def claim(self) -> int | None:
        with self.lock:
            if self.stop.is_set() or self.issued >= self.limit or time.monotonic() >= self.deadline:
                return None
            self.issued += 1
            self.in_flight += 1
            return self.issued

    def done(self, timings: dict[str, float] | None, error: str | None, uncertain: bool) -> None:
        with self.lock:
            self.in_flight -= 1
            if timings is not None:
                self.confirmed += 1
                self.last_confirmed_at = time.monotonic()
                for step, seconds in timings.items():
                    self.steps[step].values.append(seconds)
                self.flow.values.append(sum(timings.values()))
            if error is not None:
                self.errors[error] += 1
                self.uncertain += uncertain
                if sum(self.errors.values()) >= self.max_errors:
                    self.stop.set()

    def client(self) -> None:
        browser = Browser(self.port)
        petition_path = f"/petitions/{self.petition_id}"
        while (n := self.claim()) is not None:
            address = f"signer{n:06d}.{self.tag}@{SIGNER_DOMAINS[n % len(SIGNER_DOMAINS)]}"
            browser.become(signer_address(n))  # a new signer: a new browser on its own network
            timings: dict[str, float] = {}
            step = STEPS[0]
            try:
                page = browser.request("GET", petition_path)
                with self.lock:
                    self.page_cache[page.headers.get("X-Cache-Status", "none")] += 1
                expect(page, 200, step)
                timings[step] = page.seconds
                step = STEPS[1]
                signed = browser.request(
                    "POST",
                    f"{petition_path}/sign",
                    {
                        "name": f"Bench Signer {n}",
                        "email": address,
                        "country": "KG",
                        "region": "Chüy",
                        "consent": "y",
                        "website": "",
                        "served": served_value(page),
                    },
                )
                expect(signed, 303, step)
                timings[step] = signed.seconds
                signed_at = time.monotonic()
                step = STEPS[2]
                link, arrived = self.sink.wait_for(address, self.mail_timeout, self.stop)
                timings[step] = max(arrived - signed_at, 0.0)
                parts = urlsplit(link)
                if parts.netloc != f"{HOST}:{self.port}":
                    raise FlowError(f"confirmation link points elsewhere: {parts.netloc}")
                step = STEPS[3]
                confirm_page = browser.request("GET", parts.path)
                expect(confirm_page, 200, step)
                timings[step] = confirm_page.seconds
                step = STEPS[4]
                confirmed = browser.request("POST", parts.path, {})
                expect(confirmed, 200, step, CONFIRMED_TEXT)
                timings[step] = confirmed.seconds
            except (FlowError, OSError, http.client.HTTPException) as exc:
                reason = str(exc) if isinstance(exc, FlowError) else f"{step}: {exc!r}"
                # A confirm POST lost in transit may still have been counted by the server.
                uncertain = step == STEPS[4] and not isinstance(exc, FlowError)
                self.done(None, reason, uncertain)
                continue
            self.done(timings, None, False)
        with self.lock:
            self.reconnects += browser.reconnects
        browser.close()


def run_signing(run: SigningRun, concurrency: int) -> float:
    """Run the clients until done; returns the phase's wall time in seconds."""
    started = time.monotonic()
    threads = [
        threading.Thread(target=run.client, name=f"signer-{i}", daemon=True)
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    next_report = started + 5
    try:
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(0.2)
                if time.monotonic() >= next_report:
                    next_report += 5
                    with run.lock:
                        log(
                            f"phase 1: {time.monotonic() - started:5.1f} s, "
                            f"{run.confirmed} confirmed, {run.in_flight} in flight, "
                            f"{sum(run.errors.values())} errors"
                        )
    finally:
        run.stop.set()
        run.sink.wake_all()
    end = run.last_confirmed_at or time.monotonic()
    return max(end - started, 1e-9)


# --- phase 2: reads ----------------------------------------------------------------------

#: The same nginx as the stack's (deploy/loopback.py: $NGINX, else Debian's).
NGINX = loopback.NGINX
#: The bare nginx ceiling: one worker per core, no logs, keep-alive as the app has it.
NGINX_CONF = """daemon off;
worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    default_type application/json;
    keepalive_requests 100000;
    server {{
        listen {host}:{port};
        root {root}/www;
    }}
}}
"""

WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, \\"read\\": %d, "
    .. "\\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, \\"p50\\": %d, \\"p90\\": %d, "
    .. "\\"p95\\": %d, \\"p99\\": %d, \\"max\\": %d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


def read_with_wrk(
    processes: Processes, url: str, connections: int, seconds: float, log_dir: Path, name: str
) -> dict:
    script = log_dir / "report.lua"
    script.write_text(WRK_SCRIPT)
    argv = [
        "wrk",
        "-t1",  # one client thread: wrk is far faster than the app, and leaves the CPU to it
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    process = processes.start(name, argv, os.environ.copy())
    try:
        process.wait(seconds + 60)
    finally:
        processes.stop(process)
    output = (log_dir / f"{name}.log").read_text()
    found = re.search(r"^BENCH_JSON (.*)$", output, re.MULTILINE)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed (status {process.returncode}); see {name}.log")
    raw = json.loads(found.group(1))
    duration = raw["duration_us"] / 1e6
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "client": "wrk (1 thread)",
        "requests": raw["requests"],
        "rps": raw["requests"] / duration,
        "non_2xx": raw["status"],
        "socket_errors": socket_errors,
        **{k: raw[k] / 1000 for k in ("p50", "p90", "p95", "p99", "max")},
    }


def _python_reader(port: int, path: str, threads: int, start_at: float, seconds: float) -> dict:
    """One client process: `threads` keep-alive connections hammering `path` until time's up."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors = [0]
    lock = threading.Lock()

    def loop() -> None:
        mine: list[float] = []
        my_statuses: Counter = Counter()
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        time.sleep(max(start_at - time.time(), 0))
        end = start_at + seconds
        while time.time() < end:
            start = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=10)
                with lock:
                    errors[0] += 1
                continue
            mine.append(time.perf_counter() - start)
            my_statuses[response.status] += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            statuses.update(my_statuses)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"latencies": latencies, "statuses": dict(statuses), "errors": errors[0]}


def read_with_python(port: int, path: str, connections: int, seconds: float) -> dict:
    procs = min(CPUS, connections)
    shares = [connections // procs + (i < connections % procs) for i in range(procs)]
    start_at = time.time() + 1.5  # time for the spawned processes to import and connect
    import multiprocessing

    with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(
            pool.map(
                _python_reader,
                itertools.repeat(port),
                itertools.repeat(path),
                shares,
                itertools.repeat(start_at),
                itertools.repeat(seconds),
            )
        )
    latencies = Latencies([v for part in parts for v in part["latencies"]])
    statuses: Counter = Counter()
    for part in parts:
        statuses.update(part["statuses"])
    summary = latencies.summary()
    return {
        "client": f"Python http.client ({procs} processes, {connections} threads)",
        "requests": summary["n"],
        "rps": summary["n"] / seconds,
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "socket_errors": sum(part["errors"] for part in parts),
        **{k: summary[k] for k in ("p50", "p90", "p95", "p99", "max")},
    }


def run_reads(
    args: argparse.Namespace, processes: Processes, port: int, path: str, name: str, log_dir: Path
) -> dict:
    if args.use_wrk:
        return read_with_wrk(
            processes,
            f"http://{HOST}:{port}{path}",
            args.read_concurrency,
            args.read_seconds,
            log_dir,
            name,
        )
    return read_with_python(port, path, args.read_concurrency, args.read_seconds)


# --- the Markdown summary ------------------------------------------------------------------


def machine_facts(args: argparse.Namespace) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem_kib = re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    pg_version = query_one(args, "SHOW server_version")[0]
    nginx = ""
    if os.access(NGINX, os.X_OK):
        out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False)
        nginx = (out.stdout + out.stderr).strip().removeprefix("nginx version: ")
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        wrk_version = (out.stdout + out.stderr).split("\n", 1)[0].split(" [")[0]
    return {
        "cpus": CPUS,
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": int(mem_kib.group(1)) / 1024 / 1024 if mem_kib else math.nan,
        "postgres": pg_version,
        "python": platform.python_version(),
        "gunicorn": metadata.version("gunicorn"),
        "flask": metadata.version("flask"),
        "kernel": platform.release(),
        "wrk": wrk_version,
        "nginx": nginx or "nginx",
        "loadavg": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def step_table(run: SigningRun) -> list[str]:
    rows = [
        "| step | n | p50 ms | p90 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    named = [*run.steps.items(), ("whole flow (sum of the steps)", run.flow)]
    for step, latencies in named:
        s = latencies.summary()
        rows.append(
            f"| {step} | {s['n']} | {ms(s['p50'])} | {ms(s['p90'])} | {ms(s['p95'])} "
            f"| {ms(s['p99'])} | {ms(s['max'])} |"
        )
    return rows


def cpu_ms_per(usage: dict, operations: int) -> str:
    """Server CPU per operation, app + PostgreSQL + nginx = their sum: steadier than rates on
    a shared machine."""
    if not operations:
        return "–"
    parts = [1000 * usage[part] / operations for part in ("app", "postgres", "nginx")]
    return f"{' + '.join(f'{v:.2f}' for v in parts)} = {sum(parts):.2f}"


def mail_ms_per(usage: dict, operations: int) -> str:
    return f"{1000 * usage['mail'] / operations:.2f}" if operations else "–"


def read_row(label: str, result: dict, usage: dict) -> str:
    return (
        f"| {label} | {result['client']} | {result['requests']} | {result['rps']:.0f} "
        f"| {ms(result['p50'])} | {ms(result['p90'])} | {ms(result['p95'])} "
        f"| {ms(result['p99'])} | {ms(result['max'])} "
        f"| {result['non_2xx']} / {result['socket_errors']} "
        f"| {cpu_ms_per(usage, result['requests'])} |"
    )


THROUGH_WORDS = {
    "nginx": "{nginx} in front (deploy/loopback.py's stack: the production template, its "
    "proxy_cache and form-post rate limit, `worker_processes auto`, access log off), then one "
    "gunicorn instance",
    "gunicorn": "gunicorn directly (no nginx in front)",
}

LIMITS_WORDS = {
    "memory": "on, counters in each process's memory (`memory://`, the default)",
    "redis": "on, counters in Redis (shared by the processes, as on several instances)",
    "off": "off (`RATELIMIT_ENABLED=0`), to measure their cost by difference",
}


def markdown(report: dict) -> str:
    args = report["args"]
    m = report["machine"]
    lines = [
        f"### Run of {report['started']} ({report['label']})",
        "",
        f"Command: `{report['command']}`",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {m['cpus']} × {m['cpu_model']} |",
        f"| memory | {m['memory_gib']:.1f} GiB |",
        f"| PostgreSQL | {m['postgres']} (same machine, shared with other users) |",
        f"| Python / Flask / gunicorn | {m['python']} / {m['flask']} / {m['gunicorn']} |",
        f"| kernel | {m['kernel']} |",
        f"| load average when the run started | {m['loadavg']} |",
        f"| app server | gunicorn.conf.py with `WEB_WORKERS={args.workers} "
        f"WEB_THREADS={args.threads}` (gthread), "
        f"{args.mail_workers} `flask worker` process(es), COUNT_SHARDS default |",
        f"| rate limits | {LIMITS_WORDS[getattr(args, 'limits', 'memory')]} |",
        f"| clients talk to | {THROUGH_WORDS[args.through].format(nginx=m['nginx'])} |",
        "",
    ]
    run: SigningRun | None = report.get("signing")
    if run is not None:
        rate = run.confirmed / report["signing_seconds"]
        flows = run.flow.values
        mean_flow = sum(flows) / len(flows) if flows else math.nan
        mail_share = 100 * sum(run.steps[STEPS[2]].values) / sum(flows) if flows else math.nan
        lines += [
            f"#### Phase 1: sign and confirm, end to end, through {args.through}",
            "",
            f"{args.concurrency} concurrent clients (threads in the benchmark process, one "
            "keep-alive connection each); every flow uses a new address and a new cookie jar, "
            "from a loopback address of its own. "
            f"**{run.confirmed} signatures confirmed in {report['signing_seconds']:.1f} s: "
            f"{rate:.1f} confirmed signatures/s** "
            f"({sum(run.errors.values())} failed flows, {run.reconnects} stale keep-alive "
            "reconnects).",
            "",
            *step_table(run),
            "",
            '"mail arrives" is the time from the sign response to the confirmation mail '
            "reaching the SMTP sink (outbox worker poll + SMTP). Each client does one flow "
            "at a time, so rate ≈ clients / mean flow time "
            f"({args.concurrency} / {mean_flow:.2f} s = {args.concurrency / mean_flow:.1f}/s). "
            f"Waiting for mail is {mail_share:.0f}% of the flow time and the four requests "
            f"(queueing included) {100 - mail_share:.0f}%: when mail dominates and the CPU "
            "has room, the client count is the limit, so add clients.",
            "",
            f"CPU: {cpu_line(report['signing_cpu'])}. **Server CPU per confirmed signature** "
            "(four requests and one mail), app + PostgreSQL + nginx: "
            f"**{cpu_ms_per(report['signing_cpu'], run.confirmed)} ms**, of the app's the "
            f"mail worker {mail_ms_per(report['signing_cpu'], run.confirmed)} ms.",
            "",
        ]
        if args.through == "nginx":
            seen = ", ".join(f"{n} {status}" for status, n in run.page_cache.most_common())
            lines += [f"nginx's X-Cache-Status of the petition page GETs: {seen}.", ""]
        if run.errors:
            lines += ["Failed flows:", ""]
            lines += [f"- {n} × {reason}" for reason, n in run.errors.most_common(10)]
            lines.append("")
    reads = report.get("reads", [])
    if reads:
        lines += [
            "#### Phase 2: reads",
            "",
            f"{args.read_concurrency} concurrent keep-alive connections for "
            f"{args.read_seconds:g} s per target, same gunicorn settings for the app and the "
            "baseline. The client runs on the same cores as the server, so it takes CPU from "
            "it (see the CPU line of each target).",
            "",
            "| target | client | requests | req/s | p50 ms | p90 ms | p95 ms | p99 ms "
            "| max ms | non-2xx / socket errors "
            "| CPU ms/request (app + PostgreSQL + nginx = server) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [read_row(label, result, usage) for label, result, usage in reads]
        lines.append("")
        probes = report.get("cache_probes", [])
        if probes:
            said = "; ".join(f"{label}: {first}, then {last}" for label, first, last in probes)
            lines += [
                "nginx's X-Cache-Status of one GET just before and one just after each read "
                f"through it: {said}.",
                "",
            ]
        lines += [f"- CPU, {label}: {cpu_line(usage)}." for label, _, usage in reads]
        lines.append("")
    lines += ["#### Checks", ""]
    lines += [f"- {'✅' if ok else '❌'} {text}" for ok, text in report["checks"]]
    lines.append("")
    return "\n".join(lines)


# --- the run -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.log_dir = args.results_dir / stamp
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes = Processes(self.log_dir)
        self.sink = MailSink()
        self.cpu = CpuMeter(args.database)
        #: --through nginx: the production stack; its nginx's port is `port`.
        self.stack: loopback.Stack | None = None
        #: The port the clients use (nginx's, or gunicorn's), and gunicorn's own.
        self.port = free_port()
        self.app_port = self.port
        self.report: dict = {
            "args": args,
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "label": args.label,
            "command": " ".join(["python bench/load.py", *sys.argv[1:]]),
            "checks": [],
        }
        self.env = self._app_env()

    def _app_env(self) -> dict:
        return app_environment(self.args, self.port)

    def flask(self, *command: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "flask", "--app", "petitions", *command]
        log(f"running: flask --app petitions {' '.join(command)}")
        return subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300, check=False
        )

    def check(self, ok: bool, text: str) -> bool:
        self.report["checks"].append((ok, text))
        log(("ok: " if ok else "FAILED: ") + text)
        return ok

    def execute(self) -> int:
        a = self.args
        a.use_wrk = a.client == "wrk" or (a.client == "auto" and shutil.which("wrk") is not None)
        a.gunicorn_options = gunicorn_options()
        if a.client == "wrk" and shutil.which("wrk") is None:
            raise SystemExit("--client wrk: wrk is not installed (apt-get install wrk)")
        log(f"logs and summary in {self.log_dir}")
        log(f"phase 2 client: {'wrk' if a.use_wrk else 'Python http.client (wrk not used)'}")

        log(f"recreating database {a.database}")
        recreate_database(a)
        self.report["machine"] = machine_facts(a)
        self.sink.start()
        if a.through == "nginx":
            self.stack = bench_stack(a, self.log_dir / "stack", self.sink.port)
            self.env = self.stack.environment
            self.port, self.app_port = self.stack.nginx_port, self.stack.app_ports[0]
        else:
            self.env.update(MAIL_SERVER=HOST, MAIL_PORT=str(self.sink.port))
        upgraded = self.flask("db", "upgrade")
        if upgraded.returncode != 0:
            raise RuntimeError(f"db upgrade failed:\n{upgraded.stderr}")
        created = self.flask(
            "petition", "create", "--open", "--days", "30", "--goal", "1000000",
            "--title", "Benchmark petition",
            "--action", "Sign this petition to measure how fast signing is.",
            "--addressee", "The benchmark",
        )  # fmt: skip
        found = re.search(r"petition (\d+) created \(open\)", created.stdout)
        if created.returncode != 0 or found is None:
            raise RuntimeError(f"petition create failed:\n{created.stdout}{created.stderr}")
        petition_id = int(found.group(1))
        count_path = f"/petitions/{petition_id}/count.json"
        page_path = f"/petitions/{petition_id}"

        app_processes = self._start_app(count_path)
        self._warm_up(page_path, count_path, self.app_port)
        if self.stack is not None:
            self._warm_up(page_path, count_path, self.port)  # fills nginx's cache

        confirmed = 0
        uncertain = 0
        if not a.skip_signing:
            log(
                f"phase 1: {a.concurrency} clients sign and confirm through {a.through}, at "
                f"most {a.signatures} signatures or {a.max_seconds:g} s"
            )
            run = SigningRun(
                port=self.port,
                petition_id=petition_id,
                sink=self.sink,
                limit=a.signatures,
                deadline=time.monotonic() + a.max_seconds,
                mail_timeout=a.mail_timeout,
                tag=secrets.token_hex(3),
            )
            before = self.cpu.snapshot()
            self.report["signing_seconds"] = run_signing(run, a.concurrency)
            self.report["signing_cpu"] = CpuMeter.usage(before, self.cpu.snapshot())
            self.report["signing"] = run
            confirmed, uncertain = run.confirmed, run.uncertain
            log(
                f"phase 1 done: {run.confirmed} confirmed in "
                f"{self.report['signing_seconds']:.1f} s, {sum(run.errors.values())} errors"
            )
            self.check(not run.errors, f"{sum(run.errors.values())} failed signing flows")

        log(f"phase 2: GET {count_path}, {a.read_concurrency} connections, {a.read_seconds:g} s")
        self.report["reads"] = []
        self.report["cache_probes"] = []
        if self.stack is not None:
            self._measure_reads(
                "`count.json` through nginx's cache", self.port, count_path, "wrk-count-nginx"
            )
        self._measure_reads("`count.json` (petition app)", self.app_port, count_path, "wrk-count")
        log(f"phase 2: GET {page_path} (anonymous), same client")
        if self.stack is not None:
            self._measure_reads(
                "petition page, anonymous, through nginx's cache",
                self.port,
                page_path,
                "wrk-page-nginx",
            )
        self._measure_reads(
            "petition page, anonymous (petition app)", self.app_port, page_path, "wrk-page"
        )

        self._final_checks(petition_id, count_path, confirmed, uncertain)
        if self.stack is not None:
            self._stop_stack()
        for process in reversed(app_processes):
            self.processes.stop(process)
        self.cpu.nginx_pids = []

        if not a.no_baseline:
            port = free_port()
            baseline = self.processes.start(
                "gunicorn-baseline",
                gunicorn_argv("baseline_app:create_app()", port, a, "--chdir", str(BENCH_DIR)),
                self.env,
            )
            self.cpu.app_pids = [baseline.pid]
            self.cpu.mail_pids = []
            wait_for_http(port, "/count.json", baseline)
            self._warm_up(None, "/count.json", port)
            log("baseline: bare Flask JSON route, same client and settings")
            self._measure_reads("bare Flask JSON route (baseline)", port, "/count.json", "wrk-base")
            self.processes.stop(baseline)

        if not a.no_ceiling and shutil.which(NGINX) is not None:
            self._nginx_ceiling()

        summary = markdown(self.report)
        (self.log_dir / "summary.md").write_text(summary)
        print(summary)
        passed = all(ok for ok, _ in self.report["checks"])
        log(f"{'PASSED' if passed else 'FAILED'}; logs and summary.md in {self.log_dir}")
        if passed and not a.keep_database:
            drop_database(a)
        elif not passed:
            log(f"database {a.database} kept for inspection")
        return 0 if passed else 1

    def _start_app(self, count_path: str) -> list[subprocess.Popen]:
        """Start the app, and its mail workers, and point the CPU meter at them: the stack
        (--through nginx), or gunicorn and `flask worker` processes of our own."""
        a = self.args
        if self.stack is not None:
            log(f"starting the stack (deploy/loopback.py) in {self.stack.workdir}")
            self.stack.start()
            self.cpu.app_pids = [p for p in [*self.stack.app_pids, *self.stack.worker_pids] if p]
            self.cpu.mail_pids = [p for p in self.stack.worker_pids if p]
            self.cpu.nginx_pids = self.stack.nginx_pids[:1]  # the master: its workers follow
            log(f"nginx on {self.stack.base_url}, gunicorn on {self.stack.app_urls[0]}")
            return []
        app_processes = []
        gunicorn = self.processes.start(
            "gunicorn", gunicorn_argv("petitions:create_app()", self.port, a), self.env
        )
        app_processes.append(gunicorn)
        for n in range(1, a.mail_workers + 1):
            app_processes.append(
                self.processes.start(
                    f"mail-worker-{n}",
                    [sys.executable, "-m", "flask", "--app", "petitions", "worker"],
                    self.env,
                    stop_signal=signal.SIGINT,  # the worker stops cleanly on KeyboardInterrupt
                )
            )
        self.cpu.app_pids = [p.pid for p in app_processes]
        self.cpu.mail_pids = [p.pid for p in app_processes if p is not gunicorn]
        wait_for_http(self.port, count_path, gunicorn)
        return app_processes

    def _stop_stack(self) -> None:
        """Stop the stack; its logs stay in the results folder, nginx's cached pages do not."""
        if self.stack is None:
            return
        self.stack.stop()
        shutil.rmtree(self.stack.workdir / "cache", ignore_errors=True)
        shutil.rmtree(self.stack.workdir / "temp", ignore_errors=True)

    def _nginx_ceiling(self) -> None:
        """Bare nginx serving a small static file on loopback, under the same client: what
        this machine can answer at all, the ceiling for any cached page."""
        port = free_port()
        root = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        try:
            (root / "www").mkdir()
            (root / "www" / "count.json").write_text('{"signature_count": 123456}\n')
            # nginx started as root serves as "nobody": it must be able to read the file.
            for path in (root, root / "www", root / "www" / "count.json"):
                path.chmod(0o755 if path.is_dir() else 0o644)
            (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, host=HOST, port=port))
            nginx = self.processes.start(
                "nginx", [NGINX, "-p", str(root), "-c", str(root / "nginx.conf")], os.environ.copy()
            )
            self.cpu.app_pids = []
            self.cpu.mail_pids = []
            self.cpu.nginx_pids = [nginx.pid]
            wait_for_http(port, "/count.json", nginx)
            log("ceiling: bare nginx, a small static file, same client")
            self._measure_reads(
                "bare nginx, static file (ceiling)", port, "/count.json", "wrk-nginx"
            )
            self.processes.stop(nginx)
            self.cpu.nginx_pids = []
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _warm_up(self, page_path: str | None, json_path: str, port: int | None = None) -> None:
        """A few requests per gunicorn thread, so first-request costs are not measured."""
        port = port or self.port

        def visit() -> None:
            browser = Browser(port)
            for _ in range(3):
                for path in filter(None, (page_path, json_path)):
                    browser.request("GET", path)
            browser.close()

        threads = [
            threading.Thread(target=visit, daemon=True)
            for _ in range(self.args.workers * self.args.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    def _measure_reads(self, label: str, port: int, path: str, name: str) -> None:
        through_nginx = self.stack is not None and port == self.port
        if through_nginx:
            first = cache_status(port, path)
        before = self.cpu.snapshot()
        result = run_reads(self.args, self.processes, port, path, name, self.log_dir)
        usage = CpuMeter.usage(before, self.cpu.snapshot())
        if through_nginx:
            # What the cache said just before and just after: whether the reads were its hits.
            self.report["cache_probes"].append((label, first, cache_status(port, path)))
        self.report["reads"].append((label, result, usage))
        log(
            f"{label}: {result['rps']:.0f} req/s, p50 {ms(result['p50'])} ms, "
            f"p95 {ms(result['p95'])} ms, p99 {ms(result['p99'])} ms"
        )
        self.check(
            result["non_2xx"] == 0 and result["requests"] > 0,
            f"{label}: {result['requests']} requests, {result['non_2xx']} non-2xx answers, "
            f"{result['socket_errors']} socket errors/timeouts",
        )

    def _final_checks(self, petition_id: int, count_path: str, confirmed: int, uncertain: int):
        public = public_count(self.app_port, count_path)
        note = f" ({uncertain} confirm POSTs lost in transit)" if uncertain else ""
        self.check(
            public == confirmed,
            f"public count (count.json from the app) {public} = confirmations done "
            f"{confirmed}{note}",
        )
        if self.stack is not None:
            shown, waited = self._settled_count(count_path, confirmed)
            self.check(
                shown == confirmed,
                f"count.json through nginx's cache {shown} = confirmations done {confirmed} "
                f"(after {waited:.1f} s; the cache may keep a copy for its max-age)",
            )
        rows = query_one(
            self.args,
            "SELECT (SELECT count(*) FROM signatures WHERE status = 'confirmed'),"
            " (SELECT count(*) FROM signatures WHERE status = 'pending'),"
            " (SELECT count(*) FROM outbox_messages WHERE sent_at IS NOT NULL),"
            " (SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL),"
            " (SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL AND failed_at IS NULL),"
            f" (SELECT coalesce(sum(count), 0) FROM petition_count_shards"
            f"  WHERE petition_id = {int(petition_id)}),"
            " (SELECT count(*) FROM signatures WHERE submit_ms IS NULL OR flag IS NOT NULL)",
        )
        db_confirmed, pending, sent, failed, waiting, stored, unlike = rows
        self.check(
            unlike == 0,
            f"{unlike} signatures flagged or without a time to submit (every signer posted the "
            "form as its page served it, from a network of its own)",
        )
        self.check(
            stored == db_confirmed,
            f"stored total (sum of the count shards, read with SQL) {stored} = confirmed rows "
            f"{db_confirmed}",
        )
        self.check(
            db_confirmed == confirmed,
            f"confirmed rows in the signatures table {db_confirmed} = confirmations done "
            f"{confirmed} ({pending} pending)",
        )
        self.check(
            failed == 0 and self.sink.duplicates == 0,
            f"outbox: {sent} sent, {failed} failed, {waiting} waiting; the sink received "
            f"{self.sink.received} mails, {self.sink.duplicates} duplicates",
        )
        reconciled = self.flask("counts", "reconcile")
        (self.log_dir / "reconcile.log").write_text(reconciled.stdout + reconciled.stderr)
        lines = (reconciled.stdout + reconciled.stderr).strip().splitlines()
        # On a crash, the exception line says more than the last line of the traceback.
        errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception):", line)]
        said = errors[0] if errors else (lines[-1] if lines else "(no output)")
        self.check(
            reconciled.returncode == 0,
            f"`flask counts reconcile` exit {reconciled.returncode}: {said[:300]}",
        )

    def _settled_count(self, count_path: str, expected: int) -> tuple[int | None, float]:
        """The count readers see through nginx's cache, once it has caught up with `expected`
        (or the last one seen within SETTLE_SECONDS), and how long that took."""
        started = time.monotonic()
        while True:
            shown = public_count(self.port, count_path)
            waited = time.monotonic() - started
            if shown == expected or waited > SETTLE_SECONDS:
                return shown, waited
            time.sleep(0.25)

    def cleanup(self) -> None:
        self._stop_stack()
        self.processes.stop_all()
        self.sink.stop()


#: How long the count through nginx's cache may take to show the final total: the app's
#: API_CACHE_MAX_AGE (a few seconds) and one background refresh, with room to spare.
SETTLE_SECONDS = 30.0


def cache_status(port: int, path: str) -> str:
    """nginx's X-Cache-Status (HIT, STALE, MISS, ...) for one GET of `path` as wrk sends it.

    The cache key holds the reader's language, so this asks with wrk's headers (no
    Accept-Language, no cookie), not a Browser's: it then reports, and before the reads fills,
    the copy the reads get. Else the reads' first request is a miss that the other connections
    wait for (proxy_cache_lock checks every 500 ms).
    """
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.headers.get("X-Cache-Status", "none")
    finally:
        connection.close()


def public_count(port: int, count_path: str) -> int | None:
    """The total count.json says on `port`, or None if it did not answer 200."""
    answer = Browser(port).request("GET", count_path)
    return json.loads(answer.text)["signature_count"] if answer.status == 200 else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Explicitly, because a shell starting us in the background sets SIGINT to "ignore", and
    # the children would inherit that and ignore the SIGINT that stops a `flask worker`.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    bench = Bench(args)
    try:
        return bench.execute()
    except (KeyboardInterrupt, Interrupted):
        log("interrupted")
        return 130
    except Exception as exc:
        log(f"error: {exc!r}")
        raise
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave servers running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("stopping everything this run started")
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
