"""Timing benchmark of the answers that must not tell who signed or who has an account
(issue 8, defect 3); run by hand (`make bench-timing`), never by CI or pytest.

tests/web/test_equal_work.py counts, deterministically, that every answer of the sign form,
the password reset and the sign-up runs the same SQL statements and renders the same
templates. This script measures what an outsider measures: the time of the answer, end to end
over HTTP, against the app served as in production. All on 127.0.0.1 and bounded:

1. drops and recreates a PostgreSQL database of its own (default `petitions_bench_timing`),
   runs the migrations, opens one petition and prepares, through the services (accounts by
   ORM with one precomputed password hash), an address per request and branch:
   - sign: new / pending / already confirmed / pending at the mail limit;
   - password reset: confirmed account / unconfirmed account / no account;
   - sign-up: new address / unconfirmed account / confirmed account;
2. starts gunicorn with the repository's gunicorn.conf.py and bench/load.py's settings
   (production, except SIGN_MIN_SECONDS=0: the visitors post at once; no mail worker: the
   mail only queues, which is all a request does with it);
3. per endpoint, in rounds: each round sends one request of every branch in a shuffled order
   (so drift on a shared machine hits every branch alike). Each request is a new visitor
   connecting from a loopback network of its own (127.a.b.1, load.signer_address), so the
   per-address and per-network limits never refuse or flag it, and each round's addresses
   have a domain of their own, below the per-domain signing rate. The visitor GETs the page
   with the form (not timed), then POSTs it (timed) on the same keep-alive connection, with
   the fields the page's form carries:
   - sign: the petition page, as a shared cache serves it to everyone, so no session (the
     page must set no cookie): the POST carries none, only Origin
     (security.same_origin_posts) and the form's signed "served at";
   - password reset and sign-up: the form's page, which starts a session; the POST sends
     its cookie and the form's CSRF token;
4. reports median, p90 and mean per branch and a two-sided Mann-Whitney U test per pair of
   branches, and checks that every branch did what it was prepared for (the outbox rows the
   requests wrote; for sign also that every new signature is unflagged, has its time to
   submit and came from its own network) and that the answers are byte-for-byte the same
   shape.

Exit status: 0 if no pair differs at p < 0.005, 1 if one does (or the answers differ),
2 if a branch did not take the path it was prepared for (the run proves nothing, whatever the
times) or the run failed, 130 on Ctrl-C or SIGTERM. Markdown goes to stdout, progress to
stderr; the summary, gunicorn's log and every timed request (times.csv) to
bench/results/<time>-timing/. The database is dropped after a run that exits 0 (unless
--keep-database), kept otherwise.

It reuses bench/load.py's helpers (processes, gunicorn, the database, the HTTP client, the
visitors' addresses, the machine facts), so run it as a script from the repository root:

    .venv/bin/python bench/timing.py                 # 50 requests per branch, ~1.5 minutes
    make bench-timing BENCH_ARGS='--requests 100 --endpoints sign,reset'
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import random
import re
import secrets
import shlex
import signal
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import load
from load import HOST, ROOT, Browser, CpuMeter, Processes, expect, log

#: Two answers "differ" below this p-value (the attack's own figures had p < 0.005).
SIGNIFICANT = 0.005
#: For the rough "shift this run would detect" figure (see detectable_shift).
POWER = 0.8
PASSWORD = "timing bench password 1"


def _config_variables() -> frozenset[str]:
    """Every variable config.py reads (env_str("NAME", ...) and kin), so that none of a
    developer's settings (a PASSWORD_HASH_PROFILE=CHEAPEST, say) reaches the measured app."""
    source = (ROOT / "config.py").read_text()
    return frozenset(re.findall(r'env_[a-z_]+\(\s*"([A-Z0-9_]+)"', source))


DROPPED_VARIABLES = frozenset(load.APP_VARIABLES) | _config_variables()


# --- what is measured ------------------------------------------------------------------------


@dataclass(frozen=True)
class Branch:
    """One kind of address an endpoint must answer alike."""

    label: str
    #: Four letters that start each of its addresses (the same length for every branch).
    code: str
    #: The outbox row each of its requests writes: (kind, True if to the address itself,
    #: False if withheld, i.e. no recipient).
    mail: tuple[str, bool]

    def address(self, n: int, tag: str) -> str:
        """Its address of round n: one domain per round, so no email domain reaches the
        per-domain signing rate (RATE_SIGN_DOMAIN, ~10 a minute) and flags the signature."""
        return f"{self.code}{n:04d}.{tag}@r{n:04d}.example.org"


