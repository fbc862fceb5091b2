"""The mail worker: a loop that drains the outbox, as a CLI command or a thread for `make run`."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import click
from flask import Flask, current_app, has_app_context
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError

from . import mailcap, outbox
from .extensions import db
from .models import utcnow
from .services import bulk, pauses, retention, rollups, screening, site_settings, trending
from .services.milestones import detect_milestones
from .services.opendata import record_daily_counts
from .services.petitions import close_expired
from .services.signer_mail import queue_signer_mail
from .services.signing import SigningPolicy, purge_unconfirmed

logger = logging.getLogger(__name__)


def log_to_console() -> None:
    """Show the worker's log lines (and, without MAIL_SERVER, the emails) on the console."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


#: Seconds between housekeeping rounds (closing petitions, purging unconfirmed signatures).
HOUSEKEEPING_INTERVAL = 60
#: Batches' worth of changed signatures one pass rolls up at most, so that mail is not kept
#: waiting; the next pass goes on.
ROLLUP_MAX_BATCHES = 4


def roll_up(session, config, *, bounded: bool = True) -> int:
    """Roll the signatures changed since the last pass into the public roll-ups
    (services/rollups.py); commits. Returns how many were rolled up."""
    batch_size = config["ROLLUP_BATCH_SIZE"]
    return rollups.roll_up(
        session,
        locales=config["LANGUAGES"],
        batch_size=batch_size,
        max_rows=ROLLUP_MAX_BATCHES * batch_size if bounded else None,
    )


def housekeeping(session, config, *, now) -> None:
    """Close petitions past their deadline (not paused ones); delete signatures never
    confirmed in time; queue the signer emails (official responses, updates, closings) a
    request left to do (bounded, see services/signer_mail.py); email organisers about
    milestones (services/milestones.py); record the day's public totals once a day
    (services/opendata.py); once an hour, find trending sources (services/trending.py) and
    forget old request facts (services/retention.py); forget the mail counts of past days
    (mailcap.py)."""
    settings = site_settings.load(session, config)
    closed = close_expired(
        session,
        now=now,
        base_url=config["PUBLIC_BASE_URL"],
        site_paused=pauses.site_signing_paused(settings),
    )
    purged = purge_unconfirmed(
        session, older_than=now - timedelta(days=config["UNCONFIRMED_RETENTION_DAYS"])
    )
    session.commit()
    detect_milestones(
        session, thresholds=config["MILESTONES"], now=now, base_url=config["PUBLIC_BASE_URL"]
    )
    queue_signer_mail(
        session,
        base_url=config["PUBLIC_BASE_URL"],
        batch_size=config["RESPONSE_MAIL_BATCH_SIZE"],
        max_batches=config["RESPONSE_MAIL_MAX_BATCHES"],
    )
    record_daily_counts(session, now=now)
    mailcap.purge(session, today=now.date())
    session.commit()
    hourly(session, config, now=now, settings=settings)
    if closed or purged:
        logger.info("closed petitions %s; purged %d unconfirmed signatures", closed, purged)


def hourly(session, config, *, now, settings: site_settings.SiteSettings) -> None:
    """The hourly work, done once per UTC hour by each worker process (a second worker, or
    a restart, repeats it harmlessly: both steps are idempotent)."""
    hour = trending.last_complete_hour(now)
    done = current_app.extensions if has_app_context() else {}
    if done.get("worker_hour_done") == hour:
        return
    trending.find_trending(
        session,
        hour=hour,
        threshold=int(settings["trending_threshold"]),
        domain_threshold=int(settings["trending_domain_threshold"]),
        exempt_domains=[
            *config["RATE_SIGN_DOMAIN_EXEMPT"],
            *screening.load_rules(session).allowed_domains(),
        ],
    )
    session.commit()
    if config.get("TRENDING_WEBHOOK_URL"):
        trending.notify_webhook(
            session,
            url=config["TRENDING_WEBHOOK_URL"],
            now=now,
            base_url=config["PUBLIC_BASE_URL"],
        )
        session.commit()
    retention.forget_request_facts(
        session, now=now, investigation_days=config["INVESTIGATION_DAYS"]
    )
    retention.forget_removed_addresses(
        session, now=now, investigation_days=config["INVESTIGATION_DAYS"]
    )
    done["worker_hour_done"] = hour


def run_forever(app: Flask, stop: threading.Event) -> None:
    """Deliver due mail, work through running bulk actions on signatures (a few batches a
    round, services/bulk.py), every ROLLUP_SECONDS roll up the signatures changed since
    (services/rollups.py), and now and then do the housekeeping, until `stop` is set.

    Survives the database or the mail server going away: it logs, waits and tries again.
    """
    poll = app.config["OUTBOX_POLL_SECONDS"]
    policy = SigningPolicy.from_config(app.config)
    next_housekeeping = next_rollup = 0.0
    while not stop.is_set():
        handled = 0
        try:
            with app.app_context():
                report = outbox.deliver_batch(db.session, app.config)
                handled = report.handled
                handled += bulk.run_next(db.session, now=utcnow(), policy=policy)
                if time.monotonic() >= next_rollup:
                    roll_up(db.session, app.config)
                    next_rollup = time.monotonic() + app.config["ROLLUP_SECONDS"]
                if time.monotonic() >= next_housekeeping:
                    housekeeping(db.session, app.config, now=utcnow())
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL
                db.session.remove()
        except OperationalError as exc:
            logger.warning("database unavailable, worker waits: %s", exc.orig)
            stop.wait(5)
            continue
        except Exception:
            logger.exception("worker round failed; trying again shortly")
            stop.wait(5)
            continue
        if handled == 0:
            stop.wait(poll)


def start_in_process(app: Flask) -> threading.Thread:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(app, stop), name="outbox-worker", daemon=True
    )
    thread.start()
    return thread


@click.command("worker")
@with_appcontext
@click.option(
    "--once",
    is_flag=True,
    help="Deliver everything due, finish bulk actions and roll-ups, then exit.",
)
def worker_command(once: bool) -> None:
    """Deliver queued mail (run one or more of these next to the web processes)."""
    app = current_app._get_current_object()
    log_to_console()
    if once:
        report = outbox.deliver_all(db.session, app.config)
        click.echo(
            f"sent {report.sent}, retrying {report.retried}, failed {report.failed}, "
            f"withheld {report.withheld}"
        )
        batches = 0
        policy = SigningPolicy.from_config(app.config)
        while ran := bulk.run_next(db.session, now=utcnow(), policy=policy):
            batches += ran
        if batches:
            click.echo(f"ran {batches} batch(es) of bulk actions")
        rolled = roll_up(db.session, app.config, bounded=False)
        if rolled:
            click.echo(f"rolled up {rolled} changed signature(s)")
        return
    click.echo("outbox worker running; Ctrl-C stops it")
    stop = threading.Event()
    try:
        run_forever(app, stop)
    except KeyboardInterrupt:
        stop.set()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve_command(host: str, port: int) -> None:
    """Development server with the mail worker in a thread (what `make run` starts)."""
    app = current_app._get_current_object()
    log_to_console()
    start_in_process(app)
    from werkzeug.serving import run_simple

    run_simple(host, port, app, use_reloader=False, threaded=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(serve_command)
