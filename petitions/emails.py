"""Every email the platform sends, in one catalog: its subject and its templates.

A request (or the worker's housekeeping) only queues a message: its kind, recipient, language
and the plain values it is written from (`outbox.enqueue`). The mail worker renders it when it
sends it (`render`). Why there and not in the request:

* the request does the same work whatever it answers: a sign-up for an address that has an
  account costs what one for a new address costs, so response times do not tell who has an
  account or who signed (the kind of message differs, not the work);
* each message is written in its recipient's language (`Signature.locale`, `User.locale`),
  whoever's request queued it: an organiser's update reaches every signer in their own;
* a message that cannot be rendered or built fails alone, in the worker, and is retried and
  given up like any failed delivery (outbox.py), instead of failing the request.

Its links (the context's `*_url` values, and the List-Unsubscribe header) are written for the
default language and given the recipient's language prefix here, with its text
(`links.in_language`), so following one lands on a page in the language of the mail.

A context holds only JSON values (text, numbers, booleans, ISO 8601 times), since it is stored
with the message until it is sent, then erased with the address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app, render_template
from flask_babel import force_locale, format_decimal, ngettext
from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from . import links
from .extensions import db
from .models.petition import PetitionTranslation


@dataclass(frozen=True)
class Email:
    #: templates/email/<template>.txt and .html
    template: str
    #: The subject, written in the current locale from the message's context.
    subject: Callable[[Mapping], str]


CATALOG: dict[str, Email] = {
    "confirmation": Email(
        "confirm_signature", lambda c: _("Confirm your signature: %(title)s", title=c["title"])
    ),
    "already_signed": Email(
        "already_signed", lambda c: _("You have already signed: %(title)s", title=c["title"])
    ),
    "awaiting_moderation": Email(
        "awaiting_moderation",
        lambda c: _("Your petition is awaiting moderation: %(title)s", title=c["title"]),
    ),
    "approved": Email(
        "petition_approved",
        lambda c: _("Your petition is open for signatures: %(title)s", title=c["title"]),
    ),
    "rejected": Email("petition_rejected", lambda c: _("Your petition was rejected")),
    "sent_back": Email("petition_sent_back", lambda c: _("Your petition needs changes")),
    "translation_approved": Email(
        "translation_approved",
        lambda c: _("Your translation is published: %(title)s", title=c["title"]),
    ),
    "translation_rejected": Email(
        "translation_rejected",
        lambda c: _("Your translation needs changes: %(title)s", title=c["title"]),
    ),
    "milestone": Email(
        "milestone",
        lambda c: (
            _("Your petition reached its goal")
            if c["goal"]
            else ngettext(
                "Your petition passed %(count)s signature",
                "Your petition passed %(count)s signatures",
                c["threshold"],
                count=format_decimal(c["threshold"]),
            )
        ),
    ),
    "response": Email(
        "petition_response",
        lambda c: _("A response to the petition “%(title)s”", title=c["title"]),
    ),
    "closed": Email(
        "petition_closed", lambda c: _("The petition “%(title)s” is closed", title=c["title"])
    ),
    # Not the petition's title too: both at their longest would not fit a subject.
    "update": Email("petition_update", lambda c: _("Update: %(update)s", update=c["update_title"])),
    "account_confirm": Email("account_confirm", lambda c: _("Confirm your organiser account")),
    "account_exists": Email("account_exists", lambda c: _("You already have an account")),
    "account_reset": Email("account_reset", lambda c: _("Reset your password")),
    "account_email_taken": Email(
        "account_email_taken", lambda c: _("Someone tried to move an account to your address")
    ),
    "account_email_change": Email(
        "account_email_change", lambda c: _("Confirm your new email address")
    ),
    "account_email_changed": Email(
        "account_email_changed", lambda c: _("Your account's email address was changed")
    ),
}


class UnknownEmail(KeyError):
    """A kind that is not in the catalog: a programming error, caught when queueing."""


def email_for(kind: str) -> Email:
    try:
        return CATALOG[kind]
    except KeyError:
        raise UnknownEmail(kind) from None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str) -> str:
    """A subject on one line: every run of whitespace, line and paragraph separators included,
    becomes one space (a title stored before such characters were refused cannot break a
    header)."""
    return " ".join(value.split())


def language_of(locale: str | None) -> str:
    """The language a message for `locale` is written in: it, or the default if the site does
    not offer it (any more)."""
    if locale in current_app.config["LANGUAGES"]:
        return locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def localized_link(url: str, locale: str | None) -> str:
    """A link of this site as a message in `locale` carries it (links.in_language)."""
    config = current_app.config
    return links.in_language(
        url, config["PUBLIC_BASE_URL"], language_of(locale), config["BABEL_DEFAULT_LOCALE"]
    )


def localized_headers(
    headers: Mapping[str, str] | None, locale: str | None
) -> dict[str, str] | None:
    """Extra headers of a message in `locale`: the List-Unsubscribe URL (`<url>`) in it."""
    if not headers:
        return None
    found = dict(headers)
    unsubscribe = found.get("List-Unsubscribe")
    if unsubscribe and unsubscribe.startswith("<") and unsubscribe.endswith(">"):
        found["List-Unsubscribe"] = f"<{localized_link(unsubscribe[1:-1], locale)}>"
    return found


def render(
    kind: str,
    context: Mapping,
    locale: str | None,
    *,
    titles: Mapping[tuple[int, str], str] | None = None,
) -> Rendered:
    """The message in `locale` (the default language if it is unknown), its links to pages in
    that language; needs an app context. `titles`: the approved translations of the petitions
    named, as `approved_titles` reads them for a worker's whole batch; without it the title is
    looked up here."""
    email = email_for(kind)
    locale = language_of(locale)
    context = {
        key: localized_link(value, locale)
        if key.endswith("_url") and isinstance(value, str)
        else value
        for key, value in context.items()
    }
    context = _title_in(context, locale, titles)
    with force_locale(locale):
        return Rendered(
            subject=one_line(str(email.subject(context))),
            text=render_template(f"email/{email.template}.txt", **context),
            html=render_template(f"email/{email.template}.html", **context),
        )


def _named_petition(context: Mapping) -> int | None:
    """The petition a signer's mail names by its title, if it names one."""
    petition_id = context.get("petition_id")
    return petition_id if isinstance(petition_id, int) and "title" in context else None


