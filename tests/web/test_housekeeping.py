"""Housekeeping the worker does: closing petitions at their deadline, forgetting unconfirmed
signers, and the in-process worker that `make run` uses."""

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from petitions.extensions import db
from petitions.models import Petition, Signature, utcnow
from petitions.worker import housekeeping, run_forever
from tests.fixtures.factories import move_deadline_to_past
from tests.fixtures.threads import wait_until


def _age_signatures(app, days: int) -> None:
    with app.app_context():
        db.session.execute(update(Signature).values(created_at=utcnow() - timedelta(days=days)))
        db.session.commit()


def _signature_emails(app) -> list[str | None]:
    with app.app_context():
        return list(db.session.scalars(select(Signature.email).order_by(Signature.id)))


def test_unconfirmed_signatures_are_purged_after_retention(app, petition, signer, runner):
    signer.sign_and_confirm(petition, "kept@example.org")
    signer.sign(petition, "never-confirmed@example.org")
    _age_signatures(app, days=31)

    result = runner.invoke(args=["signatures", "purge-unconfirmed"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 unconfirmed signature(s) older than 30 days" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Signature)) == 1
    assert signer.count(petition) == 1


def test_recent_unconfirmed_signatures_are_kept(app, petition, signer, runner):
    signer.sign(petition, "soon@example.org")
    _age_signatures(app, days=3)
    result = runner.invoke(args=["signatures", "purge-unconfirmed"])
    assert "deleted 0" in result.output
    assert _signature_emails(app) == ["soon@example.org"]


def test_housekeeping_closes_petitions_past_their_deadline(app, make_petition, client):
    petition = make_petition()
    move_deadline_to_past(app, petition)
    with app.app_context():
        housekeeping(db.session, app.config, now=utcnow())
        assert db.session.get(Petition, petition).state == "closed"
    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "Closed" in page and "Sign this petition" not in page


def test_in_process_worker_delivers_confirmation_mail(app, petition, signer, mailbox):
    app.config["OUTBOX_POLL_SECONDS"] = 0.05
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app, stop), daemon=True)
    thread.start()
    try:
        signer.sign(petition, "threaded@example.org")
        assert wait_until(lambda: mailbox.to("threaded@example.org"))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert "Confirm your signature" in mailbox.last_to("threaded@example.org")["Subject"]
