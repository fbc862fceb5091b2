"""Operator commands: `flask --app petitions petition ...`, `counts ...`, `seed`."""

from __future__ import annotations

import json
import time
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from . import clock, demo
from .extensions import db
from .models import REMOVED_STATUSES, Petition, SignatureStatus, utcnow
from .services import counts, opendata, petitions, removal, rollups, signing
from .services.petitions import PetitionDraft, PetitionError


def _petition(petition_id: int) -> Petition:
    petition = db.session.get(Petition, petition_id)
    if petition is None:
        raise click.ClickException(f"No petition with id {petition_id}.")
    return petition


def _parse_time(value: str | date | None) -> datetime | None:
    """An ISO 8601 string, or a TOML date or date-time; UTC when it has no offset."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise click.BadParameter(f"not an ISO 8601 date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _file_number(fields: dict, *names: str, minimum: int | None = None) -> int | None:
    """A whole number from a petition file (the first of `names` present), or None."""
    for name in names:
        value = fields.get(name)
        if value is None:
            continue
        try:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError
            number = int(value)
        except ValueError:
            raise click.ClickException(f"{name} must be a whole number, not {value!r}") from None
        if minimum is not None and number < minimum:
            raise click.ClickException(f"{name} must be at least {minimum}, not {number}")
        return number
    return None


def _load_file(path: Path) -> dict:
    """A petition described in TOML or JSON (keys as the `create` options)."""
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: expected a table/object of petition fields")
    return data


petition_cli = AppGroup("petition", help="Create, open, close and list petitions.")


@petition_cli.command("create")
@click.option("--title")
@click.option("--action", help="What the petition asks for.")
@click.option("--background", default="", help="Why: context and reasons.")
@click.option("--addressee", help="Who it is addressed to.")
@click.option("--goal", type=click.IntRange(min=1), help="Signature goal.")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML or JSON file with these fields.",
)
@click.option("--open", "open_now", is_flag=True, help="Open it for signatures right away.")
@click.option("--closes", help="Closing date/time (ISO 8601, UTC if no offset).")
@click.option("--days", type=click.IntRange(min=1), help="Open for this many days.")
def create_command(
    title, action, background, addressee, goal, from_file, open_now, closes, days
) -> None:
    """Create a petition (a draft unless --open)."""
    fields = _load_file(from_file) if from_file else {}
    title = title or fields.get("title")
    action = action or fields.get("action")
    addressee = addressee or fields.get("addressee")
    if not (title and action and addressee):
        raise click.UsageError("title, action and addressee are required (options or file).")
    if goal is None:
        goal = _file_number(fields, "goal", "signature_goal")
    if days is None:
        days = _file_number(fields, "days", minimum=1)
    closes = closes or fields.get("closes")
    opening = open_now or bool(fields.get("open"))
    if (closes or days) and not opening:
        raise click.UsageError("a closing date or duration needs --open (or open = true).")
    draft = PetitionDraft(
        title=str(title),
        action=str(action),
        addressee=str(addressee),
        background=str(background or fields.get("background", "")),
        signature_goal=goal,
    )
    now = utcnow()
    try:
        petition = petitions.create_petition(db.session, draft, now=now)
        if opening:
            petitions.open_petition(
                db.session,
                petition,
                now=now,
                base_url=current_app.config["PUBLIC_BASE_URL"],
                closes_at=_parse_time(closes),
                duration_days=days or current_app.config["DEFAULT_PETITION_DAYS"],
            )
    except PetitionError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"petition {petition.id} created ({petition.state}): {petition.title}")


@petition_cli.command("open")
@click.argument("petition_id", type=int)
@click.option("--closes", help="Closing date/time (ISO 8601, UTC if no offset).")
@click.option("--days", type=click.IntRange(min=1), help="Open for this many days.")
def open_command(petition_id: int, closes: str | None, days: int | None) -> None:
    """Open a draft petition for signatures."""
    petition = _petition(petition_id)
    closes_at = _parse_time(closes)
    try:
        petitions.open_petition(
            db.session,
            petition,
            now=utcnow(),
            base_url=current_app.config["PUBLIC_BASE_URL"],
            closes_at=closes_at,
            duration_days=None
            if closes_at
            else days or current_app.config["DEFAULT_PETITION_DAYS"],
        )
    except PetitionError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"petition {petition.id} open until {petition.closes_at:%Y-%m-%d %H:%M} UTC")


@petition_cli.command("close")
@click.argument("petition_id", type=int)
def close_command(petition_id: int) -> None:
    """Close an open petition now."""
    petition = _petition(petition_id)
    try:
        petitions.close_petition(
            db.session, petition.id, now=utcnow(), base_url=current_app.config["PUBLIC_BASE_URL"]
        )
    except PetitionError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"petition {petition.id} closed")


@petition_cli.command("close-expired")
def close_expired_command() -> None:
    """Close open petitions whose deadline has passed (the worker also does this)."""
    closed = petitions.close_expired(
        db.session, now=utcnow(), base_url=current_app.config["PUBLIC_BASE_URL"]
    )
    db.session.commit()
    click.echo(f"closed {len(closed)} petition(s)")


@petition_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """List every petition with its state and confirmed-signature count."""
    rows = petitions.list_all(db.session)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"id": p.id, "state": p.state, "signature_count": n, "title": p.title}
                    for p, n in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("no petitions")
    for petition, total in rows:
        click.echo(f"{petition.id:>6}  {petition.state:<7} {total:>10}  {petition.title}")


counts_cli = AppGroup("counts", help="Check and repair running totals and roll-ups.")


@counts_cli.command("reconcile")
@click.option("--repair", is_flag=True, help="Rewrite what drifted from the signatures.")
@click.argument("petition_ids", nargs=-1, type=int)
def reconcile_command(repair: bool, petition_ids: tuple[int, ...]) -> None:
    """Compare stored totals (count shards) and roll-ups (per status, hour, day and place)
    with the signatures (all petitions unless ids are given).

    Exits with status 1 if drift was found and not repaired, so cron can alert on it.
    Signatures changed since the worker's last roll-up are not drift (every read adds them):
    they are reported, and `counts rollup` rolls them up now.
    """
    ids = list(petition_ids) or list(db.session.scalars(select(Petition.id).order_by(Petition.id)))
    locales = current_app.config["LANGUAGES"]
    drifted = unrolled = 0
    for petition_id in ids:
        result = counts.reconcile(
            db.session, _petition(petition_id), current_app.config["COUNT_SHARDS"], repair=repair
        )
        verb = "repaired" if repair else "DRIFT"
        found = False
        if result.drift:
            found = True
            click.echo(
                f"petition {petition_id}: {verb}: stored {result.stored}, "
                f"signatures {result.actual} ({result.drift:+d})"
            )
        check = (rollups.repair if repair else rollups.check)(
            db.session, petition_id, locales=locales
        )
        if check.drifted:
            found = True
            click.echo(f"petition {petition_id}: {verb}: roll-ups of {', '.join(check.drifted)}")
        drifted += found
        unrolled += check.unrolled
    click.echo(
        f"{len(ids)} petition(s) checked, {drifted} with drift"
        + (" (repaired)" if repair and drifted else "")
        + (f"; {unrolled} signature(s) changed since the last roll-up" if unrolled else "")
    )
    if drifted and not repair:
        raise SystemExit(1)


@counts_cli.command("rollup")
def rollup_command() -> None:
    """Roll every signature changed since the worker's last pass into the roll-ups now
    (the worker does this every ROLLUP_SECONDS; after an upgrade, this catches up at once)."""
    rolled = rollups.roll_up(
        db.session,
        locales=current_app.config["LANGUAGES"],
        batch_size=current_app.config["ROLLUP_BATCH_SIZE"],
    )
    click.echo(f"rolled up {rolled} changed signature(s)")


signatures_cli = AppGroup("signatures", help="Look after stored signatures.")


@signatures_cli.command("purge-unconfirmed")
@click.option(
    "--days", type=click.IntRange(min=1), help="Age in days (UNCONFIRMED_RETENTION_DAYS)."
)
def purge_unconfirmed_command(days: int | None) -> None:
    """Delete signatures never confirmed within the retention period (the worker does this too)."""
    days = days or current_app.config["UNCONFIRMED_RETENTION_DAYS"]
    removed = signing.purge_unconfirmed(db.session, older_than=utcnow() - timedelta(days=days))
    db.session.commit()
    click.echo(f"deleted {removed} unconfirmed signature(s) older than {days} days")


@signatures_cli.command("remove")
@click.argument("petition_id", type=int)
@click.argument("signature_ids", nargs=-1, type=int, required=True)
@click.option(
    "--as",
    "status",
    type=click.Choice(["invalidated", "withdrawn"]),
    required=True,
    help="invalidated: struck out by an operator; withdrawn: at the signer's request.",
)
@click.option("--note", help="Why, for the audit log (never published).")
def remove_command(
    petition_id: int, signature_ids: tuple[int, ...], status: str, note: str | None
) -> None:
    """Take confirmed signatures out of a petition's total (the public data shows how many)."""
    _petition(petition_id)
    removed = removal.remove_signatures(
        db.session,
        petition_id,
        signature_ids,
        status=SignatureStatus(status),
        now=utcnow(),
        shards=current_app.config["COUNT_SHARDS"],
        note=note,
    )
    db.session.commit()
    skipped = len(set(signature_ids)) - removed
    click.echo(
        f"{removed} signature(s) {status} on petition {petition_id}"
        + (f"; {skipped} not confirmed signatures of it, left alone" if skipped else "")
    )