def _title_in(
    context: dict, locale: str, titles: Mapping[tuple[int, str], str] | None = None
) -> dict:
    """A signer's mail names the petition by its approved translation into the signer's
    language, as its page does; the context keeps the original (`petition_id` and `title`),
    looked up when the worker writes the mail, so the sign request pays nothing."""
    petition_id = _named_petition(context)
    if petition_id is None:
        return context
    if titles is None:
        titles = approved_titles(db.session, [(context, locale)])
    translated = titles.get((petition_id, locale))
    return {**context, "title": translated} if translated else context


def approved_titles(
    session, messages: Iterable[tuple[Mapping | None, str | None]]
) -> dict[tuple[int, str], str]:
    """The approved translated titles that these (context, locale) messages will show, keyed
    (petition id, language): one query per language for a whole batch, not one per mail."""
    wanted: dict[str, set[int]] = {}
    for context, locale in messages:
        petition_id = _named_petition(context or {})
        if petition_id is not None:
            wanted.setdefault(language_of(locale), set()).add(petition_id)
    found: dict[tuple[int, str], str] = {}
    for language, ids in wanted.items():
        rows = session.execute(_TITLES_IN, {"language": language, "ids": sorted(ids)})
        found.update(((petition_id, language), title) for petition_id, title in rows)
    return found


#: Built once: the worker looks titles up for every batch of signers' messages it writes.
_TITLES_IN = select(PetitionTranslation.petition_id, PetitionTranslation.title).where(
    *PetitionTranslation.approved_into(bindparam("language"), bindparam("ids", expanding=True))
)


def parse_time(value: str | None) -> datetime | None:
    """Template filter: an ISO 8601 time from a context back to a datetime (for formatting)."""
    return datetime.fromisoformat(value) if value else None


def init_app(app: Flask) -> None:
    app.jinja_env.filters["parse_time"] = parse_time
