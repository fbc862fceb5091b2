"""A small per-process memo with a time to live, for numbers a crowd reads at once."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from flask import Flask

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Values remembered for `ttl` seconds in this process (thread-safe), at most `max_entries`
    of them (the least recently stored go first), so it cannot fill memory.

    One load at a time per key ("single flight"): when an entry expires, one thread reloads it
    while the others keep getting the expired value, and when there is none yet, the others
    wait for that one load instead of all asking the database at once. So when the statistics
    of a petition that a crowd is watching expire, the database sees one query per process,
    not one per reader. Only found values are kept: a key whose loader returns None costs a
    load each time (and is not shared).
    """

    #: Longest a reader waits for another thread's first load before loading itself.
    WAIT_SECONDS = 30.0
    #: What readers wait on while one thread loads a key (a test's subclass counts them).
    event_type: type[threading.Event] = threading.Event

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, threading.Event] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: K, load: Callable[[], V | None]) -> V | None:
        if self.ttl <= 0:
            return load()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry[0] > self.clock() or key in self._loading):
                return entry[1]
            loading = self._loading.get(key)
            if loading is None:
                self._loading[key] = self.event_type()
        if loading is not None:
            loading.wait(self.WAIT_SECONDS)
            with self._lock:
                entry = self._entries.get(key)
            return entry[1] if entry is not None else load()
        try:
            value = load()
            with self._lock:
                if value is None:
                    self._entries.pop(key, None)
                else:
                    now = self.clock()
                    self._entries[key] = (now + self.ttl, value)
                    self._entries.move_to_end(key)
                    # Stored in order with one ttl: expired entries are at the front. Keys that
                    # carry a version (a snapshot's time) leave their old versions there.
                    while self._entries and (
                        len(self._entries) > self.max_entries
                        or next(iter(self._entries.values()))[0] <= now
                    ):
                        self._entries.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._loading.pop(key).set()


def app_memo(app: Flask, name: str, ttl: float, max_entries: int = 10_000) -> Memo:
    """The app's memo called `name`, made on first use (one per process and app)."""
    memo = app.extensions.get(name)
    if memo is None:
        memo = app.extensions.setdefault(name, Memo(ttl, max_entries))
    return memo
