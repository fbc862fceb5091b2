"""Finding public petitions by the words of their text, in any language and script.

Each petition, and each of its translations, keeps a `search_text` column: its title, action
and background *folded* in Python (`fold()`: Unicode NFKC, case folding, combining marks taken
off Latin and Arabic letters but kept on Cyrillic ones, ё read as е, whitespace collapsed). A
query is folded the same way and split into words, and a petition matches when every word is
a substring of its own folded text, or of the folded text of one of its approved translations:
`search_text LIKE '%word%'`, the same SQL on both databases. So "БИШКЕК" finds "Бишкек",
"Ёлка" finds "елка", "cafe" finds "café", and a word finds its longer forms ("Бишкек" finds
"Бишкекте").

On PostgreSQL, trigram GIN indexes (the `pg_trgm` extension, migration 0009) serve those LIKEs;
SQLite scans, which is fine at its scale. Folding in Python rather than in SQL means the two
databases agree on every letter, and the indexes cover exactly what the query compares.

The column is written by the ORM, never by hand: `init_app()` registers listeners that fold
the text whenever a Petition or PetitionTranslation is inserted or updated, whether through the
unit of work (`session.add`, attribute changes) or an ORM statement (`session.execute(
update(Petition).values(...))`). A statement that sets all three texts gets their folded text
added; one that sets only some (or SQL expressions) marks the rows it changes as stale and
they are folded from the database right after it, in the same transaction.

Only public petitions are ever listed (`PUBLIC_STATES`), and the text of a petition withheld
for its rejection reason (`Petition.text_withheld()`) is never matched: only the decision is
public, so a search for its words must not reveal it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import Select, and_, bindparam, case, event, func, not_, or_, select
from sqlalchemy.orm import Session, attributes
from sqlalchemy.sql.elements import BindParameter

from ..models import Petition, PetitionState, PetitionTranslation, TranslationState
from ..models.petition import PUBLIC_STATES
from ..pagination import Page, bounds
from . import rollups

#: A query longer than this is cut (the search box says so with its maxlength).
QUERY_MAX = 200
#: Words after these are ignored: every word is one more LIKE for the database.
WORDS_MAX = 8
#: The escape character of the LIKE patterns.
ESCAPE = "\\"

#: `state=` filters: which public petitions each one lists (the empty one: every public one).
STATES = ("", "open", "closed", "awaiting", "answered", "rejected", "archive")
#: `sort=` orders; the first is the default.
SORTS = ("signatures", "newest", "closing")

#: The texts folded into `search_text`, in this order.
TEXT_COLUMNS = ("title", "action", "background")

_CYRILLIC = ((0x0400, 0x052F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F))


def _is_cyrillic(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CYRILLIC)


def fold(text: str) -> str:
    """`text` as search compares it: the same for every way of typing the same word.

    NFKC (compatibility forms: ligatures, full-width letters, Arabic presentation forms),
    then case folding (Ё -> ё, ß -> ss, İ -> i̇). Combining marks come off Latin and Arabic
    letters (café -> cafe, Arabic vowel signs) but stay on Cyrillic ones, where they make other
    letters (й is not и, ў is not у); only ё is read as е, as Russian writes it. Invisible
    format characters (soft hyphen, zero-width joiners) go; every run of whitespace or control
    characters becomes one space.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = []
    keep_marks = False
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char):
            if keep_marks:
                kept.append(char)
            continue
        keep_marks = _is_cyrillic(char)
        category = unicodedata.category(char)
        if category == "Cf":
            continue  # soft hyphens, zero-width joiners: inside a word, not between words
        kept.append(" " if category[0] == "C" else char)
    text = unicodedata.normalize("NFC", "".join(kept)).replace("ё", "е")
    return " ".join(text.split())


def search_text_of(title: str | None, action: str | None, background: str | None) -> str:
    """The `search_text` of a petition or translation with these texts."""
    return " ".join(fold(value) for value in (title, action, background) if value)


def query_words(query: str | None) -> list[str]:
    """The distinct words of a query as they are compared (folded), at most WORDS_MAX, from at
    most QUERY_MAX characters; punctuation around a word is not part of it ("Бишкек," is
    "бишкек"). Any string is acceptable: what cannot be a word is dropped."""
    words: list[str] = []
    for word in fold((query or "")[:QUERY_MAX]).split():
        word = "".join(_strip_punctuation(word))
        if word and word not in words:
            words.append(word)
    return words[:WORDS_MAX]


