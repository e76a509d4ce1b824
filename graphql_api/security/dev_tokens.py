"""Development tokens: HS256, signed with JWT_SECRET.

Apart from graphql_api.security.tokens (which checks tokens and brings the errors, the
JWKS client and through them Strawberry and pymongo): the supervisor of `serve
--workers N` prints a development token and stays small (it loads no part of the app).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from graphql_api.settings import Settings


def mint_dev_token(
    settings: Settings, sub: str, email: str | None = None, ttl: timedelta | None = None
) -> str:
    """An HS256 token signed with JWT_SECRET, for development and tests."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub,
        "iat": now,
        "exp": now + (ttl or timedelta(days=settings.dev_token_ttl_days)),
    }
    if email:
        claims["email"] = email
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
