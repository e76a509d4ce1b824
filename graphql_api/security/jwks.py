"""An identity provider's signing keys: its JWKS document, fetched with httpx off the
request path as much as possible.

PyJWT's PyJWKClient fetches with urllib (blocking the event loop), ignores the
provider's Cache-Control and fetches again for every unknown `kid`, so a flood of
tokens with made-up kids would be a flood of fetches. Here:

- the set is kept for the provider's `Cache-Control: max-age` (300 s without one,
  between JWT_JWKS_MIN_INTERVAL_S and a day), then refreshed in the background while
  the old set goes on serving;
- an unknown `kid` waits for one fetch, shared by everyone asking at that moment, and
  only if the last fetch began at least JWT_JWKS_MIN_INTERVAL_S ago (else: refused);
- a provider that cannot be reached (or sends nonsense) leaves the previous set in
  place, and is asked again after the same interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from graphql_api.settings import Settings

log = logging.getLogger(__name__)

# Asymmetric algorithms only: a JWKS is public, so a symmetric (`oct`) key in one,
# or an HS256 token checked against a public key, would let anyone sign.
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
DEFAULT_MAX_AGE_S = 300.0
LONGEST_MAX_AGE_S = 86_400.0
FETCH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SigningKey:
    jwk: PyJWK
    # The key's JWK as fetched: verified tokens are remembered under it, so a kid that
    # is removed, or comes back with another key, verifies again.
    fingerprint: str

    @property
    def algorithm(self) -> str:
        return self.jwk.algorithm_name


def max_age_of(response: httpx.Response) -> float | None:
    """Seconds the provider says its answer stays fresh (less what a cache already held)."""
    directives = [d.strip().lower() for d in response.headers.get("cache-control", "").split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.strip().isdigit():
            age = response.headers.get("age", "0")
            return float(value) - (float(age) if age.isdigit() else 0.0)
    return None


def signing_keys(document: object) -> dict[str, SigningKey]:
    """The usable signing keys of a JWKS document, by kid."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no `keys` list)")
    keys: dict[str, SigningKey] = {}
    for data in document["keys"]:
        if not isinstance(data, dict) or not isinstance(data.get("kid"), str):
            continue
        if data.get("use", "sig") != "sig" or data.get("kty") not in {"RSA", "EC"}:
            continue
        try:
            jwk = PyJWK(data)
        except PyJWTError:
            continue  # a key type or curve PyJWT cannot use: the others still serve
        if jwk.algorithm_name in ALGORITHMS:
            keys[data["kid"]] = SigningKey(jwk, json.dumps(data, sort_keys=True))
    if not keys:
        raise ValueError("the JWKS has no usable signing key")
    return keys


class KeySet:
    """The signing keys of one JWKS (JWT_JWKS_URL, or the one JWT_ISSUER's OpenID
    configuration names), kept fresh as described above."""

    def __init__(
        self,
        jwks_url: str | None,
        issuer: str | None,
        min_interval_s: float,
        require_https: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock  # swappable: tests move it past a max-age or an interval
        self._jwks_url = jwks_url
        self._issuer = issuer  # for discovery, when there is no jwks_url
        self._min_interval_s = min_interval_s
        self._require_https = require_https
        self._keys: dict[str, SigningKey] = {}
        self._fresh_until = -math.inf
        self._last_fetch = -math.inf
        self._fetching: asyncio.Task[None] | None = None

    async def key(self, kid: str) -> SigningKey | None:
        """The current key of this kid, or None: not in the set even after the one fetch
        an unknown kid may cause."""
        now = self.clock()
        found = self._keys.get(kid)
        if found is not None:
            if now >= self._fresh_until and self._may_fetch(now):
                self._start_fetch()  # the set is stale: this request goes on with it
            return found
        fetching = self._current_fetch()
        if fetching is None and self._may_fetch(now):
            fetching = self._start_fetch()
        if fetching is not None:
            # shielded: a caller that goes away does not cancel everyone's fetch
            await asyncio.shield(fetching)
        return self._keys.get(kid)

    async def refreshed(self) -> None:
        """Until the fetch under way, if any, is done."""
        fetching = self._current_fetch()
        if fetching is not None:
            await asyncio.shield(fetching)

    def _may_fetch(self, now: float) -> bool:
        return self._current_fetch() is None and now - self._last_fetch >= self._min_interval_s

    def _current_fetch(self) -> asyncio.Task[None] | None:
        task = self._fetching
        # A task of another event loop (a test's) can be neither awaited nor trusted.
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return None
        return task

    def _start_fetch(self) -> asyncio.Task[None]:
        self._last_fetch = self.clock()
        self._fetching = asyncio.get_running_loop().create_task(self._refresh())
        return self._fetching

    async def _refresh(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S) as client:
                url = self._jwks_url or await self._discover(client)
                response = await client.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = signing_keys(response.json())
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as e:
            # The previous keys keep serving; asked again after the interval.
            log.warning("JWKS fetch failed, keeping %d known keys: %s", len(self._keys), e)
            return
        max_age = max_age_of(response)
        lifetime = DEFAULT_MAX_AGE_S if max_age is None else max_age
        lifetime = min(max(lifetime, self._min_interval_s), LONGEST_MAX_AGE_S)
        self._keys = keys
        self._fresh_until = self.clock() + lifetime
        log.info("JWKS fetched: %d signing keys, fresh for %.0f s", len(keys), lifetime)

    async def _discover(self, client: httpx.AsyncClient) -> str:
        """The jwks_uri of the issuer's OpenID configuration (asked once per process)."""
        issuer = self._issuer or ""
        response = await client.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        response.raise_for_status()
        configuration = response.json()
        if not isinstance(configuration, dict) or configuration.get("issuer") != issuer:
            # OpenID Connect Discovery 1.0, section 4.3: the issuer must be the one asked.
            raise ValueError(f"the OpenID configuration is not {issuer!r}'s")
        jwks_uri = configuration.get("jwks_uri")
        if not isinstance(jwks_uri, str) or (
            self._require_https and not jwks_uri.startswith("https://")
        ):
            raise ValueError(f"the OpenID configuration has no usable jwks_uri: {jwks_uri!r}")
        self._jwks_url = jwks_uri
        return jwks_uri


_KEY_SETS: dict[tuple[object, ...], KeySet] = {}


def key_set(settings: Settings) -> KeySet:
    """The process's key set for these settings (one per JWKS, like the verified tokens)."""
    source = (
        settings.jwt_jwks_url,
        settings.jwt_issuer if settings.jwt_oidc_discovery else None,
        settings.jwt_jwks_min_interval_s,
        settings.is_production,
    )
    found = _KEY_SETS.get(source)
    if found is None:
        found = _KEY_SETS[source] = KeySet(
            settings.jwt_jwks_url,
            settings.jwt_issuer if settings.jwt_oidc_discovery else None,
            settings.jwt_jwks_min_interval_s,
            require_https=settings.is_production,
        )
    return found
