"""Reads through the production stack (deploy/loopback.py): the petition page and count.json
through nginx's cache, the same straight from one gunicorn instance, and nginx's own ceiling
(a small static file), each measured with wrk in the same run, with the CPU each part used.

    .venv/bin/python bench/cache.py [--seconds 8] [--connections 64]

It uses the local PostgreSQL database `petitions_bench_cache` (dropped and made again) and
prints a Markdown table. PostgreSQL's CPU is that of every backend on the server, so it is
only meaningful on a quiet machine. An anonymous reader's page is what a crowd on a viral
petition asks for; the issue's figures are >= 5,000 requests/s through the cache and >= 500
from the app.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.loopback import Stack, free_port  # noqa: E402

DATABASE = "petitions_bench_cache"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
TICKS = os.sysconf("SC_CLK_TCK")


def recreate_database() -> None:
    for statement in (
        f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)",
        f"CREATE DATABASE {DATABASE}",
    ):
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", statement],
            check=True,
        )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children so far (from /proc)."""
    total = 0.0
    for pid in pids:
        for task in [pid, *_descendants(pid)]:
            try:
                fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _descendants(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(c) for c in children]
    for child in list(found):
        found.extend(_descendants(child))
    return found


def postgres_cpu() -> float:
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    return cpu_seconds([int(p) for p in out.split()])


def wrk(url: str, seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second and non-2xx/3xx answers (wrk, one thread)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, int(bad.group(1)) if bad else 0


def measure(stack: Stack, url: str, seconds: int, connections: int) -> dict:
    parts = {
        "app": [p for p in stack.app_pids if p],
        "nginx": stack.nginx_pids,
    }
    before = {name: cpu_seconds(pids) for name, pids in parts.items()}
    before_pg = postgres_cpu()
    rate, bad = wrk(url, seconds, connections)
    after = {name: cpu_seconds(pids) for name, pids in parts.items()}
    requests = rate * seconds
    per = {name: (after[name] - before[name]) / requests * 1e6 for name in parts}
    per["postgres"] = (postgres_cpu() - before_pg) / requests * 1e6
    return {"rate": rate, "bad": bad, **per}


def bare_flask(args, port: int) -> subprocess.Popen:
    """bench/baseline_app.py under the same gunicorn settings: the ceiling of a JSON route."""
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-k", "gthread", f"-w{args.web_workers}", f"--threads={args.web_threads}",
            "-b", f"127.0.0.1:{port}", "--chdir", str(Path(__file__).parent),
            "baseline_app:create_app()",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(100):
        if (
            subprocess.run(
                ["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{port}/count.json"]
            ).returncode
            == 0
        ):
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bare Flask app did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    args = parser.parse_args()
    recreate_database()
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as folder:
        stack = Stack(
            Path(folder),
            URL,
            mail_workers=0,
            web_workers=args.web_workers,
            web_threads=args.web_threads,
            access_logs=False,
        )
        with stack:
            stack.run_flask("seed", env={"PETITIONS_ENV": "development"})
            base, app = stack.base_url, stack.app_urls[0]
            static = next(
                p.name
                for p in (Path(__file__).parent.parent / "static").iterdir()
                if p.suffix == ".css"
            )
            targets = [
                ("petition page, through nginx's cache", f"{base}/petitions/1"),
                ("petition page, straight from the app", f"{app}/petitions/1"),
                ("count.json, through nginx's cache", f"{base}/petitions/1/count.json"),
                ("count.json, straight from the app", f"{app}/petitions/1/count.json"),
                ("home page, through nginx's cache", f"{base}/"),
                ("nginx ceiling: a static file", f"{base}/static/{static}"),
            ]
            for _, url in targets:  # fill the caches and the memos
                subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=True)
            time.sleep(1)
            rows = [
                (name, measure(stack, url, args.seconds, args.connections)) for name, url in targets
            ]
            port = free_port()
            baseline = bare_flask(args, port)
            try:
                rate, bad = wrk(
                    f"http://127.0.0.1:{port}/count.json", args.seconds, args.connections
                )
            finally:
                baseline.terminate()
                baseline.wait(15)
            rows.append(("bare Flask ceiling: a JSON route", {"rate": rate, "bad": bad}))
    load = os.getloadavg()[0]
    print(
        f"\n{platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at the end; "
        f"gunicorn {args.web_workers} workers x {args.web_threads} threads; wrk 1 thread, "
        f"{args.connections} connections, {args.seconds} s per target.\n"
    )
    print("| read | requests/s | non-2xx | app CPU µs/req | nginx CPU µs/req | PostgreSQL µs/req |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in rows:
        cpu = " | ".join(f"{m[k]:.0f}" if k in m else "–" for k in ("app", "nginx", "postgres"))
        print(f"| {name} | {m['rate']:,.0f} | {m['bad']} | {cpu} |")


if __name__ == "__main__":
    main()
