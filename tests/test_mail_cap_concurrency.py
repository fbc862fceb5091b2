"""Issue 8, defect 7: the confirmation-mail cap holds when one address is signed in parallel.

The check and the increment are one UPDATE (services/signing.COUNT_MAIL), so 20 requests at
once for the same address queue at most CONFIRMATION_MAX_SENDS confirmation mails."""

from petitions.services.signing import SignOutcome
from tests.fixtures.actors import sign_directly
from tests.fixtures.database import scalar_sql
from tests.fixtures.threads import run_in_threads

PARALLEL = 20


def test_twenty_parallel_signs_of_one_address_queue_at_most_the_cap(app, petition):
    cap = app.config["CONFIRMATION_MAX_SENDS"]
    run_in_threads([lambda: sign_directly(app, petition, "flood@example.kg")] * PARALLEL)
    queued = scalar_sql(
        app,
        "SELECT COUNT(*) FROM outbox_messages"
        " WHERE kind = 'confirmation' AND to_address IS NOT NULL",
    )
    assert queued == cap


def test_the_answers_agree_with_the_mail_queued(app, petition):
    results = run_in_threads([lambda: sign_directly(app, petition, "flood@example.kg")] * PARALLEL)
    outcomes = [outcome for outcome, _ in results]
    assert (
        outcomes.count(SignOutcome.LIMIT_REACHED) == PARALLEL - app.config["CONFIRMATION_MAX_SENDS"]
    )


def test_one_signature_row_whatever_the_race(app, petition):
    run_in_threads([lambda: sign_directly(app, petition, "flood@example.kg")] * PARALLEL)
    assert scalar_sql(app, "SELECT COUNT(*) FROM signatures") == 1
