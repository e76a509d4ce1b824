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
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast
from graphql.language.parser import parse

from graphql_api.cache.store import CACHE_REQUESTS, Cache, user_tag
from graphql_api.context import Context

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

    async def lookup(self, ctx: Context, key: str) -> tuple[orjson.Fragment, str] | None:
        """The stored data (its JSON) and Cache-Control header, if nothing it showed has
        changed."""
        cache: Cache = ctx.state.cache
        found = await cache.get_many([key], counted=False)
        if key not in found:
            CACHE_REQUESTS.labels("response", "miss").inc()
            return None
        header, _, data = bytes(found[key]).partition(b"\n")
        entry = orjson.loads(header)
        # Streaks and progress move with the user's calendar day: same day only. The
        # zone is the one the answer was made in; the profile's version vouches for it.
        if str(ctx.now.astimezone(ZoneInfo(entry["zone"])).date()) != entry["today"]:
            CACHE_REQUESTS.labels("response", "miss").inc()
            return None
        until = entry.get("until")
        if until is not None and ctx.now > datetime.fromisoformat(until):
            CACHE_REQUESTS.labels("response", "miss").inc()
            return None
        read: dict[str, str] = entry["read"]
        current = await cache.versions(list(read))
        if current != read:
            CACHE_REQUESTS.labels("response", "miss" if current else "error").inc()
            if current and ctx.request_cache is not None:
                # The answer is made again, and it reads most of these scopes again.
                ctx.request_cache.learn(current)
            return None
        CACHE_REQUESTS.labels("response", "hit").inc()
        return orjson.Fragment(data), entry["cacheControl"]

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
