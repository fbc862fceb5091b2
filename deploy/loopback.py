"""The production stack on 127.0.0.1: nginx with the production template's configuration in
front of N gunicorn instances (each run from the repository root, so it reads
gunicorn.conf.py) and M mail workers (`flask worker`), on one database.

The tests, the benchmarks and `make stack` use it; so can anyone who wants to see what an
instance's death or a mail worker's does to the others:

    with Stack(tmp / "stack", database_url, app_instances=2, mail_workers=2,
               smtp_port=smtp.port, redis_url="redis://127.0.0.1:6379/5") as stack:
        get(stack.base_url + "/")            # through nginx
        stack.kill_instance(0)               # SIGKILL: the master and its workers at once
        stack.kill_worker(1, signal.SIGKILL)
        stack.start_worker(1)

Every process runs in a session of its own and writes its log into `workdir`; stop() (or
leaving the `with`) asks each to stop, waits a bounded time and kills what is left. nginx runs
in the foreground (`daemon off`) with its pid file, logs, cache, temp folders and error pages
in `workdir` (`nginx -p workdir -c workdir/nginx.conf`), as root too.

`python deploy/loopback.py` (`make stack`) runs the stack in the foreground on the local
PostgreSQL (database petitions_stack, created if missing, with the demo data of `flask seed`)
and prints its URL; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

if __package__ in (None, ""):  # run as `python deploy/loopback.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy import render  # noqa: E402

ROOT = render.ROOT
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
#: How long the stack may take to come up, and each process to stop once asked.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
#: How long a readiness probe waits for an answer.
PROBE_TIMEOUT = 5.0
STACK_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_stack"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int, path: str = "/") -> int | None:
    """The status of GET `path` on 127.0.0.1:`port`, or None if nothing answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class StackError(RuntimeError):
    """The stack did not come up; the message ends with the logs that say why."""


