"""The memo's single flight: a crowd reading one expired or missing entry costs one load."""

from __future__ import annotations

import threading

import pytest

from petitions.memo import Memo
from tests.fixtures.threads import run_in_threads


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_crowd_waits_for_one_first_load():
    """Readers of a missing key, all inside `get` at once, share one load and its value.

    The load cannot finish before every reader has arrived: the barrier needs all of them,
    each either loading (which single flight must prevent: then it counts more than one load)
    or waiting for the load in progress (an Event that reaches the barrier before it waits).
    So the readers overlap by construction, whatever the scheduling, and a broken memo fails
    the count instead of passing by luck.
    """
    readers = 8
    all_inside = threading.Barrier(readers, timeout=30)
    loads = []

    class ArrivingEvent(threading.Event):
        def wait(self, timeout=None) -> bool:
            all_inside.wait()
            return super().wait(timeout)

    class CountedMemo(Memo):
        event_type = ArrivingEvent

    memo: Memo[int, str] = CountedMemo(ttl=10, clock=Clock())

    def load() -> str:
        loads.append(1)
        all_inside.wait()
        return "total"

    results = run_in_threads([lambda: memo.get(1, load) for _ in range(readers)])
    assert results == ["total"] * readers
    assert len(loads) == 1


def test_an_expired_entry_is_served_while_one_thread_reloads():
    clock = Clock()
    memo: Memo[int, int] = Memo(ttl=10, clock=clock)
    assert memo.get(1, lambda: 100) == 100
    clock.now = 11  # expired
    reloading, release = threading.Event(), threading.Event()

    def slow_reload() -> int:
        reloading.set()
        release.wait(10)
        return 101

    leader = threading.Thread(target=lambda: memo.get(1, slow_reload))
    leader.start()
    assert reloading.wait(10)
    # Others get the old value at once instead of loading too.
    stale = run_in_threads([lambda: memo.get(1, lambda: 999) for _ in range(5)])
    assert stale == [100] * 5
    release.set()
    leader.join(10)
    assert memo.get(1, lambda: 999) == 101


def test_a_failed_load_lets_the_next_reader_try():
    memo: Memo[int, int] = Memo(ttl=10, clock=Clock())

    def broken() -> int:
        raise RuntimeError("database restarting")

    with pytest.raises(RuntimeError):
        memo.get(1, broken)
    assert memo.get(1, lambda: 7) == 7
