"""Per-process memos read on every request: a dict with a bound.

cachetools' caches are Python all the way down: a lookup runs three or four Python
functions (its `get`, `__contains__`, `__getitem__` and the LRU's bookkeeping), and the
memos of an events page or a decoded week are looked up dozens of times a request
(cachetools was ~3% of the load mix's API samples). A `Memo` is a plain dict to read
(`get` and `in` are the dict's own, in C); only a store, on a miss, runs Python, and
drops the oldest entries (first in, first out) while the memo holds more than its bound.
A reader that wants the least recently read to go first instead says what it read
(`touch`, a dict's pop and store).
For values worth recomputing now and then, never for data: nothing here expires.

`by_identity` keeps a value for an object while the object lives (a document the
cache keeps decoded): its memo holds no object alive, so it costs no memory beyond
what the process keeps anyway.

`kept` gives bytes kept beyond the request (a memo's key, a cached value) a buffer of
their own size.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """At most `size` entries, or a total weight of `size` by `weigh` (each entry's)."""

    __slots__ = ("_weigh", "size", "weight")

    def __init__(self, size: int, weigh: Callable[[V], int] | None = None) -> None:
        super().__init__()
        self.size = size
        self._weigh = weigh
        self.weight = 0

    def __setitem__(self, key: K, value: V) -> None:
        old = super().pop(key, None)
        if self._weigh is None:
            super().__setitem__(key, value)
            while len(self) > self.size:
                del self[next(iter(self))]
            return
        if old is not None:
            self.weight -= self._weigh(old)
        super().__setitem__(key, value)
        self.weight += self._weigh(value)
        while self.weight > self.size and len(self) > 1:
            oldest = next(iter(self))
            self.weight -= self._weigh(super().pop(oldest))

    def touch(self, key: K) -> None:
        """The entry (there) is made the newest, as if stored again: the last to go. For a
        memo read more often than it is stored, whose entries are not all used alike (a
        process's decoded documents: its busy users' weeks and lists)."""
        dict.__setitem__(self, key, dict.pop(self, key))

    def __delitem__(self, key: K) -> None:
        value = super().pop(key)
        if self._weigh is not None:
            self.weight -= self._weigh(value)

    def clear(self) -> None:
        super().clear()
        self.weight = 0


def by_identity(memo: dict[int, V], obj: Any, value: V) -> V:
    """Keeps `value` in `memo` under `id(obj)` until `obj` is freed (the entry goes as
    it dies, before its id can be another object's): read it back with
    `memo.get(id(obj))`. An object that cannot be weakly referred to is not kept.

    A weak reference with a callback, itself kept until the callback: ~0.5 µs, where
    `weakref.finalize` (a registry, a lock, an atexit hook) costs ~1.8 µs to set up and
    call, and a page of events keeps two values for each of its events."""
    key = id(obj)

    def gone(ref: weakref.ref[Any]) -> None:
        _WATCHING.pop(id(ref), None)
        memo.pop(key, None)

    try:
        watching = weakref.ref(obj, gone)
    except TypeError:
        return value
    _WATCHING[id(watching)] = watching
    memo[key] = value
    return value


# The weak references `by_identity` watches with (a reference freed before its object
# would never call back), by their own ids: a weak reference hashes as its object does,
# and the objects watched (pydantic models: Beanie's documents) have no hash.
_WATCHING: dict[int, weakref.ref[Any]] = {}


def kept(raw: bytes) -> bytes:
    """`raw` in a buffer of its own size, for bytes kept beyond the request (the
    in-process cache's values, memos' keys). orjson (3.12 and later) hands back the
    buffer it wrote into, which is at least 4 KB, reserved ahead for each container it
    met, and never trims it: `len` is the JSON's, the memory held is the buffer's. An
    event's JSON (~640 bytes) held ~8 KB: the decoded documents' memo (in
    graphql_api.cache.codecs) held 40 MB in its keys alone, and the in-process cache,
    bounded by `len`, several times its bound. A copy costs ~0.1 µs a KB."""
    return bytes(memoryview(raw))


_ABSENT: Any = object()


class Expiring(Generic[K, V]):
    """A memo whose entries go `ttl_s` after they were stored, bounded by the total of
    `weigh` over its values (`size`): the cache's in-process level (L1).

    cachetools' `TTLCache` runs half a dozen Python functions for a lookup (its `get`,
    `__contains__`, `__getitem__`, a timer's context manager, the expiry of its links),
    some 2% of the load mix's API samples. Here a lookup is one method: a look at when
    the oldest entry goes, then the dict's own lookup. Every entry lives as long, so
    the order they were stored in is the order they go in: entries are dropped from the
    oldest while theirs has passed (on any read or write), or while the memo weighs
    more than `size` (the oldest first, as they would go first anyway). A value
    heavier than `size` is not kept."""

    __slots__ = ("_clock", "_data", "_next", "_stored", "_weigh", "size", "ttl_s", "weight")

    def __init__(
        self,
        size: int,
        ttl_s: float,
        weigh: Callable[[V], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self.weight = 0
        self._weigh = weigh
        self._clock = clock
        self._data: dict[K, V] = {}
        self._stored: dict[K, float] = {}  # when each goes, oldest first
        self._next = math.inf  # when the oldest goes

    def _expire(self) -> None:
        now = self._clock()
        stored = self._stored
        while stored:
            oldest = next(iter(stored))
            goes = stored[oldest]
            if goes > now:
                self._next = goes
                return
            self._drop(oldest)
        self._next = math.inf

    def _drop(self, key: K) -> V:
        del self._stored[key]
        value = self._data.pop(key)
        self.weight -= self._weigh(value)
        return value

    def get(self, key: K, default: V | None = None) -> V | None:
        if self._next <= self._clock():
            self._expire()
        return self._data.get(key, default)

    def __getitem__(self, key: K) -> V:
        if self._next <= self._clock():
            self._expire()
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        if self._next <= self._clock():
            self._expire()
        return key in self._data

    def __setitem__(self, key: K, value: V) -> None:
        now = self._clock()
        if self._next <= now:
            self._expire()
        if key in self._data:
            self._drop(key)
        weight = self._weigh(value)
        if weight > self.size:
            return
        goes = now + self.ttl_s
        self._data[key] = value
        self._stored[key] = goes
        self.weight += weight
        self._next = min(self._next, goes)
        while self.weight > self.size:
            self._drop(next(iter(self._stored)))

    def __delitem__(self, key: K) -> None:
        if self._next <= self._clock():
            self._expire()  # an entry whose time has passed is gone: a KeyError
        self._drop(key)

    def pop(self, key: K, default: V | None = _ABSENT) -> V | None:
        if self._next <= self._clock():
            self._expire()
        if key in self._data:
            return self._drop(key)
        if default is _ABSENT:
            raise KeyError(key)
        return default

    def clear(self) -> None:
        self._data.clear()
        self._stored.clear()
        self.weight = 0
        self._next = math.inf

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        if self._next <= self._clock():
            self._expire()
        return iter(list(self._data))

    def keys(self) -> list[K]:
        return list(self)

    def values(self) -> list[V]:
        return [self._data[key] for key in self]