def _strip_punctuation(word: str) -> str:
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] in "PS":
        end -= 1
    return word[start:end]


def like_pattern(word: str) -> str:
    """`%word%` with LIKE's own characters in the word taken literally."""
    escaped = word.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def matching(words: list[str]):
    """A condition on Petition: every word in its own text or in one approved translation.

    Written as `id IN (own matches UNION translated matches)` rather than an OR, so that
    PostgreSQL can answer each half from its trigram index.
    """
    patterns = [like_pattern(word) for word in words]
    own = select(Petition.id).where(
        *(Petition.search_text.like(p, escape=ESCAPE) for p in patterns)
    )
    translated = select(PetitionTranslation.petition_id).where(
        PetitionTranslation.state == TranslationState.APPROVED,
        *(PetitionTranslation.search_text.like(p, escape=ESCAPE) for p in patterns),
    )
    return and_(Petition.id.in_(own.union(translated)), not_(Petition.text_withheld()))


def state_condition(state: str):
    """The public petitions a `state=` filter lists (see STATES)."""
    if state == "open":
        return Petition.state == PetitionState.OPEN
    if state == "closed":
        return Petition.state == PetitionState.CLOSED
    if state == "awaiting":
        return and_(Petition.state == PetitionState.CLOSED, Petition.response_at.is_(None))
    if state == "answered":
        return Petition.response_at.is_not(None)
    if state == "rejected":
        return Petition.state == PetitionState.REJECTED
    if state == "archive":
        return or_(
            Petition.state.in_((PetitionState.CLOSED, PetitionState.REJECTED)),
            Petition.response_at.is_not(None),
        )
    return None


@dataclass(frozen=True)
class SearchRequest:
    """What a reader asked for, every part already one of the accepted values."""

    query: str = ""
    state: str = ""
    sort: str = SORTS[0]
    page: int = 1

    @classmethod
    def from_args(cls, q, state, sort, page) -> SearchRequest:
        """The request from query-string values, anything unusable replaced by its default
        (a search link never fails, whatever was typed or pasted); the query is kept as typed
        for the search box, less control characters and what is past QUERY_MAX."""
        query = q[:QUERY_MAX] if isinstance(q, str) else ""
        query = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in query)
        return cls(
            query=" ".join(query.split()),
            state=state if state in STATES else "",
            sort=sort if sort in SORTS else SORTS[0],
            page=page if isinstance(page, int) and page > 0 else 1,
        )


def listed(request: SearchRequest) -> Select:
    """The public petitions `request` asks for, in no order."""
    conditions = [Petition.state.in_(PUBLIC_STATES)]
    words = query_words(request.query)
    if words:
        conditions.append(matching(words))
    by_state = state_condition(request.state)
    if by_state is not None:
        conditions.append(by_state)
    return select(Petition).where(*conditions)


def search(
    session: Session, request: SearchRequest, *, per_page: int
) -> Page[tuple[Petition, int]]:
    """One page of the public petitions `request` asks for, each with its signature total.

    No words: every public petition the state filter lets through (the archive is
    `state=archive`). Orders: most signatures first (the stored totals plus the live tail,
    services/rollups.py, as on the home page, in the query that finds the page), newest
    first (by opening, or creation for a rejected one), or closing soon (open petitions by
    their deadline, then the rest, newest first).
    """
    base = listed(request)
    total, pages, page = bounds(session, base, page=request.page, per_page=per_page)
    query, signatures = rollups.with_total(base)
    newest = (func.coalesce(Petition.opened_at, Petition.created_at).desc(), Petition.id.desc())
    if request.sort == "newest":
        query = query.order_by(*newest)
    elif request.sort == "closing":
        open_first = case((Petition.state == PetitionState.OPEN, 0), else_=1)
        no_deadline_last = case((Petition.closes_at.is_(None), 1), else_=0)
        query = query.order_by(open_first, no_deadline_last, Petition.closes_at.asc(), *newest)
    else:
        query = query.order_by(signatures.desc(), Petition.id.desc())
    found = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([(p, int(n)) for p, n in found], page, pages, total)


