"""Looking into one petition's signatures when its count is questioned: which sources signed,
when, how many were flagged, and which signatures a search matches (moderators and admins).

A `SignatureQuery` is the search: a client address or range (CIDR), an email domain (with
globs, as the admin rules), a window of signing time, a name pattern, a flag, a status and a
country. The same query feeds the statistics, the listing and bulk actions
(services/bulk.py keeps it as JSON in `BulkAction.criteria` and evaluates it again per batch),
so what a moderator previews is what a bulk action changes.

Addresses are searched as they are kept (services/retention.py): the exact address until the
investigation window ends, and the network (IPv4 /24, IPv6 /48) for good. A range wider than
a network matches whole networks; a narrower one needs the exact addresses.

Only aggregate facts and the signer's name, domain and country are shown: never the address
(the keyed hash of the mailbox is no use to a person), so the page cannot leak who signed
what beyond what a moderator needs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from ..clientaddr import IPV4_NETWORK_PREFIX, IPV6_NETWORK_PREFIX
from ..countries import is_country
from ..database import bucket_start, utc_trunc
from ..emailaddr import email_domain
from ..models import Signature, SignatureFlag, SignatureStatus
from ..pagination import Page, bounds

#: How many rows each "top" table shows.
TOP = 10
#: The hourly table shows at most this many hours (the newest of the window).
MAX_HOURS = 168
#: Longest pattern or range a moderator may type (a clear message beyond).
PATTERN_MAX = 100
#: A range wider than this many networks is matched through the networks that signed.
MAX_LISTED_NETWORKS = 256

#: The flag filter: a SignatureFlag, or one of these.
ANY_FLAG = "any"
NO_FLAG = "none"


class QueryError(ValueError):
    """A search field that cannot be understood; `field` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SignatureQuery:
    """Which signatures of a petition; every field optional (empty: all of them)."""

    #: One IP address, or a range in CIDR notation.
    address: str | None = None
    #: An email domain (and its subdomains), or a glob such as `mail*.example` or `*.xyz`.
    domain: str | None = None
    #: Signed at or after (UTC).
    since: datetime | None = None
    #: Signed before (UTC).
    until: datetime | None = None
    #: The signer's name, case-insensitive, `*` for any characters and `?` for one.
    name: str | None = None
    #: A SignatureFlag, ANY_FLAG or NO_FLAG.
    flag: str | None = None
    #: A SignatureStatus.
    status: str | None = None
    #: ISO 3166-1 alpha-2.
    country: str | None = None

    @classmethod
    def parse(cls, args: Mapping[str, object]) -> SignatureQuery:
        """From a form or query string; raises QueryError for the first field it cannot use."""

        def text(field: str) -> str | None:
            value = args.get(field)
            if value is None:
                return None
            if not isinstance(value, str):
                raise QueryError(field, str(_l("This field takes text.")))
            value = value.strip()
            if len(value) > PATTERN_MAX:
                raise QueryError(
                    field, str(_l("At most %(max)d characters, please.", max=PATTERN_MAX))
                )
            if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in value):
                raise QueryError(field, str(_l("This field cannot hold control characters.")))
            return value or None

        address = text("address")
        if address is not None:
            _network(address)
        domain = text("domain")
        if domain is not None:
            domain = _domain_pattern(domain)
        since, until = _moment(text("since"), "since"), _moment(text("until"), "until")
        if since and until and until <= since:
            raise QueryError("until", str(_l("The end of the window must be after its start.")))
        flag = text("flag")
        if flag is not None and flag not in (ANY_FLAG, NO_FLAG, *SignatureFlag):
            raise QueryError("flag", str(_l("Choose a flag from the list.")))
        status = text("status")
        if status is not None and status not in tuple(SignatureStatus):
            raise QueryError("status", str(_l("Choose a status from the list.")))
        country = text("country")
        if country is not None:
            country = country.upper()
            if not is_country(country):
                raise QueryError(
                    "country", str(_l("Give a two-letter country code (ISO 3166), e.g. KG."))
                )
        return cls(
            address=address,
            domain=domain,
            since=since,
            until=until,
            name=text("name"),
            flag=flag,
            status=status,
            country=country,
        )

    def criteria(self) -> dict:
        """As JSON (BulkAction.criteria); `from_criteria` reads it back."""
        values = asdict(self)
        for key in ("since", "until"):
            if values[key] is not None:
                values[key] = values[key].isoformat()
        return {key: value for key, value in values.items() if value is not None}

    @classmethod
    def from_criteria(cls, criteria: Mapping[str, object]) -> SignatureQuery:
        values = dict(criteria)
        for key in ("since", "until"):
            if values.get(key) is not None:
                values[key] = datetime.fromisoformat(str(values[key]))
        return cls(**values)

    def args(self) -> dict[str, str]:
        """As a query string (links from the statistics to the listing, bulk forms). It always
        names `since`, empty for no start, so that a search of every signature is not taken
        for a first visit (which opens on the last day)."""
        values = self.criteria()
        for key in ("since", "until"):
            if key in values:
                values[key] = getattr(self, key).strftime("%Y-%m-%dT%H:%M")
        values.setdefault("since", "")
        return values

    @property
    def is_empty(self) -> bool:
        return not self.criteria()


