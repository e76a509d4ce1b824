"""The typed per-request context that every resolver receives as `info.context`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

from beanie import Document
from pymongo import ReadPreference
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from graphql_api import eager
from graphql_api.cache import codecs
from graphql_api.cache.request import Held, RequestCache
from graphql_api.errors import Unauthenticated
from graphql_api.memo import Memo
from graphql_api.security.auth import ensure_user
from graphql_api.security.tokens import Claims
from graphql_api.settings import Settings
from graphql_api.state import AppState
from loaders import Loaders, create_loaders
from loaders.base import find_rows, naive_times
from models import User
from models.base import as_read, matching, ref

T = TypeVar("T")
# MONGO_SECONDARY_READS: the lists queries may read from a replica set's secondaries
# (a goal or habit written a moment ago may show a moment late there).
SECONDARY_SCOPES = frozenset({"goals", "habits"})
SECONDARY_CACHE_TTL_S = 5
# The scopes of the user's lists (see `documents`), which nearly every operation reads:
# their versions are read along with the user's own, the first time an operation runs
# (later, along with what its last run read: RequestCache.prefetch).
LISTS = ("goals", "habits", "calendars")
# What every operation of a user reads first: the profile (`load_viewer`) and the lists.
# A query's answer is looked up with these versions the first time it runs, before
# what its runs read is known (`RequestCache.hint`): the look-up makes the round trip
# that reading them would make.
FIRST_READS = ("profile", *LISTS)
D = TypeVar("D", bound=Document)

# The lists (`documents`) the last run of each query read, by operation name: the next
# run starts reading them along with the user's profile (`load_viewer`), so that where
# they come from Mongo (the cache off, or missing them all) they go in one command
# (`loaders.reads`) rather than the profile first and the lists a round trip later. A
# hint only: a list it names that the run does not show is read for nothing, one it
# misses is read as before.
_LISTS_READ: Memo[str, dict[str, tuple[type[Document], int]]] = Memo(2_000)


@dataclass
class Context:
    request: Request | WebSocket | None  # None for background work (cache warming)
    response: Response | WebSocket | None
    state: AppState
    request_id: str
    now: datetime
    claims: Claims | None = None
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    user: User | None = None
    auth_error: Unauthenticated | None = None
    _loaders: Loaders | None = None
    _cache: RequestCache | None = None
    _memo: dict[Any, asyncio.Future[Any]] = field(default_factory=dict)
    read_only: bool = False  # a query (not a mutation): may read from secondaries
    # A query answered by parts (graphql_api.parts): each root field's context, by its
    # response key (None: every field reads through this one).
    parts: dict[str, Context] | None = None
    _today: tuple[datetime, str, date] | None = None  # (now, zone, today): see `today`
    # The lists this run of a query reads (`documents`), the next run's hint (_LISTS_READ).
    _lists_read: dict[str, tuple[type[Document], int]] | None = None

    @classmethod
    def for_user(cls, state: AppState, user: User, request_id: str) -> Context:
        """A context for work done for the user outside any request (cache warming)."""
        ctx = cls(
            request=None, response=None, state=state, request_id=request_id, now=state.clock()
        )
        ctx.user = user
        ctx._read_as(user.sub)
        return ctx

    async def afresh(self) -> Context:
        """The same user (their profile read again) and clock, with nothing else read yet
        (no memo, loaders or scope versions): for a read that must see what changed since
        this one's."""
        user = await User.find_one(matching({"sub": self.user_id})) or self.viewer
        ctx = Context.for_user(self.state, user, self.request_id)
        ctx.now = self.now
        return ctx

    def by_parts(self) -> None:
        """Each root field of the operation reads through a context of its own from now
        on (`part_for`), so that what each showed is known apart."""
        self.parts = {}

    def part_for(self, key: str) -> Context:
        """The context of the root field `key` (see `by_parts`): the same user, token,
        clock and loaders (one query for the ids all fields ask for at once: a loader
        only reads documents, the fields that show them record their scopes), with its
        own memo and record of what it reads. The versions this request has read are
        handed on (read early: safe, see RequestCache.learn)."""
        parts = self.parts if self.parts is not None else {}
        ctx = parts.get(key)
        if ctx is None:
            ctx = parts[key] = Context(
                request=self.request,
                response=None,  # the whole answer's headers are the request's business
                state=self.state,
                request_id=self.request_id,
                now=self.now,
                claims=self.claims,
                user=self.user,
                read_only=self.read_only,
            )
            ctx._cache = RequestCache(self.state.cache, self.user_id)
            ctx._loaders = self._loaders
            ctx.cache.operation = f"{self.cache.operation}:{key}"  # its own prefetch hint
            ctx.cache.learn(self.cache.known())
        return ctx

    def authenticate(self, claims: Claims) -> None:
        """The token's user is known: the request reads through their cache and loaders."""
        self.claims = claims
        self._read_as(claims.sub)

    def _read_as(self, user_id: str) -> None:
        self._cache = RequestCache(self.state.cache, user_id)
        self._loaders = create_loaders(user_id)

    @property
    def viewer(self) -> User:
        """The user of the bearer token; the auth extension guarantees one for data fields."""
        if self.user is None:
            raise Unauthenticated("a bearer token is required")
        return self.user

    @property
    def user_id(self) -> str:
        if self.claims is not None:
            return self.claims.sub
        return self.viewer.sub

    def start_operation(self) -> None:
        """A WebSocket carries many operations over one context: each reads afresh."""
        if self.claims is not None:
            self._read_as(self.claims.sub)
        self._memo = {}
        self._lists_read = None
        self.now = self.state.clock()

    async def load_viewer(self) -> User:
        """The token's user (created on first sight), through the cache."""
        if self.user is None:
            claims = self.claims
            if claims is None:
                raise Unauthenticated("a bearer token is required")
            self.cache.prefetch(*LISTS, first_run=True)
            self._start_lists()
            reads = self.loaders.reads
            self.user = await self.cache.cached(
                "user",
                ["profile"],
                self.settings.cache_ttl_user,
                lambda: ensure_user(claims, reads),
                codecs.document(User),
            )
        return self.user

    def _start_lists(self) -> None:
        """For a query answered whole: starts reading the lists its last run read
        (`_LISTS_READ`), with the profile, and records those this run reads. Not for a
        mutation, whose reads of a list may come after its write (and must see it), nor
        for a query answered by parts, whose fields read through contexts of their own."""
        name = self.cache.operation
        if not self.read_only or self.parts is not None or name is None:
            return
        self._lists_read = {}  # the hint from its first list on (see `documents`)
        for scope, (model, ttl_s) in _LISTS_READ.get(name, {}).items():
            # Awaited by the fields that show the list; a failure is theirs to report.
            self._documents(model, scope, ttl_s).add_done_callback(eager.retrieved)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            raise Unauthenticated("a bearer token is required")
        return self._loaders

    @property
    def cache(self) -> RequestCache:
        if self._cache is None:
            raise Unauthenticated("a bearer token is required")
        return self._cache

    @property
    def request_cache(self) -> RequestCache | None:
        """The user's cache, or None before a token has named the user."""
        return self._cache

    @property
    def settings(self) -> Settings:
        return self.state.settings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.viewer.timezone)

    @property
    def today(self) -> date:
        """The user's today, in their own time zone (worked out once for the request's
        clock and the user's zone: a Dashboard asks for it per habit)."""
        zone = self.viewer.timezone
        known = self._today
        if known is not None and known[0] is self.now and known[1] == zone:
            return known[2]
        today = self.now.astimezone(ZoneInfo(zone)).date()
        self._today = (self.now, zone, today)
        return today

    def memo(self, key: Any, compute: Callable[[], Coroutine[Any, Any, T]]) -> asyncio.Future[T]:
        """A value computed once per request, however many fields ask for it at once
        (started at once: a value at hand is worked out without a task of its own). The
        future itself, to await or to gather as it is (`eager.gather` takes a future as
        it is, where a coroutine awaiting it would need a task of its own)."""
        future: asyncio.Future[T] | None = self._memo.get(key)
        if future is None:
            future = eager.start(compute())
            self._memo[key] = future
        return future

    async def documents(self, model: type[D], scope: str, ttl_s: int) -> list[D]:
        """All the user's documents of `model`: one read per request, cached under `scope`.

        Goals, habits and calendars are few per user; lists and relations (a
        goal's habits, an event's calendar) are answered from these.
        """
        lists = self._lists_read
        if lists is not None:
            if not lists and self.cache.operation is not None:
                # The next runs' hint from now on, as it grows: not before (runs started
                # meanwhile, as many are under load, keep the last complete one's).
                _LISTS_READ[self.cache.operation] = lists
            lists[scope] = (model, ttl_s)
        return await self._documents(model, scope, ttl_s)

    def _documents(self, model: type[D], scope: str, ttl_s: int) -> asyncio.Future[list[D]]:
        """The request's one read of the list (`memo`): started, or the one started."""
        secondary = (
            self.read_only and scope in SECONDARY_SCOPES and self.settings.mongo_secondary_reads
        )
        if secondary:
            # A secondary may lag a write that just bumped the scope's version:
            # what it answered is cached briefly, so the lag cannot outlive it.
            ttl_s = min(ttl_s, SECONDARY_CACHE_TTL_S)
            self.cache.valid_until(self.now + timedelta(seconds=SECONDARY_CACHE_TTL_S))

        # A query only reads them: it takes the documents the process keeps decoded, as
        # they are; a mutation (which may change them) gets copies of its own.
        read_only = self.read_only

        async def load() -> codecs.Listed[D]:
            collection = model.get_pymongo_collection()
            if secondary:
                collection = collection.with_options(
                    read_preference=ReadPreference.SECONDARY_PREFERRED
                )
            owner = matching({"userId": self.user_id})
            rows = await find_rows(naive_times(collection), owner, self.loaders.reads)
            return codecs.listed_rows(model, rows, read_only=read_only)

        codec = codecs.listed(model, read_only=read_only)

        async def cached() -> list[D]:
            return (await self.cache.cached(scope, [scope], ttl_s, load, codec)).docs

        return self.memo(("documents", scope), cached)

    async def hold_documents(self, scope: str) -> Held[bytes] | None:
        """Before a write that adds one document to the list `documents` keeps under
        `scope`: the list as it is cached now, if it is (see `carry_documents`). None
        where queries read the list from secondaries: what they cache may lag the
        primary (for seconds, `SECONDARY_CACHE_TTL_S`), and a carry would keep it for
        the list's whole time in the cache."""
        if scope in SECONDARY_SCOPES and self.settings.mongo_secondary_reads:
            return None
        held = await self.cache.hold(scope, [scope], codecs.BYTES)
        return held if held is not None and held.value is not None else None

    async def carry_documents(self, held: Held[bytes] | None, added: D, ttl_s: int) -> None:
        """After the new document's write and the bump of its list's scope: the held list
        with the document added, cached under the list's new version, so that the next
        read of the list makes no query (as a new event is carried into its cached
        weeks). The document is added as Mongo keeps it (`as_read`: times to the
        millisecond; its row's JSON, as `codecs.listed_rows` writes a query's), last,
        where a query without a sort usually finds the latest insert (Mongo promises no
        order; readers of the lists sort them, or pick by id). Held before the write,
        the list cannot show the document yet; should it (a write of the same id),
        nothing is carried. The list's JSON is extended as bytes, not parsed: orjson
        escapes every quote inside a string, so `"_id":"<id>"` is found only as a
        document's own id."""
        if held is None or held.value is None:
            return
        raw = held.value
        if f'"_id":"{ref(added)}"'.encode() in raw:
            return
        model = type(added)
        row = as_read(added)  # as `documents` reads it
        [item] = codecs.stored_each([row])
        listed = b"[" + item + b"]" if raw == b"[]" else raw[:-1] + b"," + item + b"]"
        carried = await self.cache.carry(held, listed, ttl_s, codecs.BYTES)
        if carried is not None:  # the next read here finds the list decoded
            codecs.decoded_with(model, raw, carried, at=None, row=row, json=item)

    def forget_documents(self, *scopes: str | None) -> None:
        """Drop the lists read by `documents` under these scopes, after this request's
        write bumped them: its next read takes the new version. (A list under a scope
        the write did not bump is what a read would find again.)"""
        for scope in scopes:
            if scope is not None:
                self._memo.pop(("documents", scope), None)

    def forget(self, key_prefix: Any) -> None:
        """Drop memoized values after a mutation changed what they were computed from."""
        for key in [k for k in self._memo if isinstance(k, tuple) and k[0] == key_prefix]:
            del self._memo[key]


Info: TypeAlias = StrawberryInfo[Context, None]
