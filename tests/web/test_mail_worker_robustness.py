"""Issue 8, defect 1: one message that cannot be built must not stop the mail of everyone else,
and the characters that broke it are refused where people type them."""

from sqlalchemy import select

from petitions.extensions import db
from petitions.models import OutboxMessage, utcnow
from petitions.outbox import deliver_all, enqueue
from tests.fixtures.actors import csrf_token
from tests.fixtures.database import scalar_sql


def _queue_ten_and_one_poisoned(app) -> None:
    """Ten good messages, and in their midst one queued the old way (already rendered) with a
    subject a mail header cannot carry: stored before titles refused line separators."""
    with app.app_context():
        for n in range(5):
            enqueue(
                db.session,
                kind="already_signed",
                to=f"before{n}@example.kg",
                locale="en",
                context={"title": f"Petition {n}", "petition_url": "http://localhost/petitions/1"},
            )
        db.session.add(
            OutboxMessage(
                kind="confirmation",
                to_address="poisoned@example.kg",
                subject="Confirm your signature: Troops\u2028Bcc: everyone@example.kg",
                body_text="A body.",
                next_attempt_at=utcnow(),
            )
        )
        for n in range(5):
            enqueue(
                db.session,
                kind="already_signed",
                to=f"after{n}@example.kg",
                locale="en",
                context={"title": f"Petition {n}", "petition_url": "http://localhost/petitions/1"},
            )
        db.session.commit()
        db.session.remove()


def test_a_poisoned_message_among_ten_good_ones_lets_all_ten_arrive(app, mailbox, deliver):
    _queue_ten_and_one_poisoned(app)
    deliver()
    received = sorted(m["To"] for m in mailbox.messages)
    assert received == sorted([f"before{n}@example.kg" for n in range(5)]
                              + [f"after{n}@example.kg" for n in range(5)])  # fmt: skip


def test_the_poisoned_message_is_retried_then_given_up_and_erased(app, mailbox):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    _queue_ten_and_one_poisoned(app)
    with app.app_context():
        first = deliver_all(db.session, app.config)
        db.session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.sent_at.is_(None))
            .values(next_attempt_at=utcnow())
        )
        db.session.commit()
        second = deliver_all(db.session, app.config)
        poisoned = db.session.scalar(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
        outcome = (first.retried, second.failed, poisoned.attempts, poisoned.to_address)
        assert "ValueError" in poisoned.last_error
        db.session.remove()
    assert outcome == (1, 1, 2, None)


def _form(client, path: str) -> dict:
    return {"csrf_token": csrf_token(client.get(path).get_data(as_text=True))}


def test_a_name_with_a_line_separator_is_refused_with_a_clear_message(client, petition, signer):
    response = signer.sign(petition, "aibek@example.kg", name="Aibek\u2028Asanov")
    assert response.status_code == 422
    assert "line breaks" in response.get_data(as_text=True)


def test_a_petition_title_with_a_paragraph_separator_is_refused(client, organiser, app):
    response = organiser.post_new(title="Do not send troops\u2029abroad")
    assert response.status_code == 422
    assert scalar_sql(app, "SELECT COUNT(*) FROM petitions") == 0


def test_a_line_separator_in_a_background_becomes_a_new_line(client, organiser, get_petition):
    petition_id = organiser.create(background="First line\u2028second line\u2029New paragraph.")
    assert get_petition(petition_id).background == "First line\nsecond line\n\nNew paragraph."