@dataclass(frozen=True)
class Endpoint:
    name: str
    title: str
    #: The page a visitor reads before posting (it carries the form).
    form_path: str
    post_path: str
    branches: tuple[Branch, ...]
    #: What the visitor types and ticks, for an address.
    form: Callable[[str], dict]
    #: Where every answer redirects (the same page whatever the address).
    location: str
    #: The hidden fields the page's form must carry (posted back as served).
    hidden: tuple[str, ...]
    #: True: the page is one a shared cache serves everyone, so it must set no cookie and the
    #: visitor posts none (the sign form); False: the page starts a session whose CSRF token
    #: the form carries.
    sessionless: bool


def endpoints(petition_id: int) -> dict[str, Endpoint]:
    petition = f"/petitions/{petition_id}"
    return {
        "sign": Endpoint(
            "sign",
            f"POST {petition}/sign",
            petition,
            f"{petition}/sign",
            (
                Branch("new address", "snew", ("confirmation", True)),
                Branch("pending signature", "spnd", ("confirmation", True)),
                Branch("already confirmed", "scnf", ("already_signed", True)),
                Branch("at the mail limit", "slim", ("confirmation", False)),
            ),
            lambda email: {
                "name": "Timing Signer",
                "email": email,
                "country": "KG",
                "region": "Chüy",
                "consent": "y",
            },
            f"{petition}/signed",
            ("served",),
            True,
        ),
        "reset": Endpoint(
            "reset",
            "POST /account/reset",
            "/account/reset",
            "/account/reset",
            (
                Branch("confirmed account", "rcnf", ("account_reset", True)),
                Branch("unconfirmed account", "runc", ("account_reset", True)),
                Branch("no account", "rnon", ("account_reset", False)),
            ),
            lambda email: {"email": email},
            "/account/check-email",
            ("csrf_token",),
            False,
        ),
        "signup": Endpoint(
            "signup",
            "POST /account/signup",
            "/account/signup",
            "/account/signup",
            (
                Branch("new address", "unew", ("account_confirm", True)),
                Branch("unconfirmed account", "uunc", ("account_confirm", True)),
                Branch("confirmed account", "ucnf", ("account_exists", True)),
            ),
            lambda email: {
                "email": email,
                "display_name": "Timing Organiser",
                "password": PASSWORD,
                "password2": PASSWORD,
                "consent": "y",
            },
            "/account/check-email",
            ("csrf_token",),
            False,
        ),
    }


ENDPOINT_NAMES = ("sign", "reset", "signup")


# --- options -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Do the sign, reset and sign-up answers take the same time for every "
        "kind of address?",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=50, help="timed requests per branch")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed rounds per endpoint before the timed ones"
    )
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINT_NAMES),
        help=f"comma-separated, of {', '.join(ENDPOINT_NAMES)}",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the shuffled order (random if unset)"
    )
    parser.add_argument(
        "--workers", type=int, default=load.CPUS + 1, help="gunicorn processes (WEB_WORKERS)"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (WEB_THREADS)")
    parser.add_argument("--label", default="unlabelled run", help="the title of the summary")
    parser.add_argument("--pg-host", default=HOST)
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument(
        "--database",
        default="petitions_bench_timing",
        help="database to DROP and recreate; its name must contain 'bench'",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="keep the database after a passing run"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=load.BENCH_DIR / "results",
        help="a <timestamp>-timing/ folder with logs and the summary is made here",
    )
    args = parser.parse_args(argv)
    # Bounded on purpose: 500 sign-ups per branch already take about 8 minutes.
    if not 5 <= args.requests <= 500:
        parser.error("--requests must be between 5 and 500")
    if not 0 <= args.warmup <= 20:
        parser.error("--warmup must be between 0 and 20")
    if not (1 <= args.workers <= 64 and 1 <= args.threads <= 64):
        parser.error("--workers and --threads must be between 1 and 64")
    args.endpoint_names = [name.strip() for name in args.endpoints.split(",") if name.strip()]
    unknown = set(args.endpoint_names) - set(ENDPOINT_NAMES)
    if unknown or not args.endpoint_names:
        parser.error(f"--endpoints takes {', '.join(ENDPOINT_NAMES)}, not {sorted(unknown)}")
    if args.pg_host not in load.LOOPBACK_NAMES:
        parser.error("--pg-host must be a loopback address: this benchmark targets 127.0.0.1 only")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database) or "bench" not in args.database:
        parser.error("--database must be a plain lower-case name containing 'bench'")
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)
    return args


