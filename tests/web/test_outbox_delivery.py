"""Mail goes through the transactional outbox: queued with the signature, delivered later.

Everything here talks to the real test SMTP server (aiosmtpd); "SMTP down" is a port nobody
listens on, and a refused recipient is one the server answers with 550.
"""

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from petitions import outbox
from petitions.extensions import db
from petitions.models import OutboxMessage, Petition, utcnow
from petitions.outbox import DeliveryReport, claim_batch, deliver_all
from petitions.services.signing import Signer, SigningPolicy, SignOutcome, sign_petition
from tests.fixtures.actors import sign_directly
from tests.fixtures.database import ON_POSTGRES, scalar_sql
from tests.fixtures.net import free_port
from tests.fixtures.threads import run_in_threads


def outbox_rows(app) -> list[OutboxMessage]:
    """Every outbox row, detached from any session (read-only snapshots)."""
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def make_due_now(app) -> None:
    """Pretend the backoff has elapsed: every unsent message is due."""
    with app.app_context():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .values(next_attempt_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        db.session.remove()


def table_size(app, table: str) -> int:
    return scalar_sql(app, f"SELECT COUNT(*) FROM {table}")


# --- one transaction -----------------------------------------------------------------------


def test_signature_and_its_mail_are_written_together(app, petition):
    outcome, _ = sign_directly(app, petition, "aibek@example.kg")
    assert outcome is SignOutcome.CREATED
    [message] = outbox_rows(app)
    assert message.kind == "confirmation"
    assert message.to_address == "aibek@example.kg"
    assert "/confirm/" in message.context["confirm_url"]
    assert table_size(app, "signatures") == 1


def test_a_signature_rolled_back_leaves_no_mail(app, petition, monkeypatch):
    """The process dies after the mail is queued but before the commit: neither row remains.

    The crash is injected right after `outbox.enqueue()` has flushed its row, i.e. with the
    signature and the message both written inside the still-open transaction. (This caught a
    SAVEPOINT whose RELEASE committed the signature on its own with SQLite's driver.)
    """
    real_enqueue = outbox.enqueue

    def enqueue_then_crash(session, **kwargs):
        real_enqueue(session, **kwargs)
        session.flush()
        raise RuntimeError("worker process killed before COMMIT")

    monkeypatch.setattr(outbox, "enqueue", enqueue_then_crash)
    with app.app_context():
        with pytest.raises(RuntimeError, match="killed before COMMIT"):
            sign_petition(
                db.session,
                db.session.get(Petition, petition),
                Signer("Aibek Asanov", "aibek@example.kg", "KG", None, False),
                now=utcnow(),
                policy=SigningPolicy.from_config(app.config),
            )
        db.session.rollback()
        db.session.remove()
    assert table_size(app, "outbox_messages") == 0
    assert table_size(app, "signatures") == 0, "a signature was committed without its mail"


def test_a_signature_the_database_rejects_queues_no_mail(app, petition):
    """An IntegrityError on the signature (an empty name breaks a CHECK) queues nothing."""
    with app.app_context():
        with pytest.raises(IntegrityError):
            sign_petition(
                db.session,
                db.session.get(Petition, petition),
                Signer("", "aibek@example.kg", "KG", None, False),
                now=utcnow(),
                policy=SigningPolicy.from_config(app.config),
            )
        db.session.rollback()
        db.session.remove()
    assert table_size(app, "outbox_messages") == 0
    assert table_size(app, "signatures") == 0


# --- SMTP down, then back --------------------------------------------------------------------


@pytest.fixture
def smtp_down(app_config):
    """The app is configured with a port nobody listens on (ask for this before `app`)."""
    app_config["MAIL_PORT"] = free_port()


def test_mail_waits_while_smtp_is_down_and_goes_once_when_it_is_back(
    smtp_down, app, smtp_server, signer, mailbox, petition, deliver
):
    for email in ("aibek@example.kg", "nurlan@example.kg"):
        response = signer.sign(petition, email, follow=True)
        assert response.status_code == 200
        assert "Check your email" in response.get_data(as_text=True)

    assert deliver() == DeliveryReport(sent=0, retried=2, failed=0)
    checked_at = utcnow()
    for message in outbox_rows(app):
        assert message.attempts == 1
        assert message.sent_at is None and message.failed_at is None
        assert message.claimed_until is None
        assert message.next_attempt_at > checked_at, "a retry must wait for its backoff"
        assert message.last_error.startswith("connect:")
    assert mailbox.messages == []

    # Before the backoff has passed nothing is tried again, even with the server back.
    controller, _ = smtp_server
    app.config["MAIL_PORT"] = controller.port
    assert deliver().handled == 0
    assert [m.attempts for m in outbox_rows(app)] == [1, 1]

    make_due_now(app)
    assert deliver() == DeliveryReport(sent=2, retried=0, failed=0)
    assert deliver().handled == 0
    assert len(mailbox.to("aibek@example.kg")) == 1
    assert len(mailbox.to("nurlan@example.kg")) == 1
    assert all(m.sent_at is not None for m in outbox_rows(app))

    confirmed = signer.confirm(signer.confirmation_path("aibek@example.kg"))
    assert "Your signature is confirmed" in confirmed.get_data(as_text=True)
    assert signer.count(petition) == 1
    assert len(mailbox.to("aibek@example.kg")) == 1, "delivered more than once"


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(1, 60), (2, 120), (3, 150)],
    ids=["first retry", "doubled", "at most the longest"],
)
def test_the_wait_before_a_retry_follows_the_backoff_settings(
    smtp_down, app, signer, petition, deliver, failures, wait
):
    """OUTBOX_RETRY_SECONDS doubling to OUTBOX_MAX_RETRY_SECONDS, give or take the jitter."""
    app.config.update(OUTBOX_RETRY_SECONDS=60, OUTBOX_MAX_RETRY_SECONDS=150)
    assert signer.sign(petition, "aibek@example.kg").status_code == 303
    for _ in range(failures):
        make_due_now(app)
        before = utcnow()
        deliver()
        after = utcnow()
    [message] = outbox_rows(app)
    earliest, latest = before + timedelta(seconds=0.8 * wait), after + timedelta(seconds=1.2 * wait)
    assert (message.attempts, earliest <= message.next_attempt_at <= latest) == (failures, True)


