"""Configuration: every setting the environment can change is one row of `SETTINGS`.

A row says the setting's name, how its variable is read, its default and what it means; the
`Config` attributes, `Config.from_environment()`, gunicorn.conf.py's server settings and the
table in README.md (`flask --app petitions config-docs`) are all made from the rows.
`create_app()` picks a class by `PETITIONS_ENV` (development, testing, production), whose
attributes override the rows' defaults, and then applies the environment, so the same
variables work under `make run`, tests and gunicorn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

#: The development default; production refuses to start with it.
DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable the way operators write them (1/0, true/false, yes/no, on/off)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int)


def env_list(name: str, default: list[str] | None) -> list[str] | None:
    """Comma-separated words, e.g. TRUSTED_HOSTS=petitions.example.kg,www.petitions.example.kg."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


def env_int_list(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated positive whole numbers, e.g. MILESTONES=100,1000,10000; empty: none."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        numbers = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, not {value!r}") from None
    if any(n <= 0 for n in numbers):
        raise ValueError(f"{name} must be positive numbers, not {value!r}")
    return numbers


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float)


def _env_number(name, default, kind):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None


def env_str(name: str, default: str | None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value


def env_url(name: str, default: str | None) -> str:
    """A base URL without its trailing slash, so links are built as base + "/confirm/..."."""
    return (env_str(name, default) or "").rstrip("/")


#: How a row's variable is read, by the row's `kind`.
READERS = {
    "str": env_str,
    "url": env_url,
    "int": env_int,
    "float": env_float,
    "bool": env_bool,
    "list": env_list,
    "int_list": env_int_list,
}

_TABLE_DEFAULT: Any = object()


@dataclass(frozen=True)
class Setting:
    """One setting: the row README.md's configuration table is printed from."""

    #: The key in app.config (and the attribute of Config).
    name: str
    #: How the variable is read: a key of READERS.
    kind: str
    #: Shared by every environment; a Config subclass may override it.
    default: Any
    #: What it does, for operators (Markdown, one README cell).
    meaning: str
    #: The environment variable, where it is not `name`.
    env: str | None = None
    #: README's default cell where the value alone would mislead (derived, a secret, a path).
    shown: str | None = None
    #: Words after the default in README, e.g. "7 days" for 604800.
    note: str | None = None
    #: "app": a Config attribute read by from_environment(); "gunicorn": gunicorn.conf.py
    #: only; "create_app": read by create_app() itself.
    read_by: str = "app"

    def __post_init__(self) -> None:
        if self.kind not in READERS:
            raise ValueError(f"{self.name}: kind must be one of {sorted(READERS)}")
        if self.read_by not in {"app", "gunicorn", "create_app"}:
            raise ValueError(f"{self.name}: read_by {self.read_by!r}")

    @property
    def variable(self) -> str:
        return self.env or self.name

    def read(self, default: Any = _TABLE_DEFAULT) -> Any:
        """The value from the environment, else `default` (the row's own unless given)."""
        return READERS[self.kind](
            self.variable, self.default if default is _TABLE_DEFAULT else default
        )


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PETITIONS_ENV",
        "str",
        "development",
        (
            "`development`, `testing` or `production`. Production refuses to start with the "
            "default or an empty `SECRET_KEY`, and sends cookies only over HTTPS."
        ),
        read_by="create_app",
    ),
    Setting(
        "SECRET_KEY",
        "str",
        DEFAULT_SECRET_KEY,
        (
            "Signs sessions, CSRF tokens and the emailed confirmation links. Long and random in "
            "production."
        ),
        shown="a development value",
    ),
    Setting(
        "SIGNER_HASH_KEY",
        "str",
        None,
        (
            "Key of the hash that identifies a signer's address. **Never change it** once "
            "signatures exist, or people could sign twice; set it separately so `SECRET_KEY` can "
            "be rotated."
        ),
        # create_app() falls back to SECRET_KEY; the one-signature-per-person constraint
        # depends on this key.
        shown="`SECRET_KEY`",
    ),
    Setting(
        "SQLALCHEMY_DATABASE_URI",
        "str",
        f"sqlite:///{INSTANCE_DIR / 'petitions.sqlite3'}",
        (
            "SQLAlchemy URL; for PostgreSQL `postgresql+psycopg://user:pass@host/db` "
            "(`postgres://` and `postgresql://` are accepted)."
        ),
        env="DATABASE_URL",
        shown="`sqlite:///instance/petitions.sqlite3`",
    ),
    Setting(
        "DATABASE_REPLICA_URL",
        "str",
        None,
        (
            "A read replica of the database (a PostgreSQL hot standby, e.g. made with "
            "`pg_basebackup -R`) for the public numbers: running totals (`count.json`, the live "
            "counter, the widget) and statistics (pages, API, feed). They are then behind the "
            "primary by the replica's replay lag (README, Operations); an unreachable replica "
            "leaves them to the primary. Unset: everything reads the primary."
        ),
    ),
    Setting(
        "PUBLIC_BASE_URL",
        "url",
        "http://127.0.0.1:5000",
        ("Base of the links in emails, e.g. `https://petitions.example.kg`."),
    ),
    Setting(
        "MAIL_SERVER",
        "str",
        None,
        ("SMTP host. Unset: emails are written to the log (development)."),
    ),
    Setting(
        "MAIL_PORT",
        "int",
        25,
        ("SMTP port."),
    ),
    Setting(
        "MAIL_USERNAME",
        "str",
        None,
        ("SMTP user name, if the server needs a login."),
    ),
    Setting(
        "MAIL_PASSWORD",
        "str",
        None,
        ("Password of the SMTP login."),
    ),
    Setting(
        "MAIL_USE_TLS",
        "bool",
        False,
        ("STARTTLS after connecting."),
    ),
    Setting(
        "MAIL_USE_SSL",
        "bool",
        False,
        ("TLS from the start (port 465)."),
    ),
    Setting(
        "MAIL_TIMEOUT",
        "int",
        20,
        ("Seconds before an SMTP operation gives up (the message is retried later)."),
    ),
    Setting(
        "MAIL_DEFAULT_SENDER",
        "str",
        "Petitions <no-reply@localhost>",
        ("From address."),
    ),
    Setting(
        "ACCESSIBILITY_CONTACT",
        "str",
        None,
        (
            "Email address the accessibility statement (`/accessibility`) gives for reporting a "
            "problem. Unset: the statement asks readers to write to the site's operators."
        ),
    ),
    Setting(
        "OUTBOX_MAX_ATTEMPTS",
        "int",
        25,
        (
            "Delivery attempts before a message is given up (with the default backoff, 5 s "
            "doubling to 15 min: about 5 hours in all). Sent and given-up messages keep no "
            "address or body."
        ),
    ),
    Setting(
        "OUTBOX_RETRY_SECONDS",
        "float",
        5.0,
        (
            "Wait before a message that could not be sent is tried again; it doubles with each "
            "further failure (±20 % jitter, to spread a backlog) up to `OUTBOX_MAX_RETRY_SECONDS`."
        ),
    ),
    Setting(
        "OUTBOX_MAX_RETRY_SECONDS",
        "float",
        15 * 60.0,
        ("The longest wait between two tries of one message."),
        note="15 minutes",
    ),
    Setting(
        "OUTBOX_BATCH_SIZE",
        "int",
        50,
        ("Messages a worker claims at a time (sent over one SMTP connection)."),
    ),
    Setting(
        "OUTBOX_LEASE_SECONDS",
        "int",
        120,
        (
            "How long a claim lasts; a worker that dies leaves its messages to others after this. "
            "A worker stops a batch early rather than send past its lease, so nothing goes twice."
        ),
    ),
    Setting(
        "OUTBOX_POLL_SECONDS",
        "float",
        0.25,
        ("How long an idle worker waits before looking for due mail again."),
    ),
    Setting(
        "CONFIRMATION_MAX_AGE_SECONDS",
        "int",
        7 * 24 * 3600,
        ("How long a confirmation link works."),
        note="7 days",
    ),
    Setting(
        "CONFIRMATION_MAX_SENDS",
        "int",
        3,
        ("Confirmation emails one pending signature may receive (signing again resends the link)."),
    ),
    Setting(
        "UNCONFIRMED_RETENTION_DAYS",
        "int",
        30,
        ("Signatures never confirmed are deleted, with their email address, after this many days."),
    ),
    Setting(
        "EMAIL_CHECK_DELIVERABILITY",
        "bool",
        False,
        ("Look up the email domain in DNS when signing."),
    ),
    Setting(
        "EMAIL_ALIAS_RULES",
        "str",
        "",
        (
            'More addresses that are one mailbox, for "one signature per person" (built in, see '
            "`petitions/emailaddr.py`: `+tags` everywhere, Gmail's dots and googlemail.com, "
            "Yahoo's `-` aliases, the Yandex domains as one with `.` read as `-`; the mail.ru "
            "domains stay apart). Rules separated by `;`, each `domains: options`, the domains "
            "separated by commas: `tag=CHARS` a tag starts at any of these and is cut off "
            "(default `+`; `tag=` none), `ignore=CHARS` left out of the name, `same=CHARS` all "
            "read as the first, `one-mailbox` the domains are one mailbox (all become the first). "
            "A rule replaces the built-in one for the domains it names; `domain:` alone gives the "
            'generic rule. E.g. `EMAIL_ALIAS_RULES="example.kg, example.org: one-mailbox tag=+-; '
            'corp.kg: ignore=."`. A rule that cannot be read stops the start with a message '
            "saying which. Once signatures exist, add rules but do not change or remove one: the "
            "forms it gave are no longer looked for."
        ),
        # create_app() replaces the text with the parsed rules, and refuses to start if it
        # cannot read them.
        shown="unset: the built-in rules",
    ),
    Setting(
        "COUNT_SHARDS",
        "int",
        16,
        (
            "Counter rows per petition (more = more parallel confirmations). Can be changed at "
            "any time; run `counts reconcile --repair` afterwards to tidy the shards."
        ),
    ),
    Setting(
        "COUNT_MEMO_SECONDS",
        "float",
        1.0,
        ("Seconds each app process remembers a total for `count.json` (0 turns it off)."),
    ),
    Setting(
        "COUNT_CACHE_MAX_AGE",
        "int",
        2,
        ("Seconds browsers and proxies may cache `count.json`."),
    ),
    Setting(
        "PAGE_CACHE_SECONDS",
        "int",
        10,
        (
            "Seconds a shared cache (nginx, a CDN) may serve an anonymous reader's public page "
            "(`s-maxage`): home, listings, search, petition pages, feed, widget. 0: not shared."
        ),
    ),
    Setting(
        "PAGE_STALE_SECONDS",
        "int",
        60,
        (
            "Seconds a shared cache may go on serving such a page once it is older than "
            "`PAGE_CACHE_SECONDS` while it fetches a fresh one (`stale-while-revalidate`)."
        ),
    ),
    Setting(
        "PAGE_MEMO_SECONDS",
        "float",
        1.0,
        (
            "Seconds each app process reuses an anonymous reader's rendered public page for the "
            "next anonymous reader of the same URL (0 turns it off)."
        ),
    ),
    Setting(
        "ANSWER_MEMO_SECONDS",
        "float",
        1.0,
        (
            "Seconds each app process replays an answer the app made shareable (`Cache-Control: "
            "public`: count.json, anonymous public pages) to the next reader without a cookie "
            "or a condition, without running the app (petitions/answers.py; 0 turns it off)."
        ),
    ),
    Setting(
        "STATS_MEMO_SECONDS",
        "float",
        30.0,
        (
            "Seconds each app process reuses a petition's public statistics (breakdowns, time "
            "series; the API and the page's chart) before reading its signatures again. `0` turns "
            "it off."
        ),
    ),
    Setting(
        "ROLLUP_SECONDS",
        "float",
        5.0,
        (
            "How often a worker rolls the signatures changed since its last pass into the "
            "roll-ups behind the public statistics and listings (services/rollups.py). The "
            "numbers are exact either way; a longer interval makes each read add more "
            "signatures from its live tail."
        ),
    ),
    Setting(
        "ROLLUP_BATCH_SIZE",
        "int",
        5000,
        (
            "Changed signatures of one petition a worker rolls up per transaction; a pass rolls up "
            "at most four times as many (so mail is not kept waiting), the next pass goes on."
        ),
    ),
    Setting(
        "STATS_MEMO_ENTRIES",
        "int",
        1000,
        (
            "Petitions whose statistics one process keeps at most (the least recently read go "
            "first)."
        ),
    ),
    Setting(
        "API_CACHE_MAX_AGE",
        "int",
        10,
        (
            "Seconds browsers and proxies may cache the API's answers (served stale for 5× longer "
            "while they revalidate)."
        ),
    ),
    Setting(
        "LIVE_STREAM_SECONDS",
        "int",
        30,
        (
            "A live-count stream ends after this long and the browser reconnects (each open "
            "stream holds a server thread)."
        ),
    ),
    Setting(
        "LIVE_MAX_STREAMS",
        "int",
        None,
        (
            "Live-count streams one app process serves at once; more get 503 and their pages poll "
            "`count.json` instead. `0`: polling only. Each open stream holds a server thread, so "
            "the app refuses to start with more than a quarter of `WEB_THREADS` (rounded down: "
            "none below 4 threads); see *Live counts and embedding*."
        ),
        shown="a quarter of `WEB_THREADS` (`2`)",
    ),
    Setting(
        "LIVE_POLL_SECONDS",
        "int",
        10,
        ("How often a page without a stream polls `count.json`."),
    ),
    Setting(
        "LIVE_HEARTBEAT_SECONDS",
        "int",
        15,
        ("A comment line sent this often on a quiet stream, so proxies keep it open."),
    ),
    Setting(
        "WEB_THREADS",
        "int",
        8,
        (
            "Threads per gunicorn worker process (gthread), read by `gunicorn.conf.py` and by the "
            "app, which derives `LIVE_MAX_STREAMS` from it. Set it here, not with `--threads`: "
            "gunicorn refuses to serve an app sized for more threads than it runs."
        ),
    ),
    Setting(
        "WEB_WORKERS",
        "int",
        None,
        ("gunicorn worker processes (`gunicorn.conf.py` only)."),
        shown="2 × CPU cores + 1",
        read_by="gunicorn",
    ),
    Setting(
        "WEB_BIND",
        "list",
        ["127.0.0.1:8000"],
        (
            "Where gunicorn listens, comma-separated (`gunicorn.conf.py` only), e.g. "
            "`unix:/run/petitions.sock`."
        ),
        read_by="gunicorn",
    ),
    Setting(
        "WEB_TIMEOUT",
        "int",
        30,
        (
            "Seconds before gunicorn restarts a worker that stopped answering it "
            "(`gunicorn.conf.py` only; waiting streams do not count)."
        ),
        read_by="gunicorn",
    ),
    Setting(
        "WEB_GRACEFUL_TIMEOUT",
        "int",
        30,
        (
            "Seconds a stopping or restarting worker gives requests under way, streams included, "
            "to finish (`gunicorn.conf.py` only)."
        ),
        read_by="gunicorn",
    ),
    Setting(
        "WEB_KEEPALIVE",
        "int",
        75,
        (
            "Seconds gunicorn keeps an idle connection open for the next request "
            "(`gunicorn.conf.py` only). Longer than nginx's upstream `keepalive_timeout` (60 s "
            "in `deploy/nginx/`): else gunicorn may close a connection just as nginx sends a "
            "POST down it, and nginx never retries a POST (its 503 page for that signer)."
        ),
        read_by="gunicorn",
    ),
    Setting(
        "WEB_MAX_REQUESTS",
        "int",
        0,
        (
            "Requests after which gunicorn replaces a worker process by a fresh one, gracefully "
            "(the old one finishes its requests first), so that a slow leak never grows for long "
            "(`gunicorn.conf.py` only; `deploy/petitions.env.example` sets 20000). `0`: never. "
            "With one worker, requests wait while its successor starts."
        ),
        read_by="gunicorn",
    ),
    Setting(
        "WEB_MAX_REQUESTS_JITTER",
        "int",
        None,
        (
            "Up to this many requests more or fewer, at random per worker, so that the workers "
            "of `WEB_MAX_REQUESTS` are not all replaced at once (`gunicorn.conf.py` only)."
        ),
        shown="a tenth of `WEB_MAX_REQUESTS`",
        read_by="gunicorn",
    ),
    Setting(
        "WEB_LIMIT_REQUEST_LINE",
        "int",
        4094,
        (
            "Longest request line (method, path and query) gunicorn accepts, in bytes; longer "
            "gets 414 before the app sees it (`gunicorn.conf.py` only)."
        ),
        read_by="gunicorn",
    ),
    Setting(
        "WEB_LIMIT_REQUEST_FIELDS",
        "int",
        100,
        ("Most header fields a request may have (`gunicorn.conf.py` only)."),
        read_by="gunicorn",
    ),
    Setting(
        "WEB_LIMIT_REQUEST_FIELD_SIZE",
        "int",
        8190,
        ("Longest header field gunicorn accepts, in bytes (`gunicorn.conf.py` only)."),
        read_by="gunicorn",
    ),
    Setting(
        "SPONSORS_REQUIRED",
        "int",
        5,
        (
            "Confirmed sponsor signatures (made through the organiser's share link, confirmed by "
            "email) a submitted petition needs before it enters the moderation queue. `0`: it "
            "goes there as soon as it is submitted. Sponsors count as ordinary signatures once "
            "the petition opens."
        ),
    ),
    Setting(
        "LOGIN_MAX_FAILURES",
        "int",
        5,
        ("Wrong passwords in a row after which an account is locked."),
    ),
    Setting(
        "LOGIN_LOCK_SECONDS",
        "int",
        15 * 60,
        (
            "How long a locked account refuses every login (even with the right password). A "
            "password reset lifts the lock."
        ),
        note="15 min",
    ),
    Setting(
        "ACCOUNT_TOKEN_MAX_AGE_SECONDS",
        "int",
        2 * 3600,
        (
            "How long the links emailed to account holders work: confirm an account, reset a "
            "password, confirm a new address."
        ),
        note="2 h",
    ),
    Setting(
        "DEFAULT_PETITION_DAYS",
        "int",
        182,
        (
            "How long a petition stays open for signatures once a moderator approves it (also the "
            "default of `petition open`)."
        ),
        note="about 6 months",
    ),
    Setting(
        "RESPONSE_MAIL_BATCH_SIZE",
        "int",
        500,
        (
            "Emails to opted-in signers (official response, organiser's update, petition closed) "
            "queued per transaction: one batch of signers."
        ),
    ),
    Setting(
        "RESPONSE_MAIL_MAX_BATCHES",
        "int",
        20,
        (
            "Batches the moderator's request, and then each worker round (once a minute), queues "
            "at most; the worker queues the rest."
        ),
    ),
    Setting(
        "MILESTONES",
        "int_list",
        (100, 1000, 10000, 100000),
        (
            "Totals at which the organiser is emailed (besides the petition's own goal), "
            "comma-separated; empty for none. Each milestone is emailed once; the worker notices "
            "it within a minute."
        ),
    ),
    Setting(
        "PASSWORD_HASH_PROFILE",
        "str",
        "RFC_9106_LOW_MEMORY",
        (
            "argon2-cffi parameter profile for password hashes; hashes made with other parameters "
            "are upgraded at the next login."
        ),
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        "bool",
        False,
        ("Send cookies only over HTTPS."),
    ),
    Setting(
        "HSTS_SECONDS",
        "int",
        0,
        (
            "`Strict-Transport-Security` max-age sent on every response: browsers that saw it "
            "reach the site over HTTPS only, for that long (one year in production). `0`: no "
            "header."
        ),
    ),
    Setting(
        "HSTS_INCLUDE_SUBDOMAINS",
        "bool",
        False,
        ("Add `includeSubDomains` (only if every subdomain serves HTTPS)."),
    ),
    Setting(
        "HSTS_PRELOAD",
        "bool",
        False,
        ("Add `preload` (for browsers' built-in list; hard to undo)."),
    ),
    Setting(
        "PROXY_FIX_HOPS",
        "int",
        0,
        ("Number of reverse proxies whose `X-Forwarded-*` headers are trusted."),
    ),
    Setting(
        "TRUSTED_HOSTS",
        "list",
        None,
        (
            "Comma-separated host names the app answers to; any other `Host` gets a plain 400, so "
            "a forged header cannot put another site into the absolute links (share metadata, "
            "embed code, API links) that a cache then serves."
        ),
        shown="unset; in production the host of `PUBLIC_BASE_URL`",
    ),
    Setting(
        "TRUSTED_PROXIES",
        "list",
        None,
        (
            "Comma-separated IP ranges (CIDR) of reverse proxies whose `X-Forwarded-For` is "
            "believed, walking the header from the right past them (instead of a fixed "
            "`PROXY_FIX_HOPS`). Unset and no hops: the socket's address is the client's; a "
            "client's own `X-Forwarded-For` gains it nothing."
        ),
    ),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "str",
        "memory://",
        (
            "Where rate-limit counters live: `memory://` (one process) or "
            "`redis://127.0.0.1:6379/0`, which several app instances share."
        ),
    ),
    Setting(
        "RATELIMIT_KEY_PREFIX",
        "str",
        "petitions",
        (
            "Prefix of this site's rate-limit keys in the storage, so that several sites (or "
            "a staging copy) can share one Redis without sharing limits."
        ),
    ),
    Setting(
        "RATELIMIT_ENABLED",
        "bool",
        True,
        ("Rate limits on every state-changing public endpoint (on in every environment)."),
    ),
    Setting(
        "RATE_SIGN_ADDRESS",
        "str",
        "3/minute;20/hour",
        ("Signatures from one client address (burst;sustained), Flask-Limiter notation."),
    ),
    Setting(
        "RATE_SIGN_NETWORK",
        "str",
        "30/minute;300/hour",
        ("Signatures from one network (IPv4 /24, IPv6 /48): households and mobile carriers."),
    ),
    Setting(
        "RATE_SIGN_DOMAIN",
        "str",
        "10/minute;100/hour",
        (
            "Signatures of one petition from one email domain, except the big providers of "
            "`RATE_SIGN_DOMAIN_EXEMPT`."
        ),
    ),
    Setting(
        "RATE_SIGN_DOMAIN_EXEMPT",
        "list",
        [
            "gmail.com",
            "googlemail.com",
            "mail.ru",
            "bk.ru",
            "inbox.ru",
            "list.ru",
            "yandex.*",
            "ya.ru",
            "yahoo.*",
            "outlook.com",
            "hotmail.com",
            "live.com",
            "icloud.com",
        ],
        ("Email domains (globs) too big for the per-domain signing rate."),
        shown="the big providers (`gmail.com`, `mail.ru`, `yandex.*`, `yahoo.*`, ...)",
    ),
    Setting(
        "RATE_SIGN_PETITION",
        "str",
        "10000/minute",
        (
            "Signatures of one petition from everyone: five times the UK record (~2,000 a "
            "minute), so only a flood beyond any campaign's is held for review."
        ),
    ),
    Setting(
        "RATE_CONFIRM",
        "str",
        "30/minute;300/hour",
        ("Confirmation-link clicks from one client address."),
    ),
    Setting(
        "RATE_SIGNUP",
        "str",
        "5/hour;20/day",
        ("Sign-ups from one client address."),
    ),
    Setting(
        "RATE_LOGIN_ADDRESS",
        "str",
        "10/minute;100/hour",
        (
            "Password checks from one client address: logins, password changes, account "
            "deletions (each costs an argon2 hash)."
        ),
    ),
    Setting(
        "RATE_LOGIN_ACCOUNT",
        "str",
        "5/minute;30/hour",
        ("Login attempts for one account, from anywhere."),
    ),
    Setting(
        "RATE_PASSWORD_RESET",
        "str",
        "5/hour;20/day",
        ("Password-reset requests from one client address."),
    ),
    Setting(
        "RATE_EMAIL_CHANGE",
        "str",
        "5/hour;20/day",
        ("Changes of email address from one client address."),
    ),
    Setting(
        "RATE_NEW_PETITION",
        "str",
        "5/hour;20/day",
        ("New petitions from one client address."),
    ),
    Setting(
        "RATE_UNSUBSCRIBE",
        "str",
        "30/minute",
        ("Unsubscribe clicks from one client address."),
    ),
    Setting(
        "OVER_LIMIT_SIGNATURES",
        "str",
        "flag",
        (
            "A signature over a signing rate: `flag` (accepted and confirmed by email like any "
            "other, counted only once a moderator validates it; bots cannot see the limit) or "
            "`refuse` (a 429 page)."
        ),
    ),
    Setting(
        "MAIL_CAP_PER_RECIPIENT",
        "int",
        5,
        (
            "Account and signing emails one address receives per UTC day, whatever asks for them "
            "(sign-ups, resets, confirmations): the site cannot be used to mail-bomb anyone."
        ),
    ),
    Setting(
        "SIGN_MIN_SECONDS",
        "float",
        3.0,
        ("A signature posted sooner than this after its page was served is flagged for review."),
    ),
    Setting(
        "PROOF_OF_WORK",
        "bool",
        False,
        (
            "Ask the browser for a small proof of work (static/pow.js) when signing; without it "
            "(JavaScript off) the signature is flagged for review, never refused."
        ),
    ),
    Setting(
        "PROOF_OF_WORK_BITS",
        "int",
        16,
        ("Leading zero bits the proof needs; rises automatically for a source under attack."),
    ),
    Setting(
        "INVESTIGATION_DAYS",
        "int",
        30,
        (
            "Days after a petition closes that signers' client addresses are kept for fraud "
            "investigation; then each is truncated to its network. Also the days a bulk "
            "invalidation keeps the removed signers' email addresses, so that it can be undone."
        ),
    ),
    Setting(
        "TRENDING_THRESHOLD",
        "int",
        100,
        (
            "Signatures of one petition from one network in an hour that make it a trending "
            "source (0: none)."
        ),
    ),
    Setting(
        "TRENDING_DOMAIN_THRESHOLD",
        "int",
        100,
        (
            "Signatures of one petition from one email domain in an hour that make it a "
            "trending source (0: none). Domains of `RATE_SIGN_DOMAIN_EXEMPT` and domains "
            "with an ALLOW rule never trend."
        ),
    ),
    Setting(
        "TRENDING_WEBHOOK_URL",
        "str",
        None,
        (
            "Where the worker posts each trending source (JSON); unset: listed on the "
            "moderators' pages only."
        ),
    ),
    Setting(
        "SITE_SETTINGS_SECONDS",
        "float",
        5.0,
        (
            "How long an instance keeps the admins' runtime settings and rules before reading "
            "them again: a change is in force everywhere within this time."
        ),
    ),
)

