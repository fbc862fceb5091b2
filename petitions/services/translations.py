"""Translations of a petition's text: written by its organiser, reviewed by a moderator like the
original, shown to the readers of their language once approved.

    (none) --organiser writes--> pending --moderator approves--> approved
                                    ^    \\--moderator rejects--> rejected
                                    |                                |
                                    +---- organiser changes it ------+  (from approved too)

The organiser may write one translation per language other than the petition's own, for any
configured language, while the petition is in one of TRANSLATABLE_STATES; changing one sends
it back to pending (readers see the original meanwhile), deleting one takes it off the page.
A moderator approves or rejects what they saw (`translation_fingerprint`: an approval never
covers words the organiser changed in the meantime), and may correct typos in any translation,
which does not change its state; old and new text go in the log, as for the original.

`_change_state` is the one place that writes a translation's state: a conditional UPDATE on the
state it expects (and, for a moderator, the text they saw), and the petition's audit event
(PetitionEvent) in the same transaction. Functions flush, never commit; the caller commits.
Refusals are TranslationRefused with a `Refusal` the views turn into a message.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import links, outbox
from ..models import EventAction, Petition, PetitionTranslation, TranslationState, User
from ..models.petition import ACTION_MAX, BACKGROUND_MAX, TITLE_MAX, TRANSLATABLE_STATES
from ..text import bad_character, normalise
from .transitions import log_event

logger = logging.getLogger(__name__)

#: Longest note of a moderator (to the organiser, or about a correction).
NOTE_MAX = 2000
#: The texts of a translation, as the original's: (name, limit, required, multi-line).
FIELDS = (
    ("title", TITLE_MAX, True, False),
    ("action", ACTION_MAX, True, True),
    ("background", BACKGROUND_MAX, False, True),
)


class Refusal(enum.StrEnum):
    #: No such petition, or no translation into that language.
    NOT_FOUND = "not_found"
    #: Not one of the configured languages.
    UNKNOWN_LANGUAGE = "unknown_language"
    #: The petition's own language: the original is that version.
    OWN_LANGUAGE = "own_language"
    #: There is already a translation into that language (change it instead).
    DUPLICATE = "duplicate"
    #: The petition was rejected or hidden: its texts are settled.
    NOT_TRANSLATABLE = "not_translatable"
    #: The translation is no longer in the state the action expects (someone acted first).
    ALREADY_HANDLED = "already_handled"
    #: The text changed since the moderator (or organiser) opened the page.
    EDIT_CONFLICT = "edit_conflict"
    #: The change changes nothing.
    NOTHING_CHANGED = "nothing_changed"
    #: A text the forms should have refused: `field` names it, `detail` says why
    #: ("required", "too long", "bad character").
    INVALID = "invalid"


class TranslationRefused(Exception):
    def __init__(self, refusal: Refusal, *, field: str | None = None, detail: str = "") -> None:
        super().__init__(f"{refusal}: {field or ''} {detail}".strip())
        self.refusal = refusal
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class TranslationText:
    title: str
    action: str
    background: str = ""


# --- reading ---------------------------------------------------------------------------------


def translations_of(session: Session, petition_id: int) -> list[PetitionTranslation]:
    """Every translation of a petition, whatever its state, by language code."""
    return list(
        session.scalars(
            select(PetitionTranslation)
            .where(PetitionTranslation.petition_id == petition_id)
            .order_by(PetitionTranslation.language)
        )
    )


#: What a language code looks like ("ky", "pt_BR", "zh-Hant"); anything else in a URL names no
#: translation (and never reaches the database: PostgreSQL refuses a NUL in text).
LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})?")


def translation_of(session: Session, petition_id: int, language: str) -> PetitionTranslation | None:
    if not isinstance(language, str) or not LANGUAGE_CODE.fullmatch(language):
        return None
    return session.scalar(
        select(PetitionTranslation).where(
            PetitionTranslation.petition_id == petition_id,
            PetitionTranslation.language == language,
        )
    )


@dataclass(frozen=True)
class WaitingTranslation:
    translation: PetitionTranslation
    petition_title: str
    waiting: timedelta


def review_queue(session: Session, *, now: datetime) -> list[WaitingTranslation]:
    """Pending translations, the longest-waiting first, with their petition's title."""
    rows = session.execute(
        select(PetitionTranslation, Petition.title)
        .join(Petition, Petition.id == PetitionTranslation.petition_id)
        .where(PetitionTranslation.state == TranslationState.PENDING)
        .order_by(PetitionTranslation.submitted_at, PetitionTranslation.id)
    ).all()
    return [WaitingTranslation(t, title, now - t.submitted_at) for t, title in rows]


