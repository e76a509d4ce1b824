"""Bearer tokens, verified with PyJWT: HS256 with JWT_SECRET (development), RS256 with
JWT_PUBLIC_KEY, or an identity provider's keys (JWT_JWKS_URL, security/jwks.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from cachetools import LRUCache

from graphql_api.errors import Unauthenticated
from graphql_api.security.jwks import ALGORITHMS, SigningKey, key_set
from graphql_api.settings import Settings

MAX_SUB_LENGTH = 255
MAX_KID_LENGTH = 255
LEEWAY_S = 30


@dataclass(frozen=True)
class Claims:
    sub: str
    email: str | None
    name: str | None
    expires_at: datetime


# Tokens already verified, by (token, key, algorithm, issuer, audience): a client sends
# the same token with every request until it expires, and checking its signature and
# claims again is a large part of a cached answer's time. Only successes are kept, and
# a kept token is good until its `exp` (with the same leeway), never longer.
_VERIFIED: LRUCache[tuple[str, ...], Claims] = LRUCache(maxsize=10_000)


async def verify_token(token: str, settings: Settings) -> Claims:
    """The claims of a valid token; Unauthenticated (HTTP 401) for any other. Waits only
    when a JWKS must be fetched (an unknown `kid`, or the first token)."""
    if settings.jwks_enabled:
        signing = await _provider_key(token, settings)
        key: str | jwt.PyJWK = signing.jwk
        key_text, algorithm = signing.fingerprint, signing.algorithm
    else:
        key = key_text = settings.jwt_public_key or settings.jwt_secret
        algorithm = settings.jwt_algorithm
    remembered = (
        token,
        key_text,
        algorithm,
        settings.jwt_issuer or "",
        settings.jwt_audience or "",
    )
    claims = _VERIFIED.get(remembered)
    if claims is not None and time.time() < claims.expires_at.timestamp() + LEEWAY_S:
        return claims
    claims = _verify(token, key, algorithm, settings)
    _VERIFIED[remembered] = claims
    return claims


async def _provider_key(token: str, settings: Settings) -> SigningKey:
    """The identity provider's key for this token: the one its `kid` names, and only
    for the algorithm that key is for (no `none`, no HS256 with a public key)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as e:
        raise Unauthenticated(f"the bearer token is not valid: {e}") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ALGORITHMS:
        accepted = ", ".join(sorted(ALGORITHMS))
        raise Unauthenticated(f"the bearer token is not valid: its alg is not one of {accepted}")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise Unauthenticated("the bearer token is not valid: it names no key (`kid`)")
    signing = await key_set(settings).key(kid)
    if signing is None:
        raise Unauthenticated(f"the bearer token is not valid: no signing key {kid!r}")
    if signing.algorithm != algorithm:
        raise Unauthenticated(
            f"the bearer token is not valid: key {kid!r} is for {signing.algorithm}, "
            f"not {algorithm}"
        )
    return signing


def _verify(token: str, key: str | jwt.PyJWK, algorithm: str, settings: Settings) -> Claims:
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[algorithm],  # one algorithm: no alg confusion
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
            leeway=LEEWAY_S,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the bearer token has expired") from None
    except jwt.InvalidTokenError as e:
        raise Unauthenticated(f"the bearer token is not valid: {e}") from None
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_LENGTH:
        raise Unauthenticated("the bearer token has no usable `sub` claim")
    email = payload.get("email")
    name = payload.get("name")
    return Claims(
        sub=sub,
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    return token.strip()
