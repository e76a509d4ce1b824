"""Persisted queries: Apollo's APQ protocol, and a manifest that can be the only list allowed.

Two kinds of hash arrive: the manifest's ids (the sha256 of the body Apollo Client
prints, `__typename` added: what a stock Apollo Client sends) and the sha256 of any
other text, such as an operation exactly as written in `operations/`. A text
"is in the manifest" when it is one of its operations, however spaced and whether
or not it has Apollo's `__typename` fields (`Manifest.allows`).

Modes (`PERSISTED_QUERIES`):
- `off`: a hash is `PERSISTED_QUERY_NOT_SUPPORTED`; full texts run.
- `apq`: the manifest's operations by id, plus any text a client registers
  (hash and text together) in Redis; an unknown hash is
  `PERSISTED_QUERY_NOT_FOUND`, so Apollo Client resends the text.
- `log-unknown`: as `apq`, and every operation outside the manifest is logged.
- `safelist`: only the manifest's operations run: by id, by their text, or by the
  hash of an equivalent text once registered (a registered text is checked again
  on every lookup, since `apq` deployments may share the store); anything else is
  `PERSISTED_QUERY_NOT_FOUND`, introspection included. Operations over a WebSocket
  carry their text and are held to the same list (`graphql_api.persisted.sockets`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from graphql_api.persisted.manifest import Manifest, sha256
from graphql_api.redis_clients import FAILURES, AnyRedis

log = logging.getLogger(__name__)
Mode = Literal["off", "apq", "log-unknown", "safelist"]
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Refusal:
    message: str
    code: str


NOT_IN_MANIFEST = Refusal(
    "only the operations of the persisted-query manifest are accepted here",
    "PERSISTED_QUERY_NOT_FOUND",
)


class PersistedQueries:
    def __init__(
        self,
        mode: Mode,
        manifest: Manifest,
        *,
        redis: AnyRedis | None,
        prefix: str,
        ttl_s: int,
        timeout_s: float = 0.1,
    ) -> None:
        self.mode = mode
        self.manifest = manifest
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s

    def _key(self, digest: str) -> str:
        return f"{self.prefix}apq:{digest}"

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | Refusal:
        """The text to execute, or why the request is refused."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return self._full_text(query)
        if self.mode == "off":
            return Refusal("persisted queries are not supported", "PERSISTED_QUERY_NOT_SUPPORTED")
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if (
            not isinstance(persisted, dict)
            or persisted.get("version") != 1
            or not (isinstance(digest, str) and _HASH.fullmatch(digest))
        ):
            return Refusal(
                "extensions.persistedQuery must be {version: 1, sha256Hash: <64 hex>}",
                "BAD_USER_INPUT",
            )
        if query is not None:
            return await self._register(digest, query)
        text = self.manifest.by_id.get(digest)
        if text is None:
            text = await self._lookup(digest)
            if text is not None and self.checked(text) is not None:
                text = None
        if text is None:
            return Refusal("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return text

    def _full_text(self, query: str | None) -> str | Refusal:
        if query is None:
            return ""
        return self.checked(query) or query

    def checked(self, query: str) -> Refusal | None:
        """Why `query` may not run in this mode (None: it may); logs it in `log-unknown`."""
        if self.mode in ("off", "apq") or self.manifest.allows(query):
            return None
        if self.mode == "safelist":
            return NOT_IN_MANIFEST
        log.info("operation outside the manifest: %s", sha256(query))
        return None

    async def _register(self, digest: str, query: str) -> str | Refusal:
        if sha256(query) != digest:
            return Refusal("provided sha does not match query", "BAD_USER_INPUT")
        if digest in self.manifest.by_id:
            return query
        refused = self.checked(query)
        if refused is not None:
            return refused
        await self._store(digest, query)
        return query

    async def _lookup(self, digest: str) -> str | None:
        if self.redis is None:
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                raw = await self.redis.get(self._key(digest))
        except FAILURES:  # TimeoutError is an OSError
            return None  # the client resends the text
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def _store(self, digest: str, query: str) -> None:
        if self.redis is None:
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.redis.set(self._key(digest), query, ex=self.ttl_s)
        except FAILURES:
            log.warning("could not register persisted query %s; it runs unregistered", digest)
