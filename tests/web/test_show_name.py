"""The "show my name as a signer" opt-in: off unless the signer ticks it, on the public sign form
and on the sponsor form (which reuses it), stored on the signature by the signing service."""

from __future__ import annotations

import html as html_module
import re

import pytest
from sqlalchemy import select, update

from petitions import links
from petitions.extensions import db
from petitions.models import Petition, Signature, utcnow
from petitions.services.signing import Signer, SigningPolicy, sign_petition
from tests.fixtures.actors import sponsor_sign

LABEL = "Show my name as a signer to the petition's organiser (optional)."


def stored_show_name(app, email_name: str) -> bool:
    with app.app_context():
        value = db.session.scalar(select(Signature.show_name).where(Signature.name == email_name))
        db.session.remove()
    assert value is not None, f"no signature by {email_name}"
    return value


def checkbox(html: str) -> str:
    match = re.search(r'<input[^>]*name="show_name"[^>]*>', html)
    assert match, "no show_name checkbox in the page"
    return match.group(0)


def test_public_form_offers_the_opt_in_unticked(client, petition):
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    box = checkbox(html)
    assert 'type="checkbox"' in box
    assert "checked" not in box
    assert LABEL in html_module.unescape(html)


@pytest.mark.parametrize(("ticked", "expected"), [(False, False), (True, True)])
def test_signing_stores_the_choice(app, signer, petition, ticked, expected):
    extra = {"show_name": "y"} if ticked else {}
    response = signer.sign(petition, "aibek@example.kg", name="Aibek Asanov", **extra)
    assert response.status_code == 303
    assert stored_show_name(app, "Aibek Asanov") is expected


def test_the_choice_survives_a_refused_form(client, petition):
    """A form sent back for a mistake keeps the box as the signer left it."""
    client.get(f"/petitions/{petition}")
    response = client.post(
        f"/petitions/{petition}/sign",
        data={"name": "", "email": "a@example.kg", "country": "KG",
              "consent": "y", "show_name": "y"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "checked" in checkbox(response.get_data(as_text=True))


def test_confirmed_signature_keeps_the_choice(app, signer, petition):
    response = signer.sign_and_confirm(petition, "olga@example.kg", name="Ольга", show_name="y")
    assert response.status_code == 200
    assert stored_show_name(app, "Ольга") is True


def test_sponsor_form_has_it_too(app, client, make_petition):
    petition_id = make_petition(state="draft", title="Clean the Chui river")
    with app.app_context():
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition_id)
            .values(state="sponsoring", submitted_at=utcnow())
        )
        db.session.commit()
        db.session.remove()
    share_path = links.sponsor_path(petition_id, app.config["SECRET_KEY"])
    assert "checked" not in checkbox(client.get(share_path).get_data(as_text=True))
    response = sponsor_sign(client, share_path, "one@example.kg", name="Unticked")
    assert response.status_code == 303
    response = sponsor_sign(client, share_path, "two@example.kg", name="Named", show_name="y")
    assert response.status_code == 303
    assert stored_show_name(app, "Unticked") is False
    assert stored_show_name(app, "Named") is True


def test_service_default_is_off(app, petition):
    """Callers that predate the opt-in (CLI, API, older tests) never show a name by accident."""
    with app.app_context():
        policy = SigningPolicy.from_config(app.config)
        found = db.session.get(Petition, petition)
        for email, show in (("quiet@example.kg", None), ("loud@example.kg", True)):
            signer = Signer(
                name=email.split("@")[0],
                email=email,
                country="KG",
                region=None,
                wants_updates=False,
                **({} if show is None else {"show_name": show}),
            )
            sign_petition(db.session, found, signer, now=utcnow(), policy=policy)
        db.session.remove()
    assert stored_show_name(app, "quiet") is False
    assert stored_show_name(app, "loud") is True
