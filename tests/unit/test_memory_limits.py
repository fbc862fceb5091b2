"""The rate limits' memory storage under a threaded server: counting from many threads at once
never raises (limits 5.8.0's MemoryStorage could start its expiry timer twice, a 500 on the
sign POST under load; petitions/limits.LockedMemoryStorage)."""

from __future__ import annotations

import sys
import threading

from limits import parse

from petitions.limits import LockedMemoryStorage
from tests.fixtures.threads import run_in_threads

THREADS = 8
ROUNDS = 1000


def test_counting_from_many_threads_at_once_never_fails():
    # Threads switch as often as the interpreter allows, as on a busy server's many cores.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        counted = _count_in_rounds()
    finally:
        sys.setswitchinterval(interval)
    assert counted == THREADS * ROUNDS


def _count_in_rounds() -> int:
    item = parse("1000/minute")
    counted = 0
    for _ in range(ROUNDS):
        storage = LockedMemoryStorage()
        start = threading.Barrier(THREADS)

        def hit(storage=storage, start=start) -> int:
            start.wait(timeout=10)
            return storage.incr(item.key_for("sign", "203.0.113.0/24"), item.get_expiry())

        counted += max(run_in_threads([hit] * THREADS))
    return counted
