"""Kill switches: pause signing on one petition or on the whole site, pause petition creation.

A pause must not cost a petition its signing time: resuming moves the deadline on by exactly
the time paused, and the worker's deadline close leaves a paused petition alone (its deadline
is only provisional until the pause ends).

- One petition: `Petition.signing_paused_at` (moderators and admins). Pause and resume are
  conditional UPDATEs, so of two moderators clicking at once one acts and the other is told
  it was already done; each logs a petition event.
- The whole site: the `signing_paused` runtime setting (services/site_settings.py). While it
  is on, its `site_settings` row's `updated_at` is when the pause began; resuming deletes the
  row (conditionally on that moment, so two admins resuming at once move deadlines once) and
  moves every open petition's deadline on by the pause. Audited in `admin_events`.
- Both at once: each resume moves the deadline on only for time the other does not cover,
  so a petition gains exactly the time it could not be signed.
- Creation: the `creation_paused` runtime setting; nothing to move on resume.

Admins change the site-wide switches through `change_setting`/`reset_setting` here (the
settings page uses them for every setting), so "resume" means the same whichever form
an admin used.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..models import EventAction, Petition, PetitionState, SiteSetting
from ..models.petition import SPONSOR_STATES
from . import site_settings
from .transitions import log_event

logger = logging.getLogger(__name__)

SITE_SIGNING = "signing_paused"
CREATION = "creation_paused"


class PauseRefusal(enum.StrEnum):
    NOT_FOUND = "not_found"
    #: Only open petitions take signatures, so only they can be paused.
    NOT_OPEN = "not_open"
    ALREADY_PAUSED = "already_paused"
    NOT_PAUSED = "not_paused"


class PauseRefused(Exception):
    def __init__(self, refusal: PauseRefusal) -> None:
        super().__init__(refusal)
        self.refusal = refusal


def _moved(closes_at: datetime | None, paused: timedelta) -> datetime | None:
    return None if closes_at is None else closes_at + paused


def pause_signing(
    session: Session, petition_id: int, *, now: datetime, actor_id: int | None
) -> None:
    """Stop signing on one open petition from `now`; flushes, the caller commits."""
    paused = session.execute(
        update(Petition)
        .where(
            Petition.id == petition_id,
            Petition.state == PetitionState.OPEN,
            Petition.signing_paused_at.is_(None),
        )
        .values(signing_paused_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if paused != 1:
        raise PauseRefused(_why_not(session, petition_id, pausing=True))
    log_event(session, petition_id, EventAction.SIGNING_PAUSED, actor_id=actor_id, now=now)
    session.flush()


def resume_signing(
    session: Session, petition_id: int, *, now: datetime, actor_id: int | None
) -> datetime | None:
    """Let one paused petition take signatures again, its deadline moved on by the pause;
    flushes. Returns the new deadline. A petition closed while paused (by its organiser or
    an operator) can be resumed only in the sense of clearing the flag: its deadline stays."""
    row = session.execute(
        select(Petition.signing_paused_at, Petition.closes_at, Petition.state).where(
            Petition.id == petition_id
        )
    ).one_or_none()
    if row is None:
        raise PauseRefused(PauseRefusal.NOT_FOUND)
    since, closes_at, state = row
    if since is None:
        raise PauseRefused(PauseRefusal.NOT_PAUSED)
    # While the whole site is paused too, the site's resume will move this deadline on for
    # the time since the site paused: count only the time before that here.
    site_since = _site_paused_since(session)
    until = min(now, site_since) if site_since is not None else now
    paused_for = max(until - since, timedelta(0))
    new_deadline = _moved(closes_at, paused_for) if state == PetitionState.OPEN else closes_at
    resumed = session.execute(
        update(Petition)
        .where(Petition.id == petition_id, Petition.signing_paused_at == since)
        .values(signing_paused_at=None, closes_at=new_deadline)
        .execution_options(synchronize_session=False)
    ).rowcount
    if resumed != 1:
        raise PauseRefused(PauseRefusal.NOT_PAUSED)
    log_event(
        session,
        petition_id,
        EventAction.SIGNING_RESUMED,
        actor_id=actor_id,
        now=now,
        details={
            "paused_seconds": int(paused_for.total_seconds()),
            "closes_at": new_deadline.isoformat() if new_deadline else None,
        },
    )
    session.flush()
    petition = session.get(Petition, petition_id)
    if petition is not None:
        session.refresh(petition)
    return new_deadline


def _site_paused_since(session: Session) -> datetime | None:
    row = session.get(SiteSetting, SITE_SIGNING)
    return row.updated_at if row is not None and row.value else None


def _why_not(session: Session, petition_id: int, *, pausing: bool) -> PauseRefusal:
    row = session.execute(
        select(Petition.state, Petition.signing_paused_at).where(Petition.id == petition_id)
    ).one_or_none()
    if row is None:
        return PauseRefusal.NOT_FOUND
    if row.state != PetitionState.OPEN:
        return PauseRefusal.NOT_OPEN
    return PauseRefusal.ALREADY_PAUSED if pausing else PauseRefusal.NOT_PAUSED


# --- the whole site ---------------------------------------------------------------------------


def change_setting(
    session: Session,
    key: str,
    raw: Any,
    *,
    config: Mapping,
    actor_id: int | None,
    now: datetime,
) -> Any:
    """site_settings.change, except that the site-wide signing pause keeps its start when
    switched on again, and switching it off is `resume_site_signing`. Flushes."""
    if key != SITE_SIGNING:
        return site_settings.change(session, key, raw, config=config, actor_id=actor_id, now=now)
    wanted = site_settings.TUNABLES[key].parse(raw)
    paused = session.get(SiteSetting, key)
    if wanted and not (paused is not None and paused.value):
        return site_settings.change(session, key, True, config=config, actor_id=actor_id, now=now)
    if not wanted:
        resume_site_signing(session, config=config, actor_id=actor_id, now=now)
    return wanted


def reset_setting(
    session: Session, key: str, *, config: Mapping, actor_id: int | None, now: datetime
) -> None:
    """site_settings.reset; for the site-wide signing pause, a resume. Flushes."""
    if key == SITE_SIGNING:
        resume_site_signing(session, config=config, actor_id=actor_id, now=now)
    else:
        site_settings.reset(session, key, config=config, actor_id=actor_id, now=now)


def resume_site_signing(
    session: Session, *, config: Mapping, actor_id: int | None, now: datetime
) -> int:
    """End the site-wide pause: every open petition's deadline moves on by its length.
    Returns how many deadlines moved (0 and nothing logged if signing was not paused)."""
    row = session.get(SiteSetting, SITE_SIGNING)
    if row is None:
        return 0
    since, was_paused = row.updated_at, bool(row.value)
    ended = session.execute(
        delete(SiteSetting)
        .where(SiteSetting.key == SITE_SIGNING, SiteSetting.updated_at == since)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expunge(row)
    if ended != 1:
        return 0
    paused_for = max(now - since, timedelta(0)) if was_paused else timedelta(0)
    moved = 0
    if paused_for:
        deadlines = session.execute(
            select(Petition.id, Petition.closes_at, Petition.signing_paused_at).where(
                Petition.state == PetitionState.OPEN, Petition.closes_at.is_not(None)
            )
        ).all()
        for petition_id, closes_at, own_pause in deadlines:
            # A petition also paused on its own gets the rest when it resumes: here only the
            # time before its own pause began.
            extra = paused_for if own_pause is None else max(own_pause - since, timedelta(0))
            if not extra:
                continue
            moved += session.execute(
                update(Petition)
                .where(Petition.id == petition_id, Petition.closes_at == closes_at)
                .values(closes_at=closes_at + extra)
                .execution_options(synchronize_session=False)
            ).rowcount
    site_settings.audit(
        session,
        "setting_reset",
        SITE_SIGNING,
        actor_id=actor_id,
        now=now,
        old=was_paused,
        new=False,
        paused_seconds=int(paused_for.total_seconds()),
        deadlines_moved=moved,
    )
    session.flush()
    logger.info("site signing resumed after %s; %d deadlines moved", paused_for, moved)
    return moved


def site_signing_paused(settings: site_settings.SiteSettings) -> bool:
    return bool(settings[SITE_SIGNING])


def signing_paused_on(petition: Petition, settings: site_settings.SiteSettings) -> bool:
    """Whether a petition that would take signatures now does not because of a pause (its
    own, or the whole site's): the pages say so, and that its deadline moves on."""
    if petition.state == PetitionState.OPEN and petition.signing_paused_at is not None:
        return True
    signable = petition.state == PetitionState.OPEN or petition.state in SPONSOR_STATES
    return signable and site_signing_paused(settings)


def creation_paused(settings: site_settings.SiteSettings) -> bool:
    return bool(settings[CREATION])


def paused_petitions(session: Session) -> list[Petition]:
    """Open petitions a moderator paused, longest paused first (the kill-switch page)."""
    return list(
        session.scalars(
            select(Petition)
            .where(Petition.state == PetitionState.OPEN, Petition.signing_paused_at.is_not(None))
            .order_by(Petition.signing_paused_at)
        )
    )
