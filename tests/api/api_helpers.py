"""What the API tests share: signatures with chosen countries, regions and confirmation times,
petitions in each public state, and checking an answer against the OpenAPI document.

Signatures go through the signing services (sign, then confirm: the count shards move as in
production); a chosen `confirmed_at` is then written to the row. Shards hold no times, so the
public total stays consistent with the signature table.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from jsonschema import Draft202012Validator
from sqlalchemy import select, update

from petitions.emailaddr import identity_key
from petitions.extensions import db
from petitions.models import Petition, PetitionMilestone, Signature, utcnow
from petitions.services import moderation
from petitions.services.signing import (
    ConfirmOutcome,
    Signer,
    SigningPolicy,
    confirm_signature,
    sign_petition,
)

API = "/api/v1"


def at(day: str, time: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


def sign(
    app,
    petition_id: int,
    email: str,
    *,
    name: str = "Test Signer",
    country: str = "KG",
    region: str | None = None,
    confirmed_at: datetime | None = None,
    confirm: bool = True,
) -> int:
    """Sign and confirm (unless not `confirm`) through the services; the signature's id."""
    with app.app_context():
        try:
            policy = SigningPolicy.from_config(app.config)
            petition = db.session.get(Petition, petition_id)
            signer = Signer(
                name=name, email=email, country=country, region=region, wants_updates=False
            )
            sign_petition(db.session, petition, signer, now=utcnow(), policy=policy)
            signature_id = db.session.scalar(
                select(Signature.id).where(
                    Signature.petition_id == petition_id,
                    Signature.email_key == identity_key(email, policy.hash_key),
                )
            )
            if not confirm:
                return signature_id
            outcome = confirm_signature(db.session, signature_id, now=utcnow(), policy=policy)
            assert outcome is ConfirmOutcome.CONFIRMED
            if confirmed_at is not None:
                db.session.execute(
                    update(Signature)
                    .where(Signature.id == signature_id)
                    .values(confirmed_at=confirmed_at)
                )
                db.session.commit()
            return signature_id
        finally:
            db.session.remove()


def set_petition(app, petition_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Petition).where(Petition.id == petition_id).values(**values))
        db.session.commit()
        db.session.remove()


def add_milestone(app, petition_id: int, threshold: int, reached_at: datetime, kind="count"):
    """A milestone as the worker records it (services/milestones.py has its own tests)."""
    with app.app_context():
        db.session.add(
            PetitionMilestone(
                petition_id=petition_id, kind=kind, threshold=threshold, reached_at=reached_at
            )
        )
        db.session.commit()
        db.session.remove()


def reject(app, make_queued_petition, make_user, *, reason: str, note: str, **kwargs) -> int:
    """A petition from the moderation queue, rejected by a moderator through the service."""
    petition_id = make_queued_petition(**kwargs)
    moderator = make_user(email=f"moderator-{petition_id}@example.kg", role="moderator")
    with app.app_context():
        moderation.reject(
            db.session,
            petition_id,
            moderator_id=moderator,
            now=utcnow(),
            reason=reason,
            note=note,
            base_url=app.config["PUBLIC_BASE_URL"],
        )
        db.session.commit()
        db.session.remove()
    return petition_id


def hide(app, make_user, petition_id: int) -> None:
    moderator = make_user(email=f"hider-{petition_id}@example.kg", role="moderator")
    with app.app_context():
        moderation.hide(
            db.session, petition_id, moderator_id=moderator, now=utcnow(), reason="Unlawful."
        )
        db.session.commit()
        db.session.remove()


def respond(app, make_user, petition_id: int, text: str) -> None:
    moderator = make_user(email=f"responder-{petition_id}@example.kg", role="moderator")
    with app.app_context():
        moderation.attach_response(
            db.session, petition_id, moderator_id=moderator, now=utcnow(), text=text
        )
        db.session.commit()
        db.session.remove()


def csv_rows(response) -> list[dict[str, str]]:
    """A CSV answer as dicts, after checking its BOM (Excel needs it for Cyrillic)."""
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff"), "no byte-order mark"
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def csv_header(response) -> list[str]:
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    return next(csv.reader(io.StringIO(text)))


def response_schema(document: dict, path: str, status: int, content_type: str) -> dict | None:
    """The schema the document gives an answer, with its components so $refs resolve."""
    responses = document["paths"][path]["get"]["responses"]
    assert str(status) in responses, f"{status} is not documented for {path}"
    content = responses[str(status)].get("content", {})
    assert content_type in content, f"{content_type} is not documented for {status} of {path}"
    schema = content[content_type].get("schema")
    if schema is None:
        return None
    return {**schema, "components": document["components"]}


def assert_conforms(document: dict, path: str, response) -> None:
    """The answer's status and content type are documented for `path`, and its body is valid."""
    schema = response_schema(document, path, response.status_code, response.mimetype)
    if schema is None or response.mimetype == "text/csv":
        return
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
