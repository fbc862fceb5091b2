"""Creating petitions and moving them through their states; listing them for the public."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from .. import timezones
from ..languages import catalog_languages, offered
from ..models import EventAction, Petition, PetitionState, User
from ..models.petition import ACTION_MAX, ADDRESSEE_MAX, BACKGROUND_MAX, TITLE_MAX
from ..pagination import Page, bounds
from ..text import bad_character, normalise
from . import counts, rollups
from .transitions import TransitionRefused, log_event, transition

logger = logging.getLogger(__name__)


#: Petition ids are 32-bit integers (`Petition.id`); a larger id in a URL names nothing.
MAX_PETITION_ID = 2**31 - 1
#: `Petition.signature_goal` is a 32-bit integer too.
MAX_SIGNATURE_GOAL = 2**31 - 1


class PetitionError(ValueError):
    """A petition cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class PetitionDraft:
    title: str
    action: str
    addressee: str
    background: str = ""
    signature_goal: int | None = None
    #: The catalog code of the language the texts are written in.
    language: str = "en"
    #: The IANA zone its dates are shown in (one of timezones.zone_names()).
    time_zone: str = timezones.DEFAULT_ZONE


def _clean(value: str, label: str, limit: int, *, required: bool, multiline: bool) -> str:
    value = normalise(value, multiline=multiline)
    if required and not value:
        raise PetitionError(f"{label} is required.")
    if len(value) > limit:
        raise PetitionError(f"{label} is too long ({len(value)} characters; at most {limit}).")
    if bad_character(value, multiline=multiline):
        raise PetitionError(f"{label} contains a control or invalid character.")
    return value


def checked_language(code: object, languages: Iterable[str]) -> str:
    """`code` if it is one of `languages` (the LANGUAGES setting); PetitionError otherwise."""
    if not isinstance(code, str) or code not in tuple(languages):
        raise PetitionError(f"The language must be one of {', '.join(languages)}.")
    return code


def cleaned_fields(draft: PetitionDraft, *, languages: Iterable[str] | None = None) -> dict:
    """The draft's texts normalised and checked, as column values; raises PetitionError.

    `languages`: the codes a petition may be written in (the LANGUAGES setting; None: English
    and every language with a catalog). Shared by the CLI (`create_petition`) and the
    organiser's forms (services/lifecycle.py).
    """
    language = checked_language(
        draft.language, offered("en", catalog_languages()) if languages is None else languages
    )
    if not timezones.is_offered(draft.time_zone):
        raise PetitionError("The time zone must be an IANA zone such as Asia/Bishkek, or UTC.")
    if draft.signature_goal is not None and draft.signature_goal <= 0:
        raise PetitionError("The signature goal must be a positive number.")
    if draft.signature_goal is not None and draft.signature_goal > MAX_SIGNATURE_GOAL:
        raise PetitionError(f"The signature goal must be at most {MAX_SIGNATURE_GOAL}.")
    return {
        "title": _clean(draft.title, "Title", TITLE_MAX, required=True, multiline=False),
        "action": _clean(draft.action, "Action", ACTION_MAX, required=True, multiline=True),
        "background": _clean(
            draft.background, "Background", BACKGROUND_MAX, required=False, multiline=True
        ),
        "addressee": _clean(
            draft.addressee, "Addressee", ADDRESSEE_MAX, required=True, multiline=False
        ),
        "signature_goal": draft.signature_goal,
        "language": language,
        "time_zone": draft.time_zone,
    }


def create_petition(
    session: Session,
    draft: PetitionDraft,
    *,
    now: datetime,
    actor_id: int | None = None,
    languages: Iterable[str] | None = None,
) -> Petition:
    """Store a new draft petition (an operator's, with no organiser); flushes, the caller
    commits."""
    petition = Petition(
        **cleaned_fields(draft, languages=languages), state=PetitionState.DRAFT, created_at=now
    )
    session.add(petition)
    session.flush()
    log_event(session, petition.id, EventAction.CREATED, actor_id=actor_id, now=now)
    logger.info("petition %s created: %r", petition.id, petition.title)
    return petition