def _moment(value: str | None, field: str) -> datetime | None:
    """A `datetime-local` field (or ISO 8601), read as UTC when it carries no offset."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            field, str(_l("Give a date and time such as 2026-03-03T14:00 (UTC)."))
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise QueryError(
            "address",
            str(_l("Give an IP address or a range such as 203.0.113.0/24 or 2001:db8::/32.")),
        ) from None


def _domain_pattern(text: str) -> str:
    pattern = text.lower().rstrip(".").lstrip("@")
    if "[" in pattern or "]" in pattern or "@" in pattern or " " in pattern:
        raise QueryError(
            "domain", str(_l("Give a domain such as example.com, or a glob such as *.xyz."))
        )
    if not any(c in pattern for c in "*?"):
        pattern = email_domain("x@" + pattern)
    return pattern


def _like(pattern: str) -> str:
    """A glob (`*`, `?`) as a LIKE pattern with `\\` as its escape character."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _address_condition(session: Session, petition_id: int, text: str):
    """Signatures from this address or range, as kept (see the module's docstring)."""
    network = _network(text)
    kept = IPV4_NETWORK_PREFIX if network.version == 4 else IPV6_NETWORK_PREFIX
    if network.prefixlen == network.max_prefixlen:
        return Signature.client_ip == str(network.network_address)
    if network.prefixlen > kept:
        if network.num_addresses > MAX_LISTED_NETWORKS:
            raise QueryError(
                "address",
                str(
                    _l(
                        "Addresses are kept to /%(kept)d networks and single addresses: "
                        "search a /%(kept)d, or a range of at most %(most)d addresses.",
                        kept=kept,
                        most=MAX_LISTED_NETWORKS,
                    )
                ),
            )
        return Signature.client_ip.in_([str(host) for host in network])
    if 2 ** (kept - network.prefixlen) <= MAX_LISTED_NETWORKS:
        return Signature.client_network.in_([str(n) for n in network.subnets(new_prefix=kept)])
    # A wide range: the networks that signed this petition and fall in it.
    signed = session.scalars(
        select(Signature.client_network)
        .where(Signature.petition_id == petition_id, Signature.client_network.is_not(None))
        .distinct()
    )
    inside = []
    for value in signed:
        try:
            candidate = ipaddress.ip_network(value)
        except ValueError:
            continue
        if candidate.version == network.version and candidate.subnet_of(network):
            inside.append(value)
    return Signature.client_network.in_(inside) if inside else false()


