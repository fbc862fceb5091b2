"""A petition's confirmed signatures as CSV rows, for its organiser; read and written in batches.

What the organiser receives is what the signers agreed to: every confirmed signature (so the
file adds up to the public total) with its country, region and the date it was confirmed; the
name only if the signer ticked "show my name"; the email address only if they chose to share it
with the organiser (a separate, explicit choice, off by default: asking for updates does not
share it, since the platform sends those) and it is still stored.

A petition can have hundreds of thousands of signatures, so nothing here builds the file in
memory: `signature_rows()` reads with `yield_per` (a server-side cursor on PostgreSQL) and
`csv_chunks()` turns each batch into one piece of text for a streamed response.

The file is opened in spreadsheets, which run a cell that starts with `=`, `+`, `-` or `@` as a
formula (CSV injection): such cells get a leading apostrophe (`spreadsheet_safe()`).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..countries import country_name
from ..models import Signature, SignatureStatus

#: Rows read from the database, and written out, at a time.
BATCH_SIZE = 1000

#: First characters that make a spreadsheet treat a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Excel takes a CSV without it for the local 8-bit code page and garbles Кыргызча names.
BOM = "\ufeff"


def spreadsheet_safe(value: str) -> str:
    """`value`, with an apostrophe in front if a spreadsheet would run it as a formula.

    Checked after NFKC as well, so full-width and small forms (＝, ＋, －, ＠, ﹦) that some
    programs fold to their ASCII twins are caught too. The stored text is kept as it is.
    """
    if value.startswith(FORMULA_STARTS) or unicodedata.normalize("NFKC", value).startswith(
        FORMULA_STARTS
    ):
        return "'" + value
    return value


def header() -> list[str]:
    """Column titles, in the current locale (Flask-Babel)."""
    return [
        _("Name"),
        _("Country code"),
        _("Country"),
        _("Region"),
        _("Confirmed (UTC)"),
        _("Email (shared with you)"),
    ]


def _utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def signature_rows(
    session: Session, petition_id: int, *, locale: str, batch_size: int = BATCH_SIZE
) -> Iterator[list[list[str]]]:
    """The petition's confirmed signatures, oldest first, in batches of `batch_size` rows.

    Each row: name (if shown), country code, country name in `locale`, region, confirmation
    time (UTC), email (if the signer chose to share it and it is stored). Cells are
    `spreadsheet_safe()`. Only one batch is held at a time.
    """
    result = session.execute(
        select(
            Signature.name,
            Signature.show_name,
            Signature.country,
            Signature.region,
            Signature.confirmed_at,
            Signature.share_email,
            Signature.email,
        )
        .where(
            Signature.petition_id == petition_id,
            Signature.status == SignatureStatus.CONFIRMED,
        )
        .order_by(Signature.confirmed_at, Signature.id)
        .execution_options(yield_per=batch_size)
    )
    try:
        for batch in result.partitions():
            yield [
                [
                    spreadsheet_safe(row.name if row.show_name else ""),
                    spreadsheet_safe(row.country),
                    spreadsheet_safe(country_name(row.country, locale)),
                    spreadsheet_safe(row.region or ""),
                    _utc(row.confirmed_at),
                    spreadsheet_safe(row.email if row.share_email and row.email else ""),
                ]
                for row in batch
            ]
    finally:
        result.close()


def csv_chunks(header_row: list[str], batches: Iterable[list[list[str]]]) -> Iterator[str]:
    """CSV text: a BOM and the header, then one piece of text per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([spreadsheet_safe(title) for title in header_row])
    yield BOM + flush()
    for batch in batches:
        writer.writerows(batch)
        yield flush()
