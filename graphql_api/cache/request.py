"""The cache as one request sees it: the user's scopes, their versions read once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from cachetools import LRUCache

from graphql_api import eager
from graphql_api.cache.codecs import Codec
from graphql_api.cache.store import EPOCH, Cache, Tokens, user_tag

T = TypeVar("T")


SHARED = "shared:"  # scopes of data every user's answers may show (e.g. the served models)

# What the last runs of each user's operations read, in this process: the next run of
# the same operation prefetches those versions with its first batch (`prefetch`), so
# the scopes it finds only as it goes (the habits of the goals it lists, the calendars
# it shows) are at hand without a round trip each. A hint only: a scope it does not
# name is read as before. Runs of one operation may read somewhat different scopes (a
# page of events of another range, other weeks): the hint is what the last run read,
# then what the runs before it read, the most recent first.
RECENT_RUNS = 2_000  # (user, operation) pairs
RECENT_SCOPES = 64  # prefetched at most


@dataclass
class _Runs:
    last: dict[str, str]  # the last run's reads (as they grow, while it runs)
    earlier: dict[str, None]  # the scopes runs before it read, the most recent last


_recent: LRUCache[tuple[str, str | None], _Runs] = LRUCache(maxsize=RECENT_RUNS)


def _after(runs: _Runs | None, read: dict[str, str]) -> _Runs:
    """The runs with `read` as the last: the one before it joins the earlier ones."""
    if runs is None:
        return _Runs(read, {})
    earlier = dict(runs.earlier)
    for name in runs.last:
        earlier.pop(name, None)
        earlier[name] = None
    for name in list(itertools.islice(earlier, max(0, len(earlier) - RECENT_SCOPES))):
        del earlier[name]
    return _Runs(read, earlier)


class _Batch:
    """Versions asked for in one turn of the event loop, read in one round trip; each
    caller waits on a future of its own (a cancelled caller cancels only its own)."""

    __slots__ = ("names", "waiters")

    def __init__(self) -> None:
        self.names: dict[str, None] = {}
        self.waiters: list[asyncio.Future[None]] = []


@dataclass(frozen=True)
class Held(Generic[T]):
    """A cached value as a writer read it before its write (`RequestCache.hold`)."""

    name: str
    names: list[str]  # the full names of its scopes, the epoch first
    tokens: list[str]  # their versions then
    value: T | None  # None: nothing was cached
    # Those of its scopes the write leaves alone (full names): not bumped by it.
    kept: frozenset[str] = frozenset()


class RequestCache:
    """Scopes are the user's own (`goals`, `habit:<id>`, `cal:<id>`, ...): the user id is
    part of every scope and every key (`{u:<id>}`, a hash tag on a Redis Cluster), so no
    key can hold another user's data. Scopes
    named `shared:...` are the same for everyone (they version data, not hold it)."""

    def __init__(self, cache: Cache, user_id: str) -> None:
        self.cache = cache
        self.user_id = user_id
        # What this request's answer was read under, for the response cache: the
        # version of every scope, whether anything was read without one, and until
        # when it holds (answers that move with the clock).
        self.read: dict[str, str] = {}
        self.complete = True
        self.until: datetime | None = None
        # The operation's name, for the hint of what its next run will read.
        self.operation: str | None = None
        self._remembered = False
        # The tokens read so far, for the calls that find every scope they name here:
        # answered at once, where the loader would take a turn of the event loop each.
        self._known: dict[str, str] = {}
        # The versions this request made (its writes' bumps; the scopes it found without
        # one: `Tokens.minted`), and those its bumps replaced.
        self._minted: set[str] = set()
        self._replaced: dict[str, str | None] = {}
        # Versions that could not be read (Redis unavailable): not asked for again by
        # this request, whose answer then goes uncached.
        self._unread: set[str] = set()
        # The batch this turn's reads join, and the batch each name not yet known is in.
        self._batch: _Batch | None = None
        self._reading: dict[str, _Batch] = {}

    def _scope(self, name: str) -> str:
        return name if name.startswith(SHARED) else f"{user_tag(self.user_id)}:{name}"

    def _read(self, names: list[str]) -> set[_Batch]:
        """The batches that read these versions: this turn's for those not asked for yet
        (sent at the end of the turn, with every other name asked for in it). Those known
        already, or that could not be read, are not asked for again."""
        batches: set[_Batch] = set()
        for name in names:
            if name in self._known or name in self._unread:
                continue
            batch = self._reading.get(name)
            if batch is None:
                batch = self._batch
                if batch is None:
                    batch = self._batch = _Batch()
                    asyncio.get_running_loop().call_soon(self._send)
                batch.names[name] = None
                self._reading[name] = batch
            batches.add(batch)
        return batches

    def _send(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            # A failed read matters only to whoever awaits it.
            asyncio.ensure_future(self._fetch(batch)).add_done_callback(eager.retrieved)

    async def _fetch(self, batch: _Batch) -> None:
        names = list(batch.names)
        failure: BaseException | None = None
        tokens: Tokens | None = None
        try:
            tokens = await self.cache.versions(names)
            if tokens is not None:
                self._minted |= tokens.minted
        except BaseException as e:
            failure = e
            raise
        finally:
            for name in names:
                # A bump while this was on its way has the newer token: keep that one.
                if tokens is not None and (token := tokens.get(name)) is not None:
                    self._known.setdefault(name, token)
                elif name not in self._known:
                    self._unread.add(name)
                if self._reading.get(name) is batch:
                    del self._reading[name]
            for waiter in batch.waiters:
                if waiter.done():
                    continue
                if failure is None:
                    waiter.set_result(None)
                elif isinstance(failure, asyncio.CancelledError):
                    waiter.cancel()
                else:
                    waiter.set_exception(failure)
                    waiter.exception()  # retrieved: the caller may be gone

    async def _wait(self, names: list[str]) -> None:
        """Until these versions have been read (or could not be). Its waiter joins every
        batch before it waits on any: a batch that ends while it waits on another has
        answered it too (one joined only then would never be answered)."""
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[None]] = []
        for batch in self._read(names):
            waiter = loop.create_future()
            batch.waiters.append(waiter)
            waiters.append(waiter)
        for waiter in waiters:
            await waiter

    async def tokens(self, scopes: list[str]) -> list[str] | None:
        """The version tokens of these scopes (and the epoch); None: bypass the cache."""
        if not self.cache.enabled:
            return None
        names = [EPOCH, *(self._scope(s) for s in scopes)]
        known = self._known
        if not all(name in known for name in names):
            await self._wait(names)
        tokens = [t for t in map(known.get, names) if t is not None]
        if len(tokens) < len(names):
            self.complete = False
            return None
        self.read.update(zip(names, tokens, strict=True))
        if not self._remembered:  # this run's reads (as they grow) are the next run's hint
            key = self.user_id, self.operation
            _recent[key] = _after(_recent.get(key), self.read)
            self._remembered = True
        return tokens

    def prefetch(self, *scopes: str, first_run: bool = False) -> None:
        """Reads these scopes' versions with the request's next batch, without counting
        them as shown, and with them those the last run of this operation read: those
        the answer uses later are at hand then, and the request reads its versions in
        fewer round trips (each some 60-150 µs of CPU). Reading a version earlier than
        needed is safe: what is cached under it was read after it. `first_run`: the
        scopes are only a guess for an operation not run yet (in this process); once
        it has run, what it read is the better one, and they are left out."""
        if self.cache.enabled:
            last = self._last_read()
            names = [] if first_run and last else [self._scope(scope) for scope in scopes]
            names += [n for n in last if n not in names]
            self._read(names)

    def hint(self, first: tuple[str, ...] = ()) -> list[str]:
        """The scopes (full names) the last runs of this operation read, the epoch first:
        those whose versions the next run is likely to read (see `prefetch`). Before any
        run of it (in this process, or since its runs were forgotten), the scopes
        `first` names: a guess."""
        last = self._last_read() or [self._scope(scope) for scope in first]
        return [EPOCH, *(n for n in last if n != EPOCH)]

    def _last_read(self) -> list[str]:
        """What the last run of this operation read, then the runs before it (by full
        names, the most recent first), at most RECENT_SCOPES."""
        runs = _recent.get((self.user_id, self.operation))
        if runs is None:
            return []
        names = list(itertools.islice(runs.last, RECENT_SCOPES))
        for name in reversed(runs.earlier):
            if len(names) >= RECENT_SCOPES:
                break
            if name not in runs.last:
                names.append(name)
        return names

    def learn(self, tokens: Tokens) -> None:
        """Versions this request has just read elsewhere (the whole-answer cache's look at
        what a stored answer showed, by their full names): its reads take them from here,
        without asking Redis again. Like a prefetch, they are read early, which is safe."""
        for name, token in tokens.items():
            self._known.setdefault(name, token)
        self._minted |= tokens.minted

    def known(self) -> Tokens:
        """The versions this request has read so far, by their full names, and those it
        made (for `learn`)."""
        return Tokens(self._known, frozenset(self._minted))

    def remember(self, read: dict[str, str]) -> None:
        """What this run of the operation read, for the next run's prefetch, when it was
        read in other requests' caches (the parts of its answer)."""
        key = self.user_id, self.operation
        runs = _recent.get(key)
        if runs is not None and runs.last is self.read:  # this run's own, replaced
            runs = _Runs({}, runs.earlier)
        _recent[key] = _after(runs, dict(read))

    async def depend_on(self, *scopes: str) -> None:
        """Records that the answer shows data of these scopes, read without the cache."""
        if self.cache.enabled:
            await self.tokens(list(scopes))

    def untracked(self) -> None:
        """The answer shows data no scope covers: it must not be cached whole."""
        self.complete = False

    def valid_until(self, moment: datetime) -> None:
        """The answer shows something that changes at `moment` (the clock moving on)."""
        self.until = moment if self.until is None else min(self.until, moment)

    def key(self, name: str, tokens: list[str]) -> str:
        return self.cache.key(user_tag(self.user_id), name, *tokens)

    async def cached(
        self,
        name: str,
        scopes: list[str],
        ttl_s: float,
        compute: Callable[[], Awaitable[T]],
        codec: Codec[T],
    ) -> T:
        """`compute()`, cached under `name` until one of `scopes` is bumped or `ttl_s` passes."""
        tokens = await self.tokens(scopes)
        if tokens is None:
            return await compute()
        return await self.cache.get_or_compute(
            self.key(name, tokens),
            ttl_s,
            compute,
            codec.encode,
            codec.decode,
            stored=not self.made(tokens),
        )

    def made(self, tokens: list[str]) -> bool:
        """Whether this request made one of these versions (its own write's bump, or a
        scope it found without one): nothing is stored under them in Redis but what
        another process may have filled in the moment since, so Redis is not asked
        (what this process keeps is: a carry stores there under its bump's version)."""
        return not self._minted.isdisjoint(tokens)

    async def bump(self, *scopes: str | None) -> None:
        """After a write: everything cached under these scopes is retired."""
        names = [self._scope(s) for s in scopes if s]
        bumped = await self.cache.bump(names)
        for scope, token in bumped.tokens.items():
            self._known[scope] = token
            self._unread.discard(scope)
            self._minted.add(token)
        self._replaced.update(bumped.replaced)

    async def hold(
        self, name: str, scopes: list[str], codec: Codec[T], *, kept: tuple[str, ...] = ()
    ) -> Held[T] | None:
        """Before a write that changes a cached value in a way the writer can apply
        itself: the value cached under `name` now (None if none is), with the versions
        it is cached under. `kept`: those of `scopes` the write does not bump (a week of
        events is also kept under its calendar's `days:`, which one event's write leaves
        alone). See `carry`."""
        tokens = await self.tokens(scopes)
        if tokens is None:
            return None
        key = self.key(name, tokens)
        raw = (await self.cache.get_many([key])).get(key)
        names = [EPOCH, *(self._scope(s) for s in scopes)]
        value = None if raw is None else codec.decode(raw)
        return Held(name, names, tokens, value, frozenset(self._scope(s) for s in kept))

    async def carry(self, held: Held[T], value: T, ttl_s: float, codec: Codec[T]) -> bytes | None:
        """After the write and its bump: `value` (the held one with the write applied) is
        cached under the new versions, so the next read need not compute it again; but
        only when this request's bump replaced every version the value was held under.
        Then nothing else was written meanwhile (any other writer bumps too, after its
        write), and the held value was read after every earlier write's bump. A write
        that lands between the hold and the bump without having bumped yet is the
        newer version's to retire: its own bump comes after this one.

        A scope the write leaves alone (`kept`) keeps the version it was held under, in
        the key the value goes to: if another write bumped it meanwhile, that key is one
        no read looks for any more but a read that began before that bump, which could
        as well have found the value before it.

        The value's bytes as the cache keeps them, if it was cached; None if not."""
        for name, token in zip(held.names[1:], held.tokens[1:], strict=True):
            if name in held.kept:
                if name in self._replaced or self._known.get(name) != token:
                    return None
            elif self._replaced.get(name) != token:
                return None
        tokens = [self._known.get(name) for name in held.names]
        if tokens[0] != held.tokens[0] or any(t is None for t in tokens):
            return None
        key = self.key(held.name, [t for t in tokens if t is not None])
        return (await self.cache.set_many({key: codec.encode(value)}, ttl_s))[key]