def test_a_refused_recipient_fails_without_blocking_the_others(
    app, signer, mailbox, petition, deliver
):
    mailbox.refuse.add("nobody@example.org")
    for email in ("nobody@example.org", "aibek@example.kg", "nurlan@example.kg"):
        assert signer.sign(petition, email).status_code == 303

    assert deliver() == DeliveryReport(sent=2, retried=0, failed=1)
    refused, *delivered = outbox_rows(app)
    assert refused.failed_at is not None and refused.sent_at is None
    assert refused.attempts == 1
    assert "550" in refused.last_error
    assert refused.to_address is None and refused.body_text == "", "given up: keep no address"
    assert all(m.sent_at is not None for m in delivered)

    assert deliver().handled == 0, "a refused message must not be retried"
    assert mailbox.to("nobody@example.org") == []
    assert len(mailbox.to("aibek@example.kg")) == 1
    assert len(mailbox.to("nurlan@example.kg")) == 1
    confirmed = signer.confirm(signer.confirmation_path("nurlan@example.kg"))
    assert "Your signature is confirmed" in confirmed.get_data(as_text=True)


def test_sent_messages_keep_no_address_or_body(app, signer, mailbox, petition, deliver):
    signer.sign(petition, "aibek@example.kg")
    [queued] = outbox_rows(app)
    assert queued.to_address == "aibek@example.kg" and "/confirm/" in queued.context["confirm_url"]

    deliver()
    [sent] = outbox_rows(app)
    assert sent.sent_at is not None
    assert sent.to_address is None
    assert sent.body_text == ""
    assert sent.body_html is None
    assert sent.context is None
    assert sent.claimed_until is None
    link = signer.confirmation_path("aibek@example.kg")
    token = link.rsplit("/", 1)[1]
    stored = scalar_sql(
        app,
        "SELECT COUNT(*) FROM outbox_messages"
        " WHERE subject LIKE :t OR body_text LIKE :t OR CAST(context AS TEXT) LIKE :t",
        t=f"%{token}%",
    )
    assert stored == 0, "the confirmation token is still stored after sending"


# --- the worker ------------------------------------------------------------------------------


