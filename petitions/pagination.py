"""One page of a listing, shared by every paginated view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def bounds(session: Session, query: Select, *, page: int, per_page: int) -> tuple[int, int, int]:
    """(total rows, number of pages, the requested page clamped into range) for `query`.

    Out-of-range or nonsense page numbers land on the nearest real page, never an error.
    """
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    return total, pages, min(max(page, 1), pages)
