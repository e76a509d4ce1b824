"""Whole answers of queries, cached under the versions of everything they showed.

An answer is stored with the version token of every scope it read (goals,
habit:<id>, cal:<id>, the user's profile, the epoch). It is served again only
while every one of those tokens is unchanged, so a write anywhere in what it
showed retires it; and only for the same user, query text, variables and
user's day (the answer remembers the day and zone it was made for). Queries
that read anything outside a scope are not stored.

An entry is its header (what it read, its day and zone, its Cache-Control) as a JSON
line, then the answer's `data` as the JSON it was sent as: a hit parses the header
only, and the data goes out as stored (an `orjson.Fragment`), never parsed and
serialized again; a miss serializes its data once, for the entry and the answer.

An answer made by parts (graphql_api.parts: a query's root fields, each read through
a context of its own) also keeps, for each part, what that part read and where its
JSON lies in the data. An entry found stale then still offers the parts whose scopes
did not change (`Kept`), and only the others are executed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast
from graphql.language.parser import parse

from graphql_api.cache.store import EPOCH, Cache, Tokens, lookups, user_tag
from graphql_api.context import FIRST_READS, Context
from graphql_api.parts import assemble

MAX_QUERY_LENGTH = 20_000


@lru_cache(maxsize=1000)
def _operation(query: str, operation_name: str | None) -> tuple[OperationType, str | None] | None:
    """The type and name of the operation the request runs (None: execution will say why)."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return None
    if operation is None:
        return None
    return operation.operation, operation.name.value if operation.name else None


def operation_name_of(query: str, operation_name: str | None) -> str | None:
    """The request's operation name, or the document's own when the request names none."""
    found = _operation(query, operation_name)
    return operation_name or (found[1] if found else None)


@dataclass(frozen=True)
class Hit:
    data: orjson.Fragment  # the stored `data`, as JSON
    cache_control: str


@dataclass(frozen=True)
class Piece:
    """One part of an answer: its value as JSON, the versions it was read under, and
    until when it holds (None: until something it read changes)."""

    value: bytes
    read: dict[str, str]
    until: str | None
    kept: bool = False  # sent as it was stored (else: executed for this answer)


@dataclass(frozen=True)
class Kept:
    """A stale answer's parts that are still current, by their keys. A stale answer
    also tells that this query, with these variables, was answered without errors
    (validated, within the limits), so its root fields may be executed apart."""

    pieces: dict[str, Piece]
    cache_control: str