# --- statistics --------------------------------------------------------------------------------


def mann_whitney_u(x: list[float], y: list[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test with the normal approximation: (U of x, p-value).

    Rank the pooled values (tied values get their mean rank); U = R_x - n_x (n_x + 1) / 2,
    where R_x is the rank sum of x. If x and y come from one distribution, U has mean
    n_x n_y / 2 and variance n_x n_y / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1))), the sum
    over groups of t tied values. With a continuity correction of 1/2,
    z = (|U - mean| - 1/2) / sd, and p = P(|Z| >= z) = erfc(z / sqrt 2). The approximation is
    good from about 20 values a side; it gives what scipy.stats.mannwhitneyu(x, y,
    method="asymptotic") gives (scipy is not a dependency of this project).
    """
    nx, ny = len(x), len(y)
    n = nx + ny
    pooled = sorted(itertools.chain(((v, 1) for v in x), ((v, 0) for v in y)))
    rank_sum_x = 0.0
    ties = 0.0
    done = 0
    for _, group in itertools.groupby(pooled, key=lambda item: item[0]):
        members = list(group)
        t = len(members)
        mean_rank = done + (t + 1) / 2
        done += t
        rank_sum_x += mean_rank * sum(from_x for _, from_x in members)
        ties += t**3 - t
    u = rank_sum_x - nx * (nx + 1) / 2
    variance = nx * ny / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:  # every value the same
        return u, 1.0
    z = max(abs(u - nx * ny / 2) - 0.5, 0.0) / math.sqrt(variance)
    return u, math.erfc(z / math.sqrt(2))


def robust_sd(samples: list[list[float]]) -> float:
    """The spread within branches: 1.4826 × the median absolute deviation of every value from
    its own branch's median (the standard deviation, for normal data; outliers barely move it)."""
    deviations = [abs(v - statistics.median(s)) for s in samples for v in s]
    return 1.4826 * statistics.median(deviations)


def detectable_shift(sd: float, n: int) -> float:
    """Roughly the smallest constant difference between two branches this run finds at
    p < SIGNIFICANT four times in five: (z_{1-α/2} + z_power) · sd · sqrt(2 / n), the normal
    theory figure (the U test is about as sensitive on normal data, more on long tails)."""
    z = statistics.NormalDist()
    return (z.inv_cdf(1 - SIGNIFICANT / 2) + z.inv_cdf(POWER)) * sd * math.sqrt(2 / n)


def describe(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p90": load.percentile(ordered, 90),
        "mean": statistics.fmean(ordered),
    }


# --- preparing the database ------------------------------------------------------------------