#: The rows Config is made of (the others are read outside the app's config).
APP_SETTINGS = tuple(s for s in SETTINGS if s.read_by == "app")
#: Every variable the app, create_app() or gunicorn.conf.py reads.
ENVIRONMENT_VARIABLES = tuple(s.variable for s in SETTINGS)
_BY_VARIABLE = {s.variable: s for s in SETTINGS}


def setting(variable: str) -> Setting:
    """The row of an environment variable, e.g. setting("WEB_BIND").read()."""
    return _BY_VARIABLE[variable]


def _with_settings(cls: type) -> type:
    """Give the class every app setting's default as an attribute; the rows alone say them."""
    for row in APP_SETTINGS:
        if row.name in vars(cls):
            raise TypeError(f"{row.name} is a row of SETTINGS: give its default there")
        setattr(cls, row.name, row.default)
    return cls


@_with_settings
class Config:
    """Defaults shared by every environment: the SETTINGS rows, and these that the environment
    does not change."""

    #: pool_pre_ping tests a pooled connection before use: after a database restart the next
    #: request reconnects instead of failing on a dead connection (every environment, keep it).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    #: How many "you already signed" notices one signature may trigger.
    ALREADY_SIGNED_MAX_NOTICES = 2
    PETITIONS_PER_PAGE = 20

    WTF_CSRF_TIME_LIMIT = 6 * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "http"

    BABEL_DEFAULT_LOCALE = "en"
    #: None: every language with a catalog (petitions/translations), the default first.
    LANGUAGES = None

    MAX_CONTENT_LENGTH = 256 * 1024

    @classmethod
    def from_environment(cls) -> dict:
        """Settings taken from the environment, layered over the class defaults."""
        return {row.name: row.read(getattr(cls, row.name)) for row in APP_SETTINGS}


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True
    #: Hundreds of sign-ups and logins; production-strength hashing has tests of its own.
    PASSWORD_HASH_PROFILE = "CHEAPEST"  # noqa: S105 (a profile name)
    #: Tests read totals right after changing them; the memo has tests of its own.
    COUNT_MEMO_SECONDS = 0.0
    STATS_MEMO_SECONDS = 0.0
    PAGE_MEMO_SECONDS = 0.0
    ANSWER_MEMO_SECONDS = 0.0
    SQLALCHEMY_DATABASE_URI = "sqlite:///:memory:"
    PUBLIC_BASE_URL = "http://localhost"
    #: The limiter is on, as everywhere, but a test of another feature signs and logs in from
    #: one address many times a minute; the abuse tests set the production rates they test.
    RATE_SIGN_ADDRESS = RATE_SIGN_NETWORK = RATE_SIGN_DOMAIN = "10000/minute"
    RATE_CONFIRM = RATE_SIGNUP = RATE_LOGIN_ADDRESS = RATE_LOGIN_ACCOUNT = "10000/minute"
    RATE_PASSWORD_RESET = RATE_EMAIL_CHANGE = RATE_NEW_PETITION = "10000/minute"  # noqa: S105
    RATE_UNSUBSCRIBE = "10000/minute"
    MAIL_CAP_PER_RECIPIENT = 1000
    SIGN_MIN_SECONDS = 0.0
    #: Tests change settings and expect them at once.
    SITE_SETTINGS_SECONDS = 0.0


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    HSTS_SECONDS = 365 * 24 * 3600


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}

DOCS_START = "<!-- config-docs: start (flask --app petitions config-docs --readme README.md) -->"
DOCS_END = "<!-- config-docs: end -->"


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, list | tuple):
        return f"`{','.join(str(part) for part in value)}`"
    return f"`{value}`"


def _default_cell(row: Setting) -> str:
    cell = row.shown or _shown(row.default)
    if row.note:
        cell += f" ({row.note})"
    if row.read_by == "app":
        for env_name, cls in CONFIGS.items():
            value = getattr(cls, row.name)
            if value != row.default:
                cell += f"; {_shown(value)} in {env_name}"
    return cell


def markdown_table() -> str:
    """README.md's configuration table, one line per row of SETTINGS."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for row in SETTINGS:
        cells = (f"`{row.variable}`", _default_cell(row), row.meaning)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str) -> str:
    """`readme` with the text between the DOCS_START and DOCS_END lines replaced by the table."""
    before, start, rest = readme.partition(DOCS_START + "\n")
    _, end, after = rest.partition(DOCS_END)
    if not start or not end:
        raise ValueError(f"README needs the lines {DOCS_START!r} and {DOCS_END!r}")
    return before + start + markdown_table() + end + after