opendata_cli = AppGroup("opendata", help="Public data files.")


@opendata_cli.command("snapshot")
def snapshot_command() -> None:
    """Record today's totals of every public petition (the worker does this once a day)."""
    recorded = opendata.record_daily_counts(db.session, now=utcnow())
    if recorded:
        click.echo(f"recorded today's totals of {recorded} petition(s)")
    else:
        click.echo("today's totals were already recorded (or no petition is public)")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Add demo data if the database has no petitions (so `make run` shows something real).

    Demo petitions with thousands of signatures, their history, and demo accounts whose
    password is printed here: for development only, refused with PETITIONS_ENV=production.
    """
    if current_app.config["PETITIONS_ENV"] == "production":
        raise click.ClickException(
            "seed adds demo accounts with a published password; it does not run in production "
            "(PETITIONS_ENV=production)."
        )
    if db.session.scalar(select(func.count()).select_from(Petition)):
        click.echo("petitions exist; nothing seeded")
        return
    started = time.perf_counter()
    report = demo.seed(db.session, current_app.config, now=clock.now())
    db.session.commit()
    statuses = report.signatures
    removed = sum(statuses[s] for s in REMOVED_STATUSES)
    click.echo(
        f"seeded {len(report.petitions)} demo petitions with "
        f"{statuses.total():,} signatures ({statuses[SignatureStatus.CONFIRMED]:,} confirmed, "
        f"{statuses[SignatureStatus.PENDING]:,} pending, {removed:,} invalidated or withdrawn) "
        f"in {time.perf_counter() - started:.1f} s:"
    )
    base_url = current_app.config["PUBLIC_BASE_URL"]
    for petition in report.petitions:
        click.echo(
            f"{petition.id:>6}  {petition.state:<10} {petition.total:>7,}  {petition.title}"
            f"  {base_url}/petitions/{petition.id}"
        )
    for account in report.accounts:
        if account.can_log_in:
            click.echo(
                f"demo {account.role} login (development only): {account.email} "
                f"password {demo.DEMO_PASSWORD}"
            )


@click.command("config-docs")
@click.option(
    "--readme",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Rewrite the table between the config-docs marker lines of this file instead.",
)
def config_docs_command(readme: Path | None) -> None:
    """Print README.md's configuration table, made from config.SETTINGS."""
    import config

    if readme is None:
        click.echo(config.markdown_table(), nl=False)
        return
    text = readme.read_text(encoding="utf-8")
    try:
        updated = config.readme_with_table(text)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    readme.write_text(updated, encoding="utf-8")
    click.echo(f"{readme}: " + ("table updated" if updated != text else "table up to date"))


def init_app(app: Flask) -> None:
    app.cli.add_command(config_docs_command)
    app.cli.add_command(petition_cli)
    app.cli.add_command(counts_cli)
    app.cli.add_command(signatures_cli)
    app.cli.add_command(opendata_cli)
    app.cli.add_command(seed_command)
