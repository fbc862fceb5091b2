"""Mail to a petition's opted-in signers, queued in bounded, resumable batches.

Three things are mailed to every signer who confirmed, asked for updates and still has an
address stored: the official response (services/moderation.py), the organiser's updates
(services/updates.py) and the news that the petition closed. Each is a *source*: a row with a
progress marker column (`Petition.response_mail_after`, `PetitionUpdate.mail_after`,
`Petition.closing_mail_after`). Setting the marker to 0 asks for the mail; `queue_signer_mail()`
then queues it in batches of signers taken in signature-id order, each batch committed together
with the marker moved past its last signer, and the marker becomes NULL once everyone has it.

A petition can have hundreds of thousands of signers, so this is never done in one transaction:
one call queues at most `batch_size * max_batches` messages (RESPONSE_MAIL_BATCH_SIZE *
RESPONSE_MAIL_MAX_BATCHES) and holds no lock longer than one batch. The request that asks for
the mail makes the first call; the worker's housekeeping calls it every round until every
marker is NULL, which also resumes a fan-out interrupted by a crash. Nobody gets a message
twice: the marker only moves forward, and a batch is claimed by a conditional UPDATE of the
marker (`... WHERE marker = :seen`), so of two workers that read the same marker one wins and
the other rolls back.

Every message carries a one-click unsubscribe link in its body and in the RFC 2369/8058
`List-Unsubscribe` headers (see signing/unsubscribe.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import links, outbox
from ..extensions import db
from ..models import Petition, PetitionUpdate, Signature, SignatureStatus

logger = logging.getLogger(__name__)


def unsubscribe_url(base_url: str, signature_id: int, email_key: str) -> str:
    return links.unsubscribe(base_url, signature_id, email_key, current_app.config["SECRET_KEY"])


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058: mail clients offer their own "unsubscribe" button, which POSTs
    `List-Unsubscribe=One-Click` to the URL."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@dataclass(frozen=True)
class Message:
    #: The email of petitions/emails.py.
    kind: str
    #: What it says beyond the petition's title (the same for every signer).
    context: dict


@dataclass(frozen=True)
class Source:
    """Something mailed to a petition's opted-in signers, and where its progress is kept."""

    #: The table holding the marker (Petition or PetitionUpdate).
    model: type[db.Model]
    #: The progress-marker column: NULL nothing to do; else the last signature id queued.
    marker: object
    #: The column naming the petition (to read its signers).
    petition_column: object
    #: Oldest requests first.
    order_by: object
    #: The message for one row (petition is the row's petition).
    compose: Callable[[Petition, object], Message]


def _response(petition: Petition, _row) -> Message:
    return Message(
        "response", {"addressee": petition.addressee, "response": petition.response_text}
    )


def _closing(petition: Petition, _row) -> Message:
    return Message("closed", {})


def _update(petition: Petition, row: PetitionUpdate) -> Message:
    return Message("update", {"update_title": row.title, "update_body": row.body})


RESPONSE = Source(
    Petition, Petition.response_mail_after, Petition.id, Petition.response_at, _response
)
CLOSING = Source(Petition, Petition.closing_mail_after, Petition.id, Petition.closed_at, _closing)
UPDATES = Source(
    PetitionUpdate,
    PetitionUpdate.mail_after,
    PetitionUpdate.petition_id,
    PetitionUpdate.created_at,
    _update,
)
#: Every source, in the order a worker round serves them.
ALL_SOURCES = (RESPONSE, CLOSING, UPDATES)


def _queue_batch(session: Session, source: Source, row, *, batch_size: int, base_url: str):
    """Queue the next batch of one row's emails; flushes. Returns how many were queued, or
    None if another process took this batch first."""
    marker_name = source.marker.key
    marker = getattr(row, marker_name)
    petition_id = row.id if isinstance(row, Petition) else row.petition_id
    signers = session.execute(
        select(Signature.id, Signature.name, Signature.email, Signature.email_key, Signature.locale)
        .where(
            Signature.petition_id == petition_id,
            Signature.status == SignatureStatus.CONFIRMED,
            Signature.wants_updates.is_(True),
            Signature.email.is_not(None),
            Signature.id > marker,
        )
        .order_by(Signature.id)
        .limit(batch_size)
    ).all()
    next_marker = signers[-1].id if len(signers) == batch_size else None
    # Claim the batch first: of two workers that read the same marker, one UPDATE matches.
    claimed = session.execute(
        update(source.model)
        .where(source.model.id == row.id, source.marker == marker)
        .values({marker_name: next_marker})
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    petition = row if isinstance(row, Petition) else session.get(Petition, petition_id)
    message = source.compose(petition, row)
    shared = {
        "title": petition.title,
        "petition_id": petition_id,
        "petition_url": links.petition(base_url, petition_id),
        **message.context,
    }
    for signer in signers:
        unsubscribe = unsubscribe_url(base_url, signer.id, signer.email_key)
        outbox.enqueue(
            session,
            kind=message.kind,
            to=signer.email,
            locale=signer.locale,
            headers=unsubscribe_headers(unsubscribe),
            context={**shared, "name": signer.name, "unsubscribe_url": unsubscribe},
        )
    session.flush()
    return len(signers)


def queue_signer_mail(
    session: Session,
    *,
    base_url: str,
    batch_size: int,
    max_batches: int,
    petition_id: int | None = None,
    sources: Sequence[Source] = ALL_SOURCES,
) -> int:
    """Queue pending signer mail of `sources` (of one petition, or all), at most `max_batches`
    batches of `batch_size` signers, each batch in its own transaction; commits.

    Returns the number of emails queued. See the module docstring for why it is batched.
    """
    queued = 0
    batches = 0
    for source in sources:
        while batches < max_batches:
            query = select(source.model).where(source.marker.is_not(None))
            if petition_id is not None:
                query = query.where(source.petition_column == petition_id)
            row = session.scalars(query.order_by(source.order_by, source.model.id).limit(1)).first()
            if row is None:
                break
            batches += 1
            session.refresh(row)
            if getattr(row, source.marker.key) is None:
                session.rollback()
                continue
            done = _queue_batch(session, source, row, batch_size=batch_size, base_url=base_url)
            if done is None:
                session.rollback()
                continue
            session.commit()
            queued += done
    if queued:
        logger.info("queued %d emails to signers", queued)
    return queued