# --- keeping search_text right -----------------------------------------------------------------


#: The `search_text` of a row whose texts changed in a way the statement alone does not tell
#: (some of the three, or SQL expressions): never a real one, since a title is never empty.
STALE = ""


def _fold_object(mapper, connection, target) -> None:
    """before_insert / before_update: fold the object's texts if any of them changed."""
    state = attributes.instance_state(target)
    if state.key is not None and not any(
        attributes.get_history(target, name).has_changes() for name in TEXT_COLUMNS
    ):
        return
    target.search_text = search_text_of(*(getattr(target, name) for name in TEXT_COLUMNS))


def _plain_value(value):
    return value.effective_value if isinstance(value, BindParameter) else value


def _folded(values: dict, *, insert: bool) -> str | None:
    """The `search_text` for a row written with `values`: None if they set no text (or set
    search_text themselves), STALE if the values alone cannot tell it."""
    given = [name for name in TEXT_COLUMNS if name in values]
    if not given or "search_text" in values:
        return None
    texts = [values.get(name) for name in TEXT_COLUMNS]
    if (len(given) < len(TEXT_COLUMNS) and not insert) or not all(
        text is None or isinstance(text, str) for text in texts
    ):
        return STALE
    return search_text_of(*texts)


def refold_stale(session: Session, model) -> int:
    """Fold the texts of every `model` row marked STALE; returns how many there were."""
    table = model.__table__
    rows = session.execute(
        select(table.c.id, table.c.title, table.c.action, table.c.background).where(
            table.c.search_text == STALE
        )
    ).all()
    if rows:
        session.execute(
            table.update()
            .where(table.c.id == bindparam("row_id"))
            .values(search_text=bindparam("folded")),
            [
                {"row_id": r.id, "folded": search_text_of(r.title, r.action, r.background)}
                for r in rows
            ],
        )
    return len(rows)


def _fold_statement(execute_state):
    """do_orm_execute: an ORM INSERT or UPDATE of petitions or translations that sets their
    texts also sets their folded text. When the statement alone cannot tell it (an UPDATE of
    the title only, say), the rows it changes are marked STALE and folded right after it."""
    if not (execute_state.is_insert or execute_state.is_update):
        return None
    mapper = execute_state.bind_mapper
    if mapper is None or mapper.class_ not in (Petition, PetitionTranslation):
        return None
    statement = execute_state.statement
    insert = execute_state.is_insert
    if isinstance(execute_state.parameters, list | tuple):
        rows, stale = [], False
        for row in execute_state.parameters:
            folded = _folded(row, insert=insert)
            stale = stale or folded == STALE
            rows.append(row if folded is None else {**row, "search_text": folded})
        execute_state.parameters = rows
    else:
        values = {
            getattr(key, "key", key): _plain_value(value)
            for key, value in (getattr(statement, "_values", None) or {}).items()
        }
        values.update(execute_state.parameters or {})
        folded = _folded(values, insert=insert)
        stale = folded == STALE or bool(getattr(statement, "_multi_values", None))
        if folded is not None:
            statement = statement.values(search_text=folded)
    if not stale:
        execute_state.statement = statement
        return None
    result = execute_state.invoke_statement(statement=statement)
    if getattr(statement, "_returning", ()):  # read its rows before the next statement runs
        frozen = result.freeze()
        refold_stale(execute_state.session, mapper.class_)
        return frozen()
    refold_stale(execute_state.session, mapper.class_)
    return result


def init_app(app: Flask) -> None:
    """Keep every petition's and translation's `search_text` right from now on (once per
    process: the listeners are on the model classes, shared by every app)."""
    for model in (Petition, PetitionTranslation):
        for name in ("before_insert", "before_update"):
            if not event.contains(model, name, _fold_object):
                event.listen(model, name, _fold_object)
    if not event.contains(Session, "do_orm_execute", _fold_statement):
        event.listen(Session, "do_orm_execute", _fold_statement)


__all__ = [
    "QUERY_MAX",
    "SORTS",
    "STATES",
    "SearchRequest",
    "refold_stale",
    "WORDS_MAX",
    "fold",
    "init_app",
    "query_words",
    "search",
    "search_text_of",
]