@contextmanager
def environment(env: dict) -> Iterator[None]:
    """os.environ is `env` inside (create_app reads its settings from it), ours again after."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def prepare(env: dict, chosen: list[Endpoint], rounds: int, tag: str) -> int:
    """Migrate, open a petition and give every branch `rounds` addresses in the state it
    names; returns the petition's id. Runs the app in this process with the environment
    gunicorn gets, so keys and limits are the same."""
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from petitions import create_app
    from petitions.emailaddr import normalise_for_identity
    from petitions.extensions import db
    from petitions.models import Petition, Role, Signature, User, utcnow
    from petitions.passwords import hash_password
    from petitions.services import petitions
    from petitions.services.signing import Signer, SigningPolicy, confirm_signature, sign_petition

    with environment(env):
        app = create_app()
    with app.app_context():
        upgrade()
        now = utcnow()
        draft = petitions.PetitionDraft(
            title="Timing benchmark petition",
            action="Sign this petition to measure whether answers take the same time.",
            addressee="The benchmark",
        )
        petition = petitions.create_petition(db.session, draft, now=now)
        petitions.open_petition(
            db.session, petition, now=now, base_url=app.config["PUBLIC_BASE_URL"], duration_days=30
        )
        db.session.commit()
        petition_id = petition.id
        names = {endpoint.name for endpoint in chosen}
        policy = SigningPolicy.from_config(app.config)

        def sign(email: str) -> None:
            signer = Signer("Timing Signer", email, "KG", "Chüy", wants_updates=False)
            current = db.session.get(Petition, petition_id)
            sign_petition(db.session, current, signer, now=utcnow(), policy=policy)

        if "sign" in names:
            log(f"preparing {3 * rounds} signatures (pending, confirmed, at the mail limit)")
            branches = {b.code: b for b in endpoints(petition_id)["sign"].branches}
            for n in range(rounds):
                sign(branches["spnd"].address(n, tag))
                confirmed = branches["scnf"].address(n, tag)
                sign(confirmed)
                signature_id = db.session.scalar(
                    select(Signature.id).where(
                        Signature.petition_id == petition_id, Signature.email == confirmed
                    )
                )
                confirm_signature(db.session, signature_id, now=utcnow(), policy=policy)
                for _ in range(policy.max_confirmation_sends):
                    sign(branches["slim"].address(n, tag))

        # Accounts as sign_up() and confirm_email() leave them, with one precomputed hash
        # (no request here checks the stored hash; one argon2 hash per account would add
        # minutes at 500 requests a branch).
        password_hash = hash_password(PASSWORD)
        accounts = [("reset", "rcnf", True), ("reset", "runc", False)]
        accounts += [("signup", "ucnf", True), ("signup", "uunc", False)]
        rules = app.config["EMAIL_ALIAS_RULES"]
        made = 0
        for endpoint_name, code, confirmed in accounts:
            if endpoint_name not in names:
                continue
            branch = next(b for b in endpoints(0)[endpoint_name].branches if b.code == code)
            for n in range(rounds):
                email = branch.address(n, tag)
                db.session.add(
                    User(
                        email=email,
                        email_canonical=normalise_for_identity(email, rules),
                        password_hash=password_hash,
                        display_name="Timing Organiser",
                        role=Role.ORGANISER,
                        created_at=now,
                        email_confirmed_at=now if confirmed else None,
                        failed_logins=0,
                        credentials_version=1,
                        locale="en",
                    )
                )
                made += 1
        db.session.commit()
        log(f"prepared {made} accounts")
        for table in ("signatures", "users", "outbox_messages"):
            db.session.execute(text(f"ANALYZE {table}"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return petition_id


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Measured:
    endpoint: Endpoint
    times: dict[str, list[float]] = field(default_factory=dict)
    #: Per branch: how many answers of each shape (status, Location, body bytes, cookies).
    shapes: dict[str, Counter] = field(default_factory=dict)
    #: Outbox rows the requests wrote: (kind, first four letters of the recipient or "").
    outbox: Counter = field(default_factory=Counter)
    connections: int = 0
    #: Every timed request: (round, place in its round, branch code, seconds).
    rows: list[tuple[int, int, str, float]] = field(default_factory=list)
    seconds: float = 0.0
    #: sign only: what the new-address requests stored (see new_signatures).
    new_signatures: dict[str, int] | None = None


def shape(answer: load.Answer) -> tuple:
    cookies = sorted(
        value.split("=", 1)[0].strip() for value in answer.headers.get_all("Set-Cookie") or []
    )
    return (answer.status, answer.headers.get("Location"), len(answer.text), tuple(cookies))


def outbox_mark(args: argparse.Namespace) -> int:
    return load.query_one(args, "SELECT coalesce(max(id), 0) FROM outbox_messages")[0]


def outbox_since(args: argparse.Namespace, mark: int) -> Counter:
    import psycopg

    with psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname=args.database
    ) as conn:
        rows = conn.execute(
            "SELECT kind, left(coalesce(to_address, ''), 4), count(*) FROM outbox_messages"
            " WHERE id > %s GROUP BY 1, 2",
            (mark,),
        ).fetchall()
    return Counter({(kind, prefix): n for kind, prefix, n in rows})


class PageForm(HTMLParser):
    """What a browser would post of the form whose action is `action`: its hidden fields and
    empty text inputs (the honeypot among them) as the page has them; no unticked box."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.found = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.inside = a.get("action", "").split("#", 1)[0] == self.action
            self.found |= self.inside
        elif tag == "input" and self.inside and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "image", "file"):
                self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def page_form(page: load.Answer, endpoint: Endpoint) -> dict[str, str]:
    parser = PageForm(endpoint.post_path)
    parser.feed(page.text)
    step = f"GET {endpoint.form_path}"
    if not parser.found:
        raise load.FlowError(f"{step}: no form posting to {endpoint.post_path}")
    missing = [name for name in endpoint.hidden if not parser.fields.get(name)]
    if missing:
        raise load.FlowError(f"{step}: the form has no {', '.join(missing)}")
    return parser.fields