def _entry(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """A stored answer's header and its data (the JSON as sent)."""
    header, _, data = bytes(raw).partition(b"\n")
    return orjson.loads(header), data


class ResponseCache:
    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s

    def key(
        self, ctx: Context, query: str, variables: Any, operation_name: str | None
    ) -> str | None:
        """The answer's key, or None when this request's answer is not cached whole."""
        if self.ttl_s <= 0:  # whole answers switched off
            return None
        if (
            ctx.request_cache is None
            or not ctx.state.cache.enabled
            or len(query) > MAX_QUERY_LENGTH
        ):
            return None
        found = _operation(query, operation_name)
        if found is None or found[0] is not OperationType.QUERY:
            return None
        what = orjson.dumps([operation_name, query, variables], option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(what).hexdigest()
        return ctx.state.cache.key(user_tag(ctx.user_id), "answer", digest)

    async def lookup(self, ctx: Context, key: str) -> Hit | Kept | None:
        """The stored data (its JSON) and Cache-Control header, if nothing it showed has
        changed; else, for an answer of several root fields, the parts of it that are
        still current (`Kept`: none for an answer stored whole)."""
        entry, current = await self._read(ctx, key)
        if entry is None:
            lookups("response", "miss").inc()
            return None
        header, data = entry
        # Streaks and progress move with the user's calendar day: same day only. The
        # zone is the one the answer was made in; the profile's version vouches for it.
        if str(ctx.now.astimezone(ZoneInfo(header["zone"])).date()) != header["today"]:
            lookups("response", "miss").inc()
            return None
        until = header.get("until")
        expired = until is not None and ctx.now > datetime.fromisoformat(until)
        if expired and "parts" not in header:  # nothing of it can be kept: no versions read
            lookups("response", "miss").inc()
            return None
        read: dict[str, str] = header["read"]
        if current is None:
            lookups("response", "error").inc()
            return None
        if expired or any(current.get(scope) != token for scope, token in read.items()):
            lookups("response", "miss").inc()
            return self._kept(ctx, header, data, current)
        lookups("response", "hit").inc()
        return Hit(orjson.Fragment(data), header["cacheControl"])

    @staticmethod
    async def _read(
        ctx: Context, key: str
    ) -> tuple[tuple[dict[str, Any], bytes] | None, dict[str, str] | None]:
        """The entry at `key` (None: none is stored), and the current versions of what it
        read (None: Redis did not say). One round trip in the common case: the entry
        (unless L1 has it) is read with those versions, or, before it is known what it
        read, with the versions of what the last run of its operation read
        (`RequestCache.hint`). An answer not served is made again and reads most of those
        versions again: they are handed to the request (`learn`), not asked for twice."""
        cache: Cache = ctx.state.cache
        request_cache = ctx.request_cache
        hint = request_cache.hint(FIRST_READS) if request_cache is not None else [EPOCH]
        raw = cache.l1.get(key)
        entry = None if raw is None else _entry(raw)
        scopes = [*entry[0]["read"], *hint] if entry is not None else hint
        current, found = await cache.versions_along(
            list(dict.fromkeys(scopes)), [] if raw is not None else [key]
        )
        if entry is None and key in found:
            entry = _entry(found[key])
        rest = [s for s in entry[0]["read"] if s not in current] if entry and current else []
        if rest and current is not None:  # it read more than the operation's last run
            more = await cache.versions(rest)
            current = (
                None if more is None else Tokens({**current, **more}, current.minted | more.minted)
            )
        if request_cache is not None and current is not None:
            request_cache.learn(current)  # read early, which is safe, even if not needed
        return entry, current

    @staticmethod
    def _kept(ctx: Context, entry: dict[str, Any], data: bytes, current: dict[str, str]) -> Kept:
        """The parts of a stale entry whose every version is still `current` and whose
        time holds (none of an answer stored whole: all of its parts are made anew)."""
        pieces: dict[str, Piece] = {}
        for part in entry.get("parts", ()):
            until = part["until"]
            fresh = all(current.get(scope) == token for scope, token in part["read"].items()) and (
                until is None or ctx.now <= datetime.fromisoformat(until)
            )
            if fresh:
                start, end = part["span"]
                pieces[part["key"]] = Piece(data[start:end], part["read"], until, kept=True)
        return Kept(pieces, entry["cacheControl"])

    async def store(
        self, ctx: Context, key: str, data: dict[str, Any], cache_control: str
    ) -> orjson.Fragment | None:
        """Stores the answer if everything it showed is versioned; its data as JSON, for
        the answer to send as it is (None: not stored, send `data`)."""
        request_cache = ctx.request_cache
        if request_cache is None or not request_cache.complete or not request_cache.read:
            return None
        header = {
            "read": request_cache.read,
            "until": request_cache.until.isoformat() if request_cache.until else None,
            "zone": ctx.viewer.timezone,
            "today": str(ctx.today),
            "cacheControl": cache_control,
        }
        try:
            encoded = orjson.dumps(data)
        except TypeError:  # a string orjson refuses (a lone surrogate): sent, not stored
            return None
        await ctx.state.cache.set_many({key: orjson.dumps(header) + b"\n" + encoded}, self.ttl_s)
        return orjson.Fragment(encoded)

    async def store_parts(
        self, ctx: Context, key: str, pieces: list[tuple[str, Piece]], cache_control: str
    ) -> orjson.Fragment:
        """Stores an answer made by parts (in the order of its root fields), with what
        each part read and where its JSON lies; its data as JSON, for the answer."""
        data, spans = assemble([(name, piece.value) for name, piece in pieces])
        read: dict[str, str] = {}
        for _, piece in pieces:
            read.update(piece.read)
        if ctx.request_cache is not None:  # the next run prefetches what its parts read
            ctx.request_cache.remember(read)
        untils = [piece.until for _, piece in pieces if piece.until is not None]
        header = {
            "read": read,
            "until": min(untils, key=datetime.fromisoformat) if untils else None,
            "zone": ctx.viewer.timezone,
            "today": str(ctx.today),
            "cacheControl": cache_control,
            "parts": [
                {"key": name, "read": piece.read, "until": piece.until, "span": span}
                for (name, piece), span in zip(pieces, spans, strict=True)
            ],
        }
        await ctx.state.cache.set_many({key: orjson.dumps(header) + b"\n" + data}, self.ttl_s)
        return orjson.Fragment(data)
