"""The per-process memo (petitions/memo.py): a value is reused for its time to live, at most
`max_entries` are kept, nothing is kept for a key without a value, and a ttl of 0 turns it
off. (Concurrent readers: test_memo_single_flight.py.)"""

from flask import Flask

from petitions.memo import Memo, app_memo


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Returns "<key> #<n>" on its n-th call, or None for keys in `missing`."""

    def __init__(self, missing=()) -> None:
        self.calls = 0
        self.missing = set(missing)

    def __call__(self, key):
        def load():
            self.calls += 1
            return None if key in self.missing else f"{key} #{self.calls}"

        return load


def test_a_value_is_reused_until_its_time_to_live_has_passed():
    clock, load = Clock(), Loader()
    memo = Memo(ttl=30, clock=clock)
    assert memo.get("a", load("a")) == "a #1"
    clock.now += 29.9
    assert memo.get("a", load("a")) == "a #1"
    assert load.calls == 1
    clock.now += 0.1
    assert memo.get("a", load("a")) == "a #2"
    assert memo.get("a", load("a")) == "a #2"
    assert load.calls == 2


def test_keys_are_remembered_separately():
    clock, load = Clock(), Loader()
    memo = Memo(ttl=30, clock=clock)
    assert memo.get(1, load(1)) == "1 #1"
    assert memo.get(2, load(2)) == "2 #2"
    assert memo.get(1, load(1)) == "1 #1"
    assert len(memo) == 2


def test_at_most_max_entries_the_oldest_stored_go_first():
    clock, load = Clock(), Loader()
    memo = Memo(ttl=30, max_entries=3, clock=clock)
    for key in "abcd":
        memo.get(key, load(key))
    assert len(memo) == 3
    assert load.calls == 4
    for key in "bcd":
        memo.get(key, load(key))
    assert load.calls == 4, "b, c and d are still remembered"
    assert memo.get("a", load("a")) == "a #5", "a was evicted"
    assert len(memo) == 3


def test_a_reload_counts_as_newly_stored():
    clock, load = Clock(), Loader()
    memo = Memo(ttl=10, max_entries=2, clock=clock)
    memo.get("a", load("a"))
    clock.now += 5
    memo.get("b", load("b"))
    clock.now += 6  # a expired, b not
    assert memo.get("a", load("a")) == "a #3"
    memo.get("c", load("c"))  # evicts b, stored before a's reload
    assert memo.get("a", load("a")) == "a #3"
    assert memo.get("b", load("b")) == "b #5"


def test_none_is_not_remembered():
    clock, load = Clock(), Loader(missing={"gone"})
    memo = Memo(ttl=30, clock=clock)
    assert memo.get("gone", load("gone")) is None
    assert memo.get("gone", load("gone")) is None
    assert load.calls == 2 and len(memo) == 0


def test_a_key_that_disappears_is_forgotten():
    clock, load = Clock(), Loader()
    memo = Memo(ttl=10, clock=clock)
    memo.get("p", load("p"))
    clock.now += 11
    load.missing.add("p")  # e.g. the petition was hidden meanwhile
    assert memo.get("p", load("p")) is None
    assert len(memo) == 0


def test_ttl_zero_means_no_memo():
    load = Loader()
    memo = Memo(ttl=0, clock=Clock())
    assert [memo.get("a", load("a")) for _ in range(3)] == ["a #1", "a #2", "a #3"]
    assert len(memo) == 0


def test_an_app_has_one_memo_per_name():
    first, second = Flask("first"), Flask("second")
    memo = app_memo(first, "stats", 30)
    assert app_memo(first, "stats", 30) is memo
    assert app_memo(first, "other", 30) is not memo
    assert app_memo(second, "stats", 30) is not memo
    assert memo.ttl == 30