def measure(
    args: argparse.Namespace,
    port: int,
    endpoint: Endpoint,
    tag: str,
    rng: random.Random,
    visitors: Iterator[int],
) -> Measured:
    """`args.warmup` untimed rounds, then `args.requests` timed ones; each round one request
    per branch in a shuffled order, each by a new visitor from a network of its own
    (load.signer_address): a new connection, the page with the form (not timed), then the
    POST on the same keep-alive connection (timed)."""
    result = Measured(endpoint)
    result.times = {b.code: [] for b in endpoint.branches}
    result.shapes = {b.code: Counter() for b in endpoint.branches}
    mark = outbox_mark(args)
    browser = Browser(port)
    rounds = args.warmup + args.requests
    started = time.monotonic()
    next_report = started + 5
    try:
        for n in range(rounds):
            order = list(endpoint.branches)
            rng.shuffle(order)
            for place, branch in enumerate(order):
                browser.become(load.signer_address(next(visitors)))
                result.connections += browser.connection is None
                page = browser.request("GET", endpoint.form_path)
                expect(page, 200, f"GET {endpoint.form_path}")
                if endpoint.sessionless and browser.cookies:
                    raise load.FlowError(
                        f"GET {endpoint.form_path} set a cookie: no shared cache would serve it"
                    )
                form = {**page_form(page, endpoint), **endpoint.form(branch.address(n, tag))}
                result.connections += browser.connection is None
                answer = browser.request("POST", endpoint.post_path, form)
                expect(answer, 303, endpoint.title)
                if n >= args.warmup:
                    result.times[branch.code].append(answer.seconds)
                    result.rows.append((n - args.warmup, place, branch.code, answer.seconds))
                    result.shapes[branch.code][shape(answer)] += 1
            if time.monotonic() >= next_report:
                next_report += 5
                log(f"{endpoint.name}: round {n + 1} of {rounds}")
    finally:
        browser.close()
    result.seconds = time.monotonic() - started
    result.outbox = outbox_since(args, mark)
    if endpoint.name == "sign":
        result.new_signatures = new_signatures(args, tag)
    return result


def new_signatures(args: argparse.Namespace, tag: str) -> dict[str, int]:
    """What the new-address branch's requests stored: the rows, those flagged (a signing rate
    reached, say: the same answer and mail, but another path), those without the time to
    submit (the page's `served` was not read) and the client addresses they came from."""
    rows, flagged, untimed, sources = load.query_one(
        args,
        "SELECT count(*), count(flag), count(*) - count(submit_ms),"
        " count(DISTINCT client_network) FROM signatures WHERE email LIKE %s",
        (f"snew%.{tag}@%",),
    )
    return {"rows": rows, "flagged": flagged, "untimed": untimed, "networks": sources}