def approved_titles(session: Session, petition_ids: Sequence[int], language: str) -> dict[int, str]:
    """The approved titles in `language` of these petitions (for listings), in one query."""
    if not petition_ids:
        return {}
    return dict(
        session.execute(
            select(PetitionTranslation.petition_id, PetitionTranslation.title).where(
                *PetitionTranslation.approved_into(language, petition_ids)
            )
        ).all()
    )


def translation_fingerprint(translation: PetitionTranslation) -> str:
    """Identifies the text a moderator reviewed, so an approval or a correction never covers
    words changed after they looked."""
    joined = "\x00".join(
        (translation.language, translation.title, translation.action, translation.background or "")
    )
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


# --- what readers see ------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One version of a petition's text: the original or an approved translation."""

    language: str
    title: str
    action: str
    background: str
    original: bool


@dataclass(frozen=True)
class Shown:
    #: The version on the page.
    version: Version
    #: The original (named in the "translated from" note).
    original: Version
    #: Every version, the original first, then the translations by language code.
    versions: list[Version]
    #: The version was chosen by `?text=`, not by the reader's language.
    asked: bool


def shown_version(
    petition: Petition,
    approved: Iterable[PetitionTranslation],
    *,
    reader_language: str,
    asked: str | None = None,
) -> Shown:
    """Which version a reader sees: the one `asked` for (`?text=<code>`) if it exists, else
    the approved translation into the reader's language, else the original."""
    original = Version(
        petition.language, petition.title, petition.action, petition.background or "", True
    )
    versions = [original] + [
        Version(t.language, t.title, t.action, t.background or "", False)
        for t in approved
        if t.state == TranslationState.APPROVED and t.language != petition.language
    ]
    by_language = {v.language: v for v in versions}
    if isinstance(asked, str) and asked in by_language:
        return Shown(by_language[asked], original, versions, True)
    return Shown(by_language.get(reader_language, original), original, versions, False)


# --- checking --------------------------------------------------------------------------------


def _cleaned(text: TranslationText) -> dict[str, str]:
    cleaned = {}
    for name, limit, required, multiline in FIELDS:
        value = getattr(text, name)
        if not isinstance(value, str):
            raise TranslationRefused(Refusal.INVALID, field=name, detail="not text")
        value = normalise(value, multiline=multiline)
        if required and not value:
            raise TranslationRefused(Refusal.INVALID, field=name, detail="required")
        if len(value) > limit:
            raise TranslationRefused(Refusal.INVALID, field=name, detail="too long")
        if bad_character(value, multiline=multiline):
            raise TranslationRefused(Refusal.INVALID, field=name, detail="bad character")
        cleaned[name] = value
    return cleaned


def _note(note: str | None) -> str | None:
    note = normalise(note, multiline=True)
    if len(note) > NOTE_MAX:
        raise TranslationRefused(Refusal.INVALID, field="note", detail="too long")
    if bad_character(note, multiline=True):
        raise TranslationRefused(Refusal.INVALID, field="note", detail="bad character")
    return note or None


def _translatable(petition: Petition) -> None:
    if petition.state not in TRANSLATABLE_STATES:
        raise TranslationRefused(Refusal.NOT_TRANSLATABLE)


def _changes(translation: PetitionTranslation, new: dict[str, str]) -> dict[str, list[str]]:
    """{"field": [old, new]} for every field that changes, as the original's edits log it."""
    return {
        name: [getattr(translation, name) or "", value]
        for name, value in new.items()
        if (getattr(translation, name) or "") != value
    }


# --- the one place that writes a translation's state -----------------------------------------