def run_cli(app, runner, *args: str):
    """`flask --app petitions <args>`; the `flask` command pushes an app context for commands
    added with `add_command()`, the test runner does not, so it is pushed here."""
    with app.app_context():
        try:
            return runner.invoke(args=list(args))
        finally:
            db.session.remove()


def test_worker_command_delivers_queued_mail(app, runner, signer, mailbox, petition):
    signer.sign(petition, "aibek@example.kg")
    signer.sign(petition, "nurlan@example.kg")

    result = run_cli(app, runner, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "sent 2, retrying 0, failed 0" in result.output
    assert len(mailbox.to("aibek@example.kg")) == 1
    assert len(mailbox.to("nurlan@example.kg")) == 1

    again = run_cli(app, runner, "worker", "--once")
    assert again.exit_code == 0, again.output
    assert "sent 0, retrying 0, failed 0" in again.output
    assert len(mailbox.messages) == 2


def test_an_expired_lease_is_retried(app, signer, mailbox, petition, deliver):
    """A worker claims a message and dies: it waits out the lease, then goes exactly once."""
    signer.sign(petition, "aibek@example.kg")
    with app.app_context():
        claimed = claim_batch(db.session, limit=10, lease_seconds=120, now=utcnow())
        db.session.remove()
    assert len(claimed) == 1

    assert deliver().handled == 0, "a message under a live lease was taken by another worker"
    assert mailbox.messages == []

    with app.app_context():
        db.session.execute(
            update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        db.session.remove()
    assert deliver() == DeliveryReport(sent=1, retried=0, failed=0)
    assert deliver().handled == 0
    assert len(mailbox.to("aibek@example.kg")) == 1
    [message] = outbox_rows(app)
    assert message.sent_at is not None and message.attempts == 0


def test_a_worker_stops_before_its_lease_could_run_out(app, signer, mailbox, petition, deliver):
    """Past its lease another worker may take the same messages, so a worker hands back what it
    could not send in time instead of sending it late (and twice)."""
    signer.sign(petition, "aibek@example.kg")
    signer.sign(petition, "nurlan@example.kg")
    # A lease no longer than the worst case of one send: no time to send anything safely.
    app.config.update(MAIL_TIMEOUT=1, OUTBOX_LEASE_SECONDS=3)
    assert deliver().handled == 0
    assert mailbox.messages == []
    assert all(m.claimed_until is None and m.attempts == 0 for m in outbox_rows(app)), (
        "handed-back messages must be free for the next worker at once, with no attempt spent"
    )

    app.config.update(MAIL_TIMEOUT=20, OUTBOX_LEASE_SECONDS=120)
    assert deliver() == DeliveryReport(sent=2, retried=0, failed=0)
    assert len(mailbox.to("aibek@example.kg")) == 1


# --- several workers at once (PostgreSQL) ----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs PostgreSQL: workers share the outbox through FOR UPDATE SKIP LOCKED, which "
    "SQLite does not have (it serialises writers instead)",
)
def test_concurrent_workers_deliver_each_message_exactly_once(app, mailbox, petition):
    messages, workers = 300, 8
    app.config["OUTBOX_BATCH_SIZE"] = 7
    with app.app_context():
        found = db.session.get(Petition, petition)
        for n in range(messages):
            outbox.enqueue(
                db.session,
                kind="already_signed",
                to=f"reader{n}@example.org",
                locale="en",
                context={
                    "title": f"{found.title} {n}",
                    "petition_url": f"http://localhost/petitions/{petition}",
                },
            )
        db.session.commit()
        db.session.remove()

    def worker():
        with app.app_context():
            try:
                return deliver_all(db.session, app.config)
            finally:
                db.session.remove()

    reports = run_in_threads([worker] * workers, timeout=120)
    total = sum(reports, DeliveryReport())
    assert total == DeliveryReport(sent=messages, retried=0, failed=0)

    received = Counter(m["To"] for m in mailbox.messages)
    assert len(received) == messages
    duplicates = {to: n for to, n in received.items() if n != 1}
    assert not duplicates, f"delivered more than once: {duplicates}"
    with app.app_context():
        assert outbox.pending_count(db.session) == 0
        unsent = "SELECT COUNT(*) FROM outbox_messages WHERE sent_at IS NULL"
        assert db.session.scalar(text(unsent)) == 0
        db.session.remove()
