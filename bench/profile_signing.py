"""Where the signing path spends the app's CPU, step by step, run by hand (never by CI).

bench/load.py says how much server CPU a confirmed signature costs; this says on what. In one
process, on a PostgreSQL database of its own (recreated, and dropped after; its name must
contain 'bench'), with the production settings bench/load.py gives gunicorn, it runs the flow
through Flask's test client: GET the petition page, POST sign, deliver the outbox to an SMTP
sink in this process (outbox.deliver_batch, as `flask worker` does), GET the emailed link,
POST confirm. Each step runs under its own cProfile profiler (this thread's CPU clock), after
a warm-up; printed per signature: each step's CPU time, its Python function calls (steady on
a busy machine, unlike times) and its top functions (cumulative and own time).

    .venv/bin/python bench/profile_signing.py --signatures 300 --top 25
    .venv/bin/python bench/profile_signing.py --dump /tmp/prof   # .pstats per step

PostgreSQL's own CPU is not in these figures (bench/load.py measures it).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import (  # noqa: E402 (this folder is not a package)
    CONFIRMED_TEXT,
    HOST,
    ROOT,
    SIGNER_DOMAINS,
    MailSink,
    app_environment,
    drop_database,
    recreate_database,
    signer_address,
)

STEPS = ("GET petition page", "POST sign", "deliver mail", "GET confirm link", "POST confirm")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signatures", type=int, default=300, help="profiled flows")
    parser.add_argument("--warm-up", type=int, default=30, help="flows before profiling")
    parser.add_argument("--batch", type=int, default=10, help="signatures per outbox batch")
    parser.add_argument("--top", type=int, default=20, help="functions shown per step")
    parser.add_argument("--database", default="petitions_profile_bench")
    parser.add_argument("--pg-host", default=HOST)
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument(
        "--no-profile", action="store_true", help="CPU times only, without cProfile's overhead"
    )
    parser.add_argument("--dump", type=Path, help="write <step>.pstats files into this folder")
    args = parser.parse_args(argv)
    if "bench" not in args.database or not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database must be a plain lower-case name containing 'bench'")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    port = 8000
    recreate_database(args)
    env = app_environment(SimpleNamespace(**vars(args), workers=3, threads=4), port)
    sink = MailSink()
    sink.start()
    env.update(MAIL_SERVER=HOST, MAIL_PORT=str(sink.port))
    flask = [sys.executable, "-m", "flask", "--app", "petitions"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*flask, "petition", "create", "--open", "--days", "30", "--goal", "1000000",
         "--title", "Benchmark petition", "--action", "Sign this to profile signing.",
         "--addressee", "The benchmark"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    petition_id = int(re.search(r"petition (\d+) created", created.stdout).group(1))
    os.environ.clear()
    os.environ.update(env)

    from petitions import create_app
    from petitions.extensions import db
    from petitions.outbox import deliver_batch

    app = create_app()
    host = f"{HOST}:{port}"
    base = f"http://{host}"
    origin = {"Origin": base}
    # This thread's CPU time, not wall time: neither waiting for PostgreSQL nor the SMTP
    # sink's thread is the app's cost.
    profilers = {step: cProfile.Profile(time.thread_time) for step in STEPS}
    cpu = dict.fromkeys(STEPS, 0.0)

    def timed(step, profile, call):
        start = time.thread_time()
        if profile and not args.no_profile:
            profilers[step].enable()
        try:
            return call()
        finally:
            if profile:
                profilers[step].disable()
                cpu[step] += time.thread_time() - start

    def batch(first: int, count: int, profile: bool) -> None:
        clients = []
        for n in range(first, first + count):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = signer_address(n)
            client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
            client.environ_base["HTTP_USER_AGENT"] = "petitions-bench/1"
            address = f"signer{n:06d}.prof@{SIGNER_DOMAINS[n % len(SIGNER_DOMAINS)]}"
            page = timed(
                STEPS[0],
                profile,
                lambda c=client: c.get(f"/petitions/{petition_id}", base_url=base),
            )
            assert page.status_code == 200, page.status_code
            form = {"name": f"Bench Signer {n}", "email": address, "country": "KG",
                    "region": "Chüy", "consent": "y"}  # fmt: skip
            signed = timed(
                STEPS[1],
                profile,
                lambda c=client, f=form: c.post(
                    f"/petitions/{petition_id}/sign", data=f, headers=origin, base_url=base
                ),
            )
            assert signed.status_code == 303, signed.status_code
            clients.append((client, address))

        def deliver():
            with app.app_context():
                report = deliver_batch(db.session, app.config)
                db.session.remove()
                return report

        delivered = 0
        while delivered < count:
            delivered += timed(STEPS[2], profile, deliver).sent
        for client, address in clients:
            link, _ = sink.links.pop(address.lower())
            path = urlsplit(link).path
            shown = timed(STEPS[3], profile, lambda c=client, p=path: c.get(p, base_url=base))
            assert shown.status_code == 200, shown.status_code
            done = timed(
                STEPS[4], profile, lambda c=client, p=path: c.post(p, headers=origin, base_url=base)
            )
            assert done.status_code == 200 and CONFIRMED_TEXT in done.get_data(as_text=True)

    n = 0
    try:
        while n < args.warm_up:
            batch(n, min(args.batch, args.warm_up - n), profile=False)
            n += args.batch
        done = 0
        batches = []  # per batch: (signatures, CPU seconds per step)
        while done < args.signatures:
            count = min(args.batch, args.signatures - done)
            before = dict(cpu)
            batch(n, count, profile=True)
            batches.append((count, {step: cpu[step] - before[step] for step in STEPS}))
            n += count
            done += count
    finally:
        sink.stop()
        with app.app_context():
            db.engine.dispose()
        drop_database(args)
    total = sum(cpu.values())
    # On a shared machine other processes slow this one down (caches, hyperthreads); the
    # quietest quarter of the batches is the steadier figure to compare two versions by.
    quiet = sorted(batches, key=lambda b: sum(b[1].values()) / b[0])[: max(1, len(batches) // 4)]
    quiet_n = sum(count for count, _ in quiet)
    print(f"# app CPU per signature, in process (PostgreSQL not included), {done} signatures\n")
    print("| step | mean ms | quietest quarter of batches, ms |\n|---|---:|---:|")
    for step in (*STEPS, "total"):
        mean = total if step == "total" else cpu[step]
        low = sum(sum(b.values()) if step == "total" else b[step] for _, b in quiet)
        print(f"| {step} | {1000 * mean / done:.2f} | {1000 * low / quiet_n:.2f} |")
    print()
    if not args.no_profile:
        # Deterministic, unlike CPU time on a busy machine: Python function calls per step.
        print("| step | Python function calls per signature |\n|---|---:|")
        for step in STEPS:
            calls = sum(v[1] for v in pstats.Stats(profilers[step]).stats.values())
            print(f"| {step} | {calls / done:.0f} |")
        print()
    for step in () if args.no_profile else STEPS:
        out = io.StringIO()
        stats = pstats.Stats(profilers[step], stream=out)
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            stats.dump_stats(args.dump / f"{step.replace(' ', '_')}.pstats")
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        print(f"## {step}\n\n```\n{out.getvalue()}\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