def write_times(path: Path, measured: list[Measured]) -> None:
    """Every timed request, for a closer look (within-round pairing, drift, outliers)."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["endpoint", "round", "place", "branch", "ms"])
        for m in measured:
            for n, place, code, seconds in m.rows:
                writer.writerow([m.endpoint.name, n, place, code, f"{1000 * seconds:.3f}"])


# --- the Markdown summary ----------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def signed_ms(seconds: float) -> str:
    return f"{1000 * seconds:+.1f}"


@dataclass
class Verdict:
    lines: list[str]
    differs: bool
    #: False when a branch did not take the path it was prepared for.
    valid: bool


def endpoint_section(m: Measured, rounds: int) -> Verdict:
    e = m.endpoint
    lines = [
        f"#### `{e.title}`",
        "",
        f"{len(m.times[e.branches[0].code])} timed requests per branch, interleaved, in "
        f"{m.seconds:.0f} s ({m.connections} connection(s) opened).",
        "",
        "| branch | n | median ms | p90 ms | mean ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for b in e.branches:
        s = describe(m.times[b.code])
        lines.append(
            f"| {b.label} | {s['n']} | {ms(s['median'])} | {ms(s['p90'])} | {ms(s['mean'])} |"
        )
    lines += [
        "",
        "| pair (a vs b) | median a − b ms | P(a slower than b) | Mann-Whitney p "
        f"| differs at p < {SIGNIFICANT}? |",
        "|---|---:|---:|---:|---|",
    ]
    differs = False
    for a, b in itertools.combinations(e.branches, 2):
        x, y = m.times[a.code], m.times[b.code]
        u, p = mann_whitney_u(x, y)
        significant = p < SIGNIFICANT
        differs |= significant
        lines.append(
            f"| {a.label} vs {b.label} "
            f"| {signed_ms(statistics.median(x) - statistics.median(y))} "
            f"| {u / (len(x) * len(y)):.2f} | {p:.3f} | {'**yes**' if significant else 'no'} |"
        )
    samples = list(m.times.values())
    sd = robust_sd(samples)
    n = min(len(s) for s in samples)
    lines += [
        "",
        f"Spread within a branch (robust SD): {ms(sd)} ms; with {n} requests a branch, a "
        f"constant difference of about {ms(detectable_shift(sd, n))} ms would show at "
        f"p < {SIGNIFICANT} in four runs out of five.",
        "",
    ]
    # The answers themselves must not differ either (status, redirect, size, cookies set).
    shapes = {shape for counter in m.shapes.values() for shape in counter}
    same_answers = len(shapes) == 1
    differs |= not same_answers
    if same_answers:
        status, location, size, cookies = next(iter(shapes))
        answers = (
            f"`{status}` to `{location}`, {size} bytes, cookies set: {', '.join(cookies) or 'none'}"
        )
    else:
        answers = f"{len(shapes)} different answers: {sorted(shapes, key=str)}"
    redirected = {location for _, location, _, _ in shapes} == {e.location}
    expected = Counter()
    for b in e.branches:
        kind, addressed = b.mail
        expected[(kind, b.code if addressed else "")] += rounds
    valid = m.outbox == expected and redirected
    stored = ""
    if m.new_signatures is not None:
        # Flagged, untimed or sharing a network, a signature gets the same answer and mail
        # as any other: only its row tells that the screening took another path.
        s = m.new_signatures
        wanted = {"rows": rounds, "flagged": 0, "untimed": 0, "networks": rounds}
        valid &= s == wanted
        stored = (
            f"; new-address signatures stored, warm-up included: {s['rows']}, from "
            f"{s['networks']} networks, {s['flagged']} flagged, {s['untimed']} without a "
            "time to submit"
            + ("" if s == wanted else f" (expected {rounds} from {rounds} networks, 0 and 0)")
        )
    lines += [
        f"- {'✅' if same_answers else '❌'} every answer the same: {answers}",
        f"- {'✅' if valid else '❌'} each branch took the path it was prepared for: "
        f"{'every' if redirected else 'not every'} answer redirects to `{e.location}`; "
        f"outbox rows written, warm-up included: {fmt_outbox(m.outbox)}"
        + ("" if m.outbox == expected else f" (expected {fmt_outbox(expected)})")
        + stored,
        "",
    ]
    return Verdict(lines, differs, valid)


def fmt_outbox(counter: Counter) -> str:
    return ", ".join(
        f"{n} {kind} to {prefix}…" if prefix else f"{n} {kind} withheld"
        for (kind, prefix), n in sorted(counter.items())
    )


def cpu_summary(usage: dict) -> str:
    def cores(seconds: float) -> str:
        return f"{seconds / usage['wall']:.2f}"

    return (
        f"machine busy {usage['machine_busy_pct']:.0f}% of {load.CPUS} cores over "
        f"{usage['wall']:.0f} s; cores used on average: app (gunicorn) {cores(usage['app'])}, "
        f"PostgreSQL backends {cores(usage['postgres'])}, benchmark client "
        f"{cores(usage['client'])}, everything else {cores(usage['other'])}"
    )


def markdown(report: dict, verdicts: list[Verdict]) -> str:
    args = report["args"]
    m = report["machine"]
    differs = any(v.differs for v in verdicts)
    valid = all(v.valid for v in verdicts)
    lines = [
        f"### Timing run of {report['started']} ({report['label']})",
        "",
        f"Command: `{report['command']}` (shuffle seed {args.seed})",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {m['cpus']} × {m['cpu_model']} |",
        f"| PostgreSQL | {m['postgres']} (same machine, shared with other users) |",
        f"| Python / Flask / gunicorn | {m['python']} / {m['flask']} / {m['gunicorn']} |",
        f"| kernel | {m['kernel']} |",
        f"| load average at the start / end | {m['loadavg']} / {report['loadavg_end']} |",
        f"| app server | gunicorn.conf.py with `WEB_WORKERS={args.workers} "
        f"WEB_THREADS={args.threads}` (gthread), production config, no mail worker |",
        f"| CPU while measuring | {cpu_summary(report['cpu'])} |",
        "",
    ]
    for verdict in verdicts:
        lines += verdict.lines
    verdict = (
        f"At least one pair of branches differs (p < {SIGNIFICANT}, or in the answer itself)."
        if differs
        else f"No pair of branches differs at p < {SIGNIFICANT}."
    )
    if not valid:
        verdict = f"Not valid: a branch did not take the path it was prepared for. {verdict}"
    lines.append(f"**{verdict}**")
    lines.append("")
    return "\n".join(lines)


# --- the run -----------------------------------------------------------------------------------


def execute(args: argparse.Namespace, processes: Processes, log_dir: Path) -> int:
    port = load.free_port()
    env = load.app_environment(args, port, dropped=DROPPED_VARIABLES)
    tag = secrets.token_hex(3)
    rounds = args.warmup + args.requests
    report: dict = {
        "args": args,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "label": args.label,
        "command": shlex.join(["python", "bench/timing.py", *sys.argv[1:]]),
    }
    log(f"logs and summary in {log_dir}")
    log(f"recreating database {args.database}")
    load.recreate_database(args)
    report["machine"] = load.machine_facts(args)
    petition_id = prepare(env, [endpoints(0)[n] for n in args.endpoint_names], rounds, tag)
    chosen = [endpoints(petition_id)[name] for name in args.endpoint_names]

    args.gunicorn_options = load.gunicorn_options()
    gunicorn = processes.start(
        "gunicorn", load.gunicorn_argv("petitions:create_app()", port, args), env
    )
    load.wait_for_http(port, "/account/reset", gunicorn)
    meter = CpuMeter(args.database)
    meter.app_pids = [gunicorn.pid]
    rng = random.Random(args.seed)
    before = meter.snapshot()
    measured = []
    visitors = itertools.count()  # every request's visitor on a network of its own
    for endpoint in chosen:
        log(f"{endpoint.name}: {rounds} rounds of {len(endpoint.branches)} branches")
        measured.append(measure(args, port, endpoint, tag, rng, visitors))
    report["cpu"] = CpuMeter.usage(before, meter.snapshot())
    report["loadavg_end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    processes.stop(gunicorn)

    write_times(log_dir / "times.csv", measured)
    verdicts = [endpoint_section(m, rounds) for m in measured]
    summary = markdown(report, verdicts)
    (log_dir / "summary.md").write_text(summary)
    print(summary)
    valid = all(v.valid for v in verdicts)
    differs = any(v.differs for v in verdicts)
    status = 2 if not valid else 1 if differs else 0
    log(
        {0: "no pair differs", 1: "a pair differs", 2: "NOT VALID"}[status]
        + f"; summary in {log_dir}"
    )
    if status == 0 and not args.keep_database:
        log(f"dropping database {args.database} (PostgreSQL checkpoints first: can take a while)")
        load.drop_database(args)
    elif status != 0:
        log(f"database {args.database} kept for inspection")
    return status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # As in load.py: a shell starting us in the background may have SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, load._raise_interrupted)
    log_dir = args.results_dir / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-timing")
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = Processes(log_dir)
    try:
        return execute(args, processes, log_dir)
    except (KeyboardInterrupt, load.Interrupted):
        log("interrupted")
        return 130
    except Exception:
        # Not 1, which says "the times differ": this run measured nothing.
        log(f"error, nothing measured:\n{traceback.format_exc()}")
        return 2
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave gunicorn running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("stopping everything this run started")
        processes.stop_all()


if __name__ == "__main__":
    sys.exit(main())