@dataclass
class _Process:
    name: str
    argv: list[str]
    log_path: Path
    #: What asks it to stop: SIGTERM for gunicorn (graceful) and nginx (fast), SIGINT for the
    #: mail worker (KeyboardInterrupt: it stops between rounds).
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, env: Mapping[str, str]) -> None:
        self.log = self.log_path.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - the stack's own commands
            self.argv,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches its children
        )

    def send(self, sig: int, *, group: bool = False) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            if group:
                os.killpg(self.popen.pid, sig)
            else:
                self.popen.send_signal(sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float) -> bool:
        """True if it ended within `timeout`; then its group is killed (leftover children)."""
        if self.popen is None:
            return True
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        return True

    def kill(self) -> None:
        self.send(signal.SIGKILL, group=True)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(STOP_TIMEOUT)

    def close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def tail(self, chars: int = 2000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return f"--- {self.log_path.name}\n{text[-chars:]}"


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


class Stack:
    """nginx, `app_instances` gunicorn instances and `mail_workers` mail workers on
    127.0.0.1, on `database_url` (migrated by start()).

    `env` adds to or overrides the processes' environment (any setting of config.SETTINGS);
    the stack sets PETITIONS_ENV=production with a fresh SECRET_KEY shared by all, plain-HTTP
    cookies, PUBLIC_BASE_URL = base_url (so the links in mails go through nginx), mail to
    127.0.0.1:`smtp_port` (unset: mail is written to the workers' logs) and rate-limit
    counters in `redis_url` (unset: each process's memory). `nginx=False` leaves nginx out:
    base_url is then the first instance's. `access_logs=False` spares the benchmarks the
    logging; `nginx_port` fixes nginx's port (else a free one); `migrate=False` skips
    `flask db upgrade` (the database is migrated already).
    """

    def __init__(
        self,
        workdir: Path | str,
        database_url: str,
        app_instances: int = 1,
        mail_workers: int = 1,
        smtp_port: int | None = None,
        redis_url: str | None = None,
        env: Mapping[str, str] | None = None,
        web_workers: int = 1,
        web_threads: int = 4,
        nginx: bool = True,
        access_logs: bool = True,
        nginx_port: int | None = None,
        migrate: bool = True,
    ) -> None:
        if app_instances < 1:
            raise ValueError("a stack needs at least one app instance")
        self.workdir = Path(workdir).resolve()
        self.database_url = database_url
        self.smtp_port = smtp_port
        self.redis_url = redis_url
        self.extra_env = dict(env or {})
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.with_nginx = nginx
        self.access_logs = access_logs
        self.migrate = migrate
        self.nginx_port = (nginx_port or free_port()) if nginx else None
        self.app_ports = [free_port() for _ in range(app_instances)]
        self._secret = secrets.token_urlsafe(32)
        self._signer_key = secrets.token_urlsafe(32)
        self._apps = [self._app_process(i) for i in range(app_instances)]
        self._workers = [self._worker_process(j) for j in range(mail_workers)]
        self._nginx: _Process | None = None
        self.started = False

    # --- where things are ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        port = self.nginx_port if self.with_nginx else self.app_ports[0]
        return f"http://127.0.0.1:{port}"

    @property
    def app_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.app_ports]

    @property
    def app_pids(self) -> list[int | None]:
        """Each instance's gunicorn master (None once it has ended)."""
        return [p.popen.pid if p.running else None for p in self._apps]

    @property
    def worker_pids(self) -> list[int | None]:
        """Each mail worker's process (None once it has ended)."""
        return [p.popen.pid if p.running else None for p in self._workers]

    @property
    def app_access_logs(self) -> list[Path]:
        """Each instance's gunicorn access log (written with access_logs=True)."""
        return [self.workdir / f"app-{i}.access.log" for i in range(len(self._apps))]

    @property
    def nginx_pids(self) -> list[int]:
        """nginx's master, then its children: the worker processes (and, while they run, the
        cache manager and loader)."""
        if self._nginx is None or not self._nginx.running:
            return []
        master = self._nginx.popen.pid
        return [master, *children_of(master)]

    @property
    def environment(self) -> dict[str, str]:
        """What every process of the stack runs with (for running `flask` commands on it)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PETITIONS_ENV": "production",
            "SECRET_KEY": self._secret,
            "SIGNER_HASH_KEY": self._signer_key,
            "DATABASE_URL": self.database_url,
            "PUBLIC_BASE_URL": self.base_url,
            "TRUSTED_HOSTS": "127.0.0.1",
            # Plain HTTP on 127.0.0.1: a Secure cookie would never come back.
            "SESSION_COOKIE_SECURE": "0",
            "HSTS_SECONDS": "0",
            "PROXY_FIX_HOPS": "1" if self.with_nginx else "0",
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "WEB_WORKERS": str(self.web_workers),
            "WEB_THREADS": str(self.web_threads),
            # Streams still open when the stack stops need not hold it up for long.
            "WEB_GRACEFUL_TIMEOUT": "5",
        }
        if self.smtp_port is not None:
            env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(self.smtp_port))
        env.update(self.extra_env)
        return env

    def ended(self) -> list[str]:
        """The processes of a started stack that are no longer running (app-0, worker-1,
        nginx), whether killed or ended by themselves."""
        processes = [*self._apps, *self._workers, *([self._nginx] if self._nginx else [])]
        return [p.name for p in processes if p.popen is not None and not p.running]

    def log_tails(self) -> str:
        """The end of every log, for a failure message."""
        processes = [*self._apps, *self._workers, *([self._nginx] if self._nginx else [])]
        tails = [p.tail() for p in processes]
        error_log = self.workdir / "nginx.error.log"
        if error_log.exists():
            tails.append(f"--- nginx.error.log\n{error_log.read_text(errors='replace')[-2000:]}")
        return "\n".join(t for t in tails if t)

    # --- processes ----------------------------------------------------------------------

    def _app_process(self, i: int) -> _Process:
        argv = [sys.executable, "-m", "gunicorn"]
        if self.access_logs:
            argv += ["--access-logfile", str(self.workdir / f"app-{i}.access.log")]
        return _Process(f"app-{i}", argv, self.workdir / f"app-{i}.log")

    def _worker_process(self, j: int) -> _Process:
        argv = [sys.executable, "-m", "flask", "--app", "petitions", "worker"]
        return _Process(f"worker-{j}", argv, self.workdir / f"worker-{j}.log", signal.SIGINT)

    def _app_env(self, i: int) -> dict[str, str]:
        return {**self.environment, "WEB_BIND": f"127.0.0.1:{self.app_ports[i]}"}

    def run_flask(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """`flask --app petitions ARGS` with the stack's environment; its output."""
        done = subprocess.run(  # noqa: S603 - the stack's own commands
            [sys.executable, "-m", "flask", "--app", "petitions", *args],
            cwd=ROOT,
            env={**self.environment, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> Stack:
        """Migrate the database, start everything and wait until nginx and every instance
        answer; StackError (with the logs) if they do not within START_TIMEOUT."""
        if self.started:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.started = True
        try:
            if self.migrate:
                self.run_flask("db", "upgrade")
            for i in range(len(self._apps)):
                self.start_instance(i, wait=False)
            for j in range(len(self._workers)):
                self.start_worker(j)
            if self.with_nginx:
                self._start_nginx()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_nginx(self) -> None:
        for folder in ("cache", "temp"):
            (self.workdir / folder).mkdir(exist_ok=True)
        conf = self.workdir / "nginx.conf"
        render.write_error_pages(self.workdir / "error-pages", self.environment)
        conf.write_text(
            render.render_loopback(
                render.app_facts(self.environment),
                workdir=self.workdir,
                port=self.nginx_port,
                upstreams=[f"127.0.0.1:{port}" for port in self.app_ports],
                access_log=self.access_logs,
            )
        )
        if not os.access(NGINX, os.X_OK):
            raise StackError(f"no nginx at {NGINX}: `make nginx` installs Debian's")
        argv = [NGINX, "-p", str(self.workdir), "-c", str(conf)]
        # -e: nginx's own error log before it has read the configuration (1.19.5+).
        argv += ["-e", str(self.workdir / "nginx.error.log")]
        # SIGTERM: nginx's fast stop (SIGQUIT would wait for open live streams to end).
        self._nginx = _Process("nginx", argv, self.workdir / "nginx.log", signal.SIGTERM)
        self._nginx.start(os.environ)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        ports = [*self.app_ports, *([self.nginx_port] if self.with_nginx else [])]
        processes = [*self._apps, *([self._nginx] if self._nginx else [])]
        while True:
            dead = [p.name for p in [*processes, *self._workers] if not p.running]
            if dead:
                raise StackError(f"{', '.join(dead)} ended at start\n{self.log_tails()}")
            if all(answers(port) == 200 for port in ports):
                return
            if time.monotonic() > deadline:
                raise StackError(f"not up within {START_TIMEOUT} s\n{self.log_tails()}")
            time.sleep(0.2)

    def start_instance(self, i: int, *, wait: bool = True) -> None:
        """(Re)start app instance `i` on its port; with `wait`, until it answers."""
        process = self._apps[i]
        if process.running:
            return
        process.close_log()
        process.start(self._app_env(i))
        if wait:
            deadline = time.monotonic() + START_TIMEOUT
            while answers(self.app_ports[i]) != 200:
                if not process.running or time.monotonic() > deadline:
                    raise StackError(f"app-{i} did not come up\n{process.tail()}")
                time.sleep(0.2)

    def kill_instance(self, i: int, sig: int = signal.SIGKILL) -> None:
        """SIGKILL: instance `i`'s master and workers at once (the machine is gone). Any other
        signal goes to the master alone, as an operator sends it (SIGTERM: a graceful stop,
        SIGHUP: reload, SIGTTIN/SIGTTOU: a worker more or fewer)."""
        process = self._apps[i]
        if sig == signal.SIGKILL:
            process.kill()
        else:
            process.send(sig)

    def start_worker(self, j: int) -> None:
        """(Re)start mail worker `j`; j == len(worker_pids) adds one."""
        if j == len(self._workers):
            self._workers.append(self._worker_process(j))
        process = self._workers[j]
        if process.running:
            return
        process.close_log()
        process.start(self.environment)

    def kill_worker(self, j: int, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to mail worker `j` (SIGKILL: dies mid-batch; SIGINT: stops cleanly)."""
        process = self._workers[j]
        if sig == signal.SIGKILL:
            process.kill()
        else:
            process.send(sig)

    def stop(self) -> None:
        """Ask everything to stop (nginx first, so nothing new reaches the instances), wait
        up to STOP_TIMEOUT, then kill what is left."""
        processes = [*([self._nginx] if self._nginx else []), *self._apps, *self._workers]
        for process in processes:
            process.send(process.stop_signal)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            if not process.wait(max(0.1, deadline - time.monotonic())):
                process.kill()
            process.close_log()
        self.started = False

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- make stack -------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` if it does not exist."""
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
                print(f"created database {target.database}")
    finally:
        admin.dispose()


def _interrupt(signum, frame) -> None:
    """A stop from `kill` or systemd ends the stack as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Run nginx, gunicorn and the mail workers on 127.0.0.1 (Ctrl-C stops)."
    )
    parser.add_argument("--database", default=STACK_DATABASE)
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (0: any free one)")
    parser.add_argument("--instances", type=int, default=1, help="gunicorn instances")
    parser.add_argument("--mail-workers", type=int, default=1)
    parser.add_argument("--web-workers", type=int, default=2, help="processes per instance")
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--redis", default=None, help="e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--workdir", type=Path, default=ROOT / "instance" / "stack")
    args = parser.parse_args(argv)

    if args.database.startswith("postgresql"):
        ensure_database(args.database)
    stack = Stack(
        args.workdir,
        args.database,
        app_instances=args.instances,
        mail_workers=args.mail_workers,
        redis_url=args.redis,
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        nginx_port=args.port or None,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.start()
        # Demo data is for development: seeded with PETITIONS_ENV=development (refused in
        # production), once (seed does nothing when there are petitions).
        print(stack.run_flask("seed", env={"PETITIONS_ENV": "development"}).rstrip())
        print(f"\nThe stack is up at {stack.base_url}/ (mail is written to the worker logs)")
        print(f"logs in {stack.workdir}; Ctrl-C stops it")
        while True:
            time.sleep(1)
            if ended := stack.ended():
                print(f"stopped by itself: {', '.join(ended)}\n{stack.log_tails()}")
                break
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