def conditions(session: Session, petition_id: int, query: SignatureQuery) -> list:
    """The WHERE clauses of the query on one petition's signatures."""
    where = [Signature.petition_id == petition_id]
    if query.address:
        where.append(_address_condition(session, petition_id, query.address))
    if query.domain:
        if any(c in query.domain for c in "*?"):
            where.append(Signature.email_domain.like(_like(query.domain), escape="\\"))
        else:
            where.append(
                or_(
                    Signature.email_domain == query.domain,
                    Signature.email_domain.like("%." + _like(query.domain), escape="\\"),
                )
            )
    if query.since:
        where.append(Signature.created_at >= query.since)
    if query.until:
        where.append(Signature.created_at < query.until)
    if query.name:
        folded = _fold(session, Signature.name)
        needle = query.name.casefold() if _is_sqlite(session) else query.name.lower()
        where.append(folded.like(_like(needle), escape="\\"))
    if query.flag == ANY_FLAG:
        where.append(Signature.flag.is_not(None))
    elif query.flag == NO_FLAG:
        where.append(Signature.flag.is_(None))
    elif query.flag:
        where.append(Signature.flag == query.flag)
    if query.status:
        where.append(Signature.status == query.status)
    if query.country:
        where.append(Signature.country == query.country)
    return where


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _fold(session: Session, column):
    """Case-insensitive text on both databases, Cyrillic included (database.py gives SQLite
    a `casefold` function; PostgreSQL's lower() folds by the database's locale)."""
    return func.casefold(column) if _is_sqlite(session) else func.lower(column)


@dataclass(frozen=True)
class Hour:
    start: datetime
    #: Signatures made in the hour (any status).
    signatures: int
    flagged: int
    #: Confirmed by their signers (counted or held).
    confirmed: int

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.signatures if self.signatures else 0.0


@dataclass(frozen=True)
class Source:
    """One address, network, domain or country with how many signatures it made."""

    value: str
    signatures: int
    flagged: int


@dataclass(frozen=True)
class Overview:
    matched: int
    by_status: dict[str, int]
    by_flag: dict[str, int]
    hours: list[Hour]
    #: More hours matched than the table shows (MAX_HOURS, the newest).
    hours_cut: bool
    addresses: list[Source]
    networks: list[Source]
    domains: list[Source]
    countries: list[Source]


def overview(session: Session, petition_id: int, query: SignatureQuery) -> Overview:
    """The statistics of the signatures the query matches: per hour with the flagged share,
    per status and flag, and the top sources."""
    where = conditions(session, petition_id, query)
    flagged = func.count(Signature.flag)
    by_status = {
        status: int(count)
        for status, count in session.execute(
            select(Signature.status, func.count()).where(*where).group_by(Signature.status)
        )
    }
    by_flag = {
        flag: int(count)
        for flag, count in session.execute(
            select(Signature.flag, func.count())
            .where(*where, Signature.flag.is_not(None))
            .group_by(Signature.flag)
        )
    }
    hour = utc_trunc(session, "hour", Signature.created_at).label("hour")
    confirmed = func.count(Signature.confirmed_at)
    rows = session.execute(
        select(hour, func.count(), flagged, confirmed)
        .where(*where)
        .group_by(hour)
        .order_by(hour.desc())
        .limit(MAX_HOURS + 1)
    ).all()
    hours = [Hour(bucket_start(start), int(n), int(f), int(c)) for start, n, f, c in rows]

    def top(column) -> list[Source]:
        count = func.count().label("signatures")
        return [
            Source(value, int(n), int(f))
            for value, n, f in session.execute(
                select(column, count, flagged)
                .where(*where, column.is_not(None))
                .group_by(column)
                .order_by(count.desc(), column)
                .limit(TOP)
            )
        ]

    return Overview(
        matched=sum(by_status.values()),
        by_status=by_status,
        by_flag=by_flag,
        hours=hours[:MAX_HOURS],
        hours_cut=len(hours) > MAX_HOURS,
        addresses=top(Signature.client_ip),
        networks=top(Signature.client_network),
        domains=top(Signature.email_domain),
        countries=top(Signature.country),
    )


def search(
    session: Session, petition_id: int, query: SignatureQuery, *, page: int, per_page: int
) -> Page[Signature]:
    """The matching signatures, newest first."""
    statement = select(Signature).where(*conditions(session, petition_id, query))
    total, pages, page = bounds(session, statement, page=page, per_page=per_page)
    items = list(
        session.scalars(
            statement.order_by(Signature.created_at.desc(), Signature.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(items=items, page=page, pages=pages, total=total)


def default_window(now: datetime) -> SignatureQuery:
    """What the page shows first: the last 24 hours, when an attack is usually looked at."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    return SignatureQuery(since=start)


__all__ = [
    "ANY_FLAG",
    "NO_FLAG",
    "Overview",
    "QueryError",
    "SignatureQuery",
    "conditions",
    "overview",
    "search",
]
