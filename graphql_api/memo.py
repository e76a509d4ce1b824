"""Per-process memos read on every request: a dict with a bound.

cachetools' caches are Python all the way down: a lookup runs three or four Python
functions (its `get`, `__contains__`, `__getitem__` and the LRU's bookkeeping), and the
memos of an events page or a decoded week are looked up dozens of times a request
(cachetools was ~3% of the load mix's API samples). A `Memo` is a plain dict to read
(`get` and `in` are the dict's own, in C); only a store, on a miss, runs Python, and
drops the oldest entries (first in, first out) while the memo holds more than its bound.
For values worth recomputing now and then, never for data: nothing here expires.

`by_identity` keeps a value for an object while the object lives (a document the
cache keeps decoded): its memo holds no object alive, so it costs no memory beyond
what the process keeps anyway.

`kept` gives bytes kept beyond the request (a memo's key, a cached value) a buffer of
their own size.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

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
    `memo.get(id(obj))`. An object that cannot be weakly referred to is not kept."""
    key = id(obj)
    try:
        weakref.finalize(obj, memo.pop, key, None)
    except TypeError:
        return value
    memo[key] = value
    return value


def kept(raw: bytes) -> bytes:
    """`raw` in a buffer of its own size, for bytes kept beyond the request (the
    in-process cache's values, memos' keys). orjson (3.12 and later) hands back the
    buffer it wrote into, which is at least 4 KB, reserved ahead for each container it
    met, and never trims it: `len` is the JSON's, the memory held is the buffer's. An
    event's JSON (~640 bytes) held ~8 KB: the decoded documents' memo (in
    graphql_api.cache.codecs) held 40 MB in its keys alone, and the in-process cache,
    bounded by `len`, several times its bound. A copy costs ~0.1 µs a KB."""
    return bytes(memoryview(raw))
