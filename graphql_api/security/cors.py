"""Browsers on other origins (CORS_ORIGINS): Starlette's CORSMiddleware, told what our
clients send and what they read."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from graphql_api.settings import Settings

# What Apollo Client and our other clients put on a request. Content-Type
# (application/json) and Authorization make every call preflighted.
REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Apollo-Require-Preflight",
    "Idempotency-Key",
    "X-Request-ID",
    # Apollo Client's client awareness (`name` and `version` given to ApolloClient).
    "apollographql-client-name",
    "apollographql-client-version",
)
# What a client reads off an answer beyond the CORS-safelisted headers.
RESPONSE_HEADERS = ("X-Request-ID", "Retry-After", "Idempotent-Replayed")


def cors(settings: Settings) -> list[Middleware]:
    """The middleware for CORS_ORIGINS; none when it is empty (no cross-origin access:
    a preflight is 405, and no answer carries Access-Control-Allow-Origin)."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=("GET", "POST"),
            allow_headers=REQUEST_HEADERS,
            allow_credentials=settings.cors_allow_credentials,
            expose_headers=RESPONSE_HEADERS,
            max_age=settings.cors_max_age,
        )
    ]
