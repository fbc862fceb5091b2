"""The memo's single flight: a crowd reading one expired or missing entry costs one load."""

from __future__ import annotations

import threading

import pytest
from conftest import run_in_threads

from petitions.memo import Memo


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_crowd_waits_for_one_first_load():
    memo: Memo[int, str] = Memo(ttl=10, clock=Clock())
    release = threading.Event()
    loads = []

    def load() -> str:
        loads.append(1)
        release.wait(10)
        return "total"

    def reader() -> str | None:
        return memo.get(1, load)

    threads = [threading.Thread(target=lambda: results.append(reader())) for _ in range(8)]
    results: list = []
    for thread in threads:
        thread.start()
    # Every reader has either started the one load or is waiting for it.
    assert _eventually(lambda: len(loads) == 1 and len(memo._loading) == 1)
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["total"] * 8
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


def _eventually(predicate, tries: int = 2000) -> bool:
    for _ in range(tries):
        if predicate():
            return True
        threading.Event().wait(0.005)
    return predicate()