def open_petition(
    session: Session,
    petition: Petition,
    *,
    now: datetime,
    base_url: str,
    closes_at: datetime | None = None,
    duration_days: int | None = None,
    actor_id: int | None = None,
) -> None:
    """Open a draft for signatures until `closes_at` (or `duration_days` from now), without
    moderation: an operator's step (the CLI); flushes."""
    if closes_at is None and duration_days is not None:
        closes_at = now + timedelta(days=duration_days)
    if closes_at is not None and closes_at <= now:
        raise PetitionError("The closing time must be in the future.")
    try:
        transition(
            session,
            petition.id,
            EventAction.OPENED,
            actor_id=actor_id,
            now=now,
            base_url=base_url,
            values={"opened_at": now, "closes_at": closes_at},
        )
    except TransitionRefused as refused:
        raise PetitionError(
            f"Petition {petition.id} is {refused.state}; only drafts can open."
        ) from None
    logger.info("petition %s opened until %s", petition.id, closes_at)


def close_petition(
    session: Session,
    petition_id: int,
    *,
    now: datetime,
    base_url: str,
    by: str = "operator",
    actor_id: int | None = None,
    closed_at: datetime | None = None,
    early: bool = False,
) -> None:
    """Stop accepting signatures (the total stays public); flushes. The one way a petition
    closes: `by` its organiser (early), an operator, or its deadline (`closed_at`, the
    deadline itself). Raises PetitionError if it is not open (any more)."""
    details: dict = {"early": True, "by": by} if early else {"by": by}
    try:
        transition(
            session,
            petition_id,
            EventAction.CLOSED,
            actor_id=actor_id,
            now=now,
            base_url=base_url,
            values={"closed_at": closed_at} if closed_at else None,
            details=details,
        )
    except TransitionRefused as refused:
        raise PetitionError(
            f"Petition {petition_id} is {refused.state}; only open ones close."
        ) from None


def close_expired(
    session: Session, *, now: datetime, base_url: str, site_paused: bool = False
) -> list[int]:
    """Close every open petition whose deadline has passed, as of its deadline; flushes.
    Returns their ids (a petition closed meanwhile by someone else is left to them).

    A paused petition (or every one, while signing is paused on the whole site) is left
    open: resuming moves its deadline on by the pause (services/pauses.py)."""
    if site_paused:
        return []
    due = session.execute(
        select(Petition.id, Petition.closes_at).where(
            Petition.state == PetitionState.OPEN,
            Petition.closes_at <= now,
            Petition.signing_paused_at.is_(None),
        )
    ).all()
    closed = []
    for petition_id, closes_at in due:
        try:
            close_petition(
                session, petition_id, now=now, base_url=base_url, by="deadline", closed_at=closes_at
            )
        except PetitionError:
            continue
        closed.append(petition_id)
    return closed


def public_petition(
    session: Session, petition_id: int, *, with_owner: bool = False, with_translations: bool = False
) -> Petition | None:
    """An open, closed or rejected petition (see Petition.is_public); drafts, petitions in
    moderation and hidden ones are not public.

    `with_owner`: the organiser's name comes in the same query (the page shows it), instead
    of a second query when the page asks for `petition.owner`; `with_translations` likewise
    for its approved translations (a LEFT JOIN: no statement more, none for a petition
    without any).
    """
    if not 0 < petition_id <= MAX_PETITION_ID:
        return None  # no such row, and SQLite cannot even compare an int beyond 64 bits
    options = []
    if with_owner:
        options.append(joinedload(Petition.owner).load_only(User.display_name))
    if with_translations:
        options.append(joinedload(Petition.approved_translations))
    petition = session.get(Petition, petition_id, options=options)
    if petition is None or not petition.is_public():
        return None
    return petition


SORTS = ("popular", "newest")


def list_open(session: Session, *, sort: str, page: int, per_page: int) -> Page:
    """Open petitions with their totals, most signed or newest first.

    The totals are the stored ones plus the live tail (services/rollups.py), read in the
    query that finds the page: no GROUP BY over the count shards of every petition.
    """
    base = select(Petition).where(Petition.state == PetitionState.OPEN)
    total, pages, page = bounds(session, base, page=page, per_page=per_page)
    query, signatures = rollups.with_total(base)
    if sort == "newest":
        query = query.order_by(Petition.opened_at.desc(), Petition.id.desc())
    else:
        query = query.order_by(signatures.desc(), Petition.id.desc())
    rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([(p, int(n)) for p, n in rows], page, pages, total)


def list_all(session: Session) -> list[tuple[Petition, int]]:
    """Every petition with its total, for operators."""
    petitions = session.scalars(select(Petition).order_by(Petition.id)).all()
    totals_by_id = counts.counts_for(session, [p.id for p in petitions])
    return [(p, totals_by_id[p.id]) for p in petitions]