def _change_state(
    session: Session,
    translation: PetitionTranslation,
    *,
    to: TranslationState,
    expected: Iterable[str],
    action: EventAction,
    actor_id: int | None,
    now: datetime,
    seen: str | None = None,
    values: dict | None = None,
    note: str | None = None,
    details: dict | None = None,
) -> None:
    """Move `translation` to `to` if it is in one of the `expected` states (and, when `seen`
    is given, still has the text whose fingerprint that is), with `values` written alongside,
    and log `action` on its petition. Raises TranslationRefused (ALREADY_HANDLED or
    EDIT_CONFLICT) and changes nothing otherwise."""
    expected = tuple(expected)
    values = dict(values or {})
    if to != TranslationState.PENDING:
        values.update(reviewed_at=now, reviewed_by=actor_id)
    old = {name: getattr(translation, name) for name, *_ in FIELDS}
    if seen is not None and translation_fingerprint(translation) != seen:
        raise TranslationRefused(Refusal.EDIT_CONFLICT)
    matched = session.execute(
        update(PetitionTranslation)
        .where(
            PetitionTranslation.id == translation.id,
            PetitionTranslation.state.in_(expected),
            # The text the caller read: a change meanwhile is a conflict, not overwritten.
            *(getattr(PetitionTranslation, name) == value for name, value in old.items()),
        )
        .values(state=to, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if matched != 1:
        session.refresh(translation)
        if translation.state not in expected:
            raise TranslationRefused(Refusal.ALREADY_HANDLED)
        raise TranslationRefused(Refusal.EDIT_CONFLICT)
    log_event(
        session,
        translation.petition_id,
        action,
        actor_id=actor_id,
        now=now,
        note=note,
        details={"language": translation.language, **(details or {})},
    )
    session.refresh(translation)
    logger.info(
        "translation %s/%s: %s by user %s",
        translation.petition_id,
        translation.language,
        action,
        actor_id,
    )


# --- the organiser's actions -----------------------------------------------------------------


def add_translation(
    session: Session,
    petition: Petition,
    *,
    language: str,
    text: TranslationText,
    actor_id: int,
    now: datetime,
    languages: Iterable[str],
) -> PetitionTranslation:
    """A new translation into `language` (one of `languages`, the LANGUAGES setting, and not
    the petition's own), pending until a moderator reviews it; flushes."""
    _translatable(petition)
    if not isinstance(language, str) or language not in tuple(languages):
        raise TranslationRefused(Refusal.UNKNOWN_LANGUAGE, field="language")
    if language == petition.language:
        raise TranslationRefused(Refusal.OWN_LANGUAGE, field="language")
    fields = _cleaned(text)
    if translation_of(session, petition.id, language) is not None:
        raise TranslationRefused(Refusal.DUPLICATE, field="language")
    translation = PetitionTranslation(
        petition_id=petition.id,
        language=language,
        state=TranslationState.PENDING,
        submitted_at=now,
        **fields,
    )
    # A savepoint: two racing adds meet at the unique constraint, and the loser is told so
    # without losing the caller's transaction.
    try:
        with session.begin_nested():
            session.add(translation)
            session.flush()
    except IntegrityError:
        raise TranslationRefused(Refusal.DUPLICATE, field="language") from None
    log_event(
        session,
        petition.id,
        EventAction.TRANSLATION_SUBMITTED,
        actor_id=actor_id,
        now=now,
        details={"language": language},
    )
    logger.info("translation %s/%s submitted by user %s", petition.id, language, actor_id)
    return translation


def edit_translation(
    session: Session,
    petition: Petition,
    *,
    language: str,
    text: TranslationText,
    actor_id: int,
    now: datetime,
) -> PetitionTranslation:
    """The organiser changes a translation; whatever its state, it waits for a moderator
    again (an approved one is off the page until then). Flushes."""
    _translatable(petition)
    translation = translation_of(session, petition.id, language)
    if translation is None:
        raise TranslationRefused(Refusal.NOT_FOUND)
    new = _cleaned(text)
    changes = _changes(translation, new)
    if not changes:
        raise TranslationRefused(Refusal.NOTHING_CHANGED)
    _change_state(
        session,
        translation,
        to=TranslationState.PENDING,
        expected=tuple(TranslationState),
        action=EventAction.TRANSLATION_EDITED,
        actor_id=actor_id,
        now=now,
        values={**new, "submitted_at": now, "review_note": None},
        details={"was": translation.state, **changes},
    )
    return translation


def delete_translation(
    session: Session, petition: Petition, *, language: str, actor_id: int, now: datetime
) -> None:
    """The organiser takes a translation away (from the page too, if it was approved)."""
    _translatable(petition)
    translation = translation_of(session, petition.id, language)
    if translation is None:
        raise TranslationRefused(Refusal.NOT_FOUND)
    state = translation.state
    session.execute(
        delete(PetitionTranslation)
        .where(PetitionTranslation.id == translation.id)
        .execution_options(synchronize_session=False)
    )
    session.expunge(translation)
    log_event(
        session,
        petition.id,
        EventAction.TRANSLATION_DELETED,
        actor_id=actor_id,
        now=now,
        details={"language": language, "was": state},
    )
    logger.info("translation %s/%s deleted by user %s", petition.id, language, actor_id)


# --- the moderators' actions -----------------------------------------------------------------


def _mail_organiser(
    session: Session, translation: PetitionTranslation, kind: str, base_url: str
) -> None:
    """The organiser's email about a review, in their language, queued in the transaction of
    the decision; none for a petition without an organiser."""
    petition = session.get(Petition, translation.petition_id)
    owner = session.get(User, petition.owner_id) if petition and petition.owner_id else None
    if owner is None:
        return
    outbox.enqueue(
        session,
        kind=kind,
        to=owner.email,
        locale=owner.locale,
        context={
            "name": owner.display_name,
            "title": petition.title,
            "language": translation.language,
            "note": translation.review_note,
            "petition_url": links.petition(base_url, petition.id),
            "organiser_url": links.organiser_petition(base_url, petition.id),
        },
    )


def _for_review(session: Session, petition_id: int, language: str) -> PetitionTranslation:
    translation = translation_of(session, petition_id, language)
    if translation is None:
        raise TranslationRefused(Refusal.NOT_FOUND)
    return translation


def approve_translation(
    session: Session,
    petition_id: int,
    language: str,
    *,
    moderator_id: int,
    now: datetime,
    seen: str,
    base_url: str,
    note: str | None = None,
) -> PetitionTranslation:
    """A pending translation, as the moderator saw it (`seen`), is shown to readers; its
    organiser is emailed."""
    note = _note(note)
    translation = _for_review(session, petition_id, language)
    _change_state(
        session,
        translation,
        to=TranslationState.APPROVED,
        expected=(TranslationState.PENDING,),
        action=EventAction.TRANSLATION_APPROVED,
        actor_id=moderator_id,
        now=now,
        seen=seen,
        values={"review_note": None},
        note=note,
    )
    _mail_organiser(session, translation, "translation_approved", base_url)
    return translation


def reject_translation(
    session: Session,
    petition_id: int,
    language: str,
    *,
    moderator_id: int,
    now: datetime,
    seen: str,
    note: str,
    base_url: str,
) -> PetitionTranslation:
    """A pending translation is refused; the note (required, emailed and shown on their
    petition's page) tells the organiser why."""
    note = _note(note)
    if not note:
        raise TranslationRefused(Refusal.INVALID, field="note", detail="required")
    translation = _for_review(session, petition_id, language)
    _change_state(
        session,
        translation,
        to=TranslationState.REJECTED,
        expected=(TranslationState.PENDING,),
        action=EventAction.TRANSLATION_REJECTED,
        actor_id=moderator_id,
        now=now,
        seen=seen,
        values={"review_note": note},
        note=note,
    )
    _mail_organiser(session, translation, "translation_rejected", base_url)
    return translation


def correct_translation(
    session: Session,
    petition_id: int,
    language: str,
    *,
    moderator_id: int,
    now: datetime,
    seen: str,
    text: TranslationText,
    note: str | None = None,
) -> PetitionTranslation:
    """A moderator's typo fix in a translation, in whatever state it is (an approved one stays
    approved); the old and new text go in the log."""
    new = _cleaned(text)
    note = _note(note)
    translation = _for_review(session, petition_id, language)
    if translation_fingerprint(translation) != seen:
        raise TranslationRefused(Refusal.EDIT_CONFLICT)
    changes = _changes(translation, new)
    if not changes:
        raise TranslationRefused(Refusal.NOTHING_CHANGED)
    state = TranslationState(translation.state)
    _change_state(
        session,
        translation,
        to=state,
        expected=(state,),
        action=EventAction.TRANSLATION_CORRECTED,
        actor_id=moderator_id,
        now=now,
        seen=seen,
        values=new,
        note=note,
        details=changes,
    )
    return translation
