"""Many people sign and confirm the same petition at once: the public total stays exact.

Sixteen threads, each with its own app context and database session, go through the same
services the web views use. The crowd writes the same mailbox in several ways (the same
address again, other case, `+tags`, Gmail dots and googlemail.com), signs again while its
signature is being confirmed, and confirms the same signature from two threads at once.

Runs on both databases: SQLite serialises writers (WAL, busy_timeout), PostgreSQL takes row
locks; either way each person must be one signature, counted at most once.
"""

import random
import threading
from collections import Counter
from dataclasses import dataclass

from petitions.emailaddr import normalise_for_identity
from petitions.extensions import db
from petitions.services import counts
from petitions.services.signing import ConfirmOutcome, SignOutcome
from tests.fixtures.actors import confirm_directly, sign_directly
from tests.fixtures.database import scalar_sql
from tests.fixtures.threads import run_in_threads

THREADS = 16


@dataclass(frozen=True)
class Person:
    #: The ways this person writes their address; all reach one mailbox.
    addresses: tuple[str, ...]
    #: Whether they confirm (the others leave their signature pending).
    confirms: bool


def crowd(rng: random.Random) -> list[Person]:
    people = []
    for n in range(50):
        people.append(
            Person(
                (
                    f"first.last{n}@gmail.com",
                    f"firstlast{n}@gmail.com",
                    f"First.Last{n}+petition@gmail.com",
                    f"FIRSTLAST{n}@googlemail.com",
                    f"f.i.r.s.t.l.a.s.t{n}@gmail.com",
                ),
                confirms=rng.random() < 0.75,
            )
        )
    for n in range(50):
        people.append(
            Person(
                (
                    f"aigul{n}@example.kg",
                    f"Aigul{n}@Example.KG",
                    f"aigul{n}+news@example.kg",
                    f"AIGUL{n}@EXAMPLE.KG",
                ),
                confirms=rng.random() < 0.75,
            )
        )
    # Outside Gmail a dot is part of the address: these are two different people each.
    for n in range(20):
        people.append(Person((f"a.sanov{n}@example.org",), confirms=rng.random() < 0.75))
        people.append(Person((f"asanov{n}@example.org", f"ASANOV{n}@example.org"), True))
    return people


def run_tasks(app, petition_id: int, tasks: list[tuple]) -> list[tuple]:
    """Process (kind, person, argument) tasks in order from a shared list, in THREADS threads;
    returns (kind, person, result) for each."""
    lock = threading.Lock()
    position = iter(range(len(tasks)))
    results: list = [None] * len(tasks)

    def worker():
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            kind, person, argument = tasks[index]
            if kind == "sign":
                results[index] = (kind, person, sign_directly(app, petition_id, argument))
            else:
                results[index] = (kind, person, confirm_directly(app, argument))

    run_in_threads([worker] * THREADS, timeout=180)
    return results


def test_a_crowd_signing_and_confirming_at_once_is_counted_exactly(app, client, petition, runner):
    app.config["COUNT_SHARDS"] = 8
    rng = random.Random(20240601)
    people = crowd(rng)

    # Round 1: everybody signs, most of them several times and in several spellings.
    signing = [
        ("sign", n, rng.choice(person.addresses))
        for n, person in enumerate(people)
        for _ in range(rng.randint(1, 3))
    ]
    rng.shuffle(signing)
    first_round = run_tasks(app, petition, signing)

    signature_of: dict[int, int] = {}
    for _, n, (_, signature_id) in first_round:
        assert signature_id is not None
        assert signature_of.setdefault(n, signature_id) == signature_id, (
            f"{people[n].addresses} got two signatures"
        )
    created = Counter(outcome for _, _, (outcome, _) in first_round)
    assert created[SignOutcome.CREATED] == len(people)

    # Round 2: who confirms does so twice, from two threads at once (adjacent tasks), while
    # others sign again in yet another spelling.
    second: list[tuple] = []
    for n, person in enumerate(people):
        if person.confirms:
            second.append([("confirm", n, signature_of[n])] * 2)
        if rng.random() < 0.5:
            second.append([("sign", n, rng.choice(person.addresses))])
    rng.shuffle(second)
    second_round = run_tasks(app, petition, [task for group in second for task in group])

    confirmed = Counter(result for kind, _, result in second_round if kind == "confirm")
    confirming = sum(person.confirms for person in people)
    assert confirmed[ConfirmOutcome.CONFIRMED] == confirming
    assert confirmed[ConfirmOutcome.ALREADY_CONFIRMED] == confirming
    resigned = [result for kind, _, result in second_round if kind == "sign"]
    assert all(outcome is not SignOutcome.CREATED for outcome, _ in resigned)
    signings = len(signing) + len(resigned)
    assert signings >= 350

    # The public total: the count service, count.json, the table, and reconcile agree.
    written = [address for kind, n, address in signing if people[n].confirms]
    distinct_confirmed = {normalise_for_identity(address) for address in written}
    assert len(distinct_confirmed) == confirming
    with app.app_context():
        total = counts.count_for(db.session, petition)
        db.session.remove()
    assert total == confirming
    assert client.get(f"/petitions/{petition}/count.json").get_json()["signature_count"] == total
    all_rows = scalar_sql(app, "SELECT COUNT(*) FROM signatures WHERE petition_id = :p", p=petition)
    assert all_rows == len(people)
    confirmed_rows = scalar_sql(
        app,
        "SELECT COUNT(*) FROM signatures WHERE petition_id = :p AND status = 'confirmed'",
        p=petition,
    )
    assert confirmed_rows == total
    reconciled = runner.invoke(args=["counts", "reconcile"])
    assert reconciled.exit_code == 0, reconciled.output
    assert "0 with drift" in reconciled.output

    # Every answer that promised an email queued exactly one (the others left a withheld
    # record without a recipient, so that every answer costs the same work).
    answers = [outcome for _, _, (outcome, _) in first_round] + [o for o, _ in resigned]
    mailed = sum(outcome is not SignOutcome.LIMIT_REACHED for outcome in answers)
    queued = "SELECT COUNT(*) FROM outbox_messages WHERE to_address IS NOT NULL"
    assert scalar_sql(app, queued) == mailed


def test_simultaneous_confirmations_of_one_signature_count_once(app, petition):
    """Four threads press "confirm" on the same signature at the same moment, 25 times over."""
    ids = [sign_directly(app, petition, f"racer{n}@example.org")[1] for n in range(25)]
    together = threading.Barrier(4, timeout=30)

    def presser():
        outcomes = []
        for signature_id in ids:
            together.wait()
            outcomes.append(confirm_directly(app, signature_id))
        return outcomes

    per_thread = run_in_threads([presser] * 4, timeout=120)
    for n in range(len(ids)):
        round_outcomes = Counter(outcomes[n] for outcomes in per_thread)
        assert round_outcomes == {
            ConfirmOutcome.CONFIRMED: 1,
            ConfirmOutcome.ALREADY_CONFIRMED: 3,
        }
    with app.app_context():
        assert counts.count_for(db.session, petition) == len(ids)
        db.session.remove()
