"""A local OpenID Connect provider's key side, for tests: its discovery document, its
JWKS (with a Cache-Control of the test's choosing), key rotation, tokens signed with
any of its keys, and a count of every request it answers.

Serve it with tests.fakes.serve.serving(provider.app) and set `provider.url`.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

AUDIENCE = "scheduling-api"


@dataclass
class Key:
    kid: str
    algorithm: str  # RS256 or ES256
    private: Any

    @property
    def jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS256" else ECAlgorithm.to_jwk
        data: dict[str, Any] = to_jwk(self.private.public_key(), as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.algorithm}


def new_key(algorithm: str, kid: str) -> Key:
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    return Key(kid, algorithm, private)


class IdentityProvider:
    def __init__(self, max_age_s: int | None = 600) -> None:
        self.url = ""  # set once it is served
        self._kids = itertools.count(1)
        self.rsa = self.add("RS256")
        self.ec = self.add("ES256")
        self.published: list[Key] = [self.rsa, self.ec]
        self.max_age_s = max_age_s
        self.down = False  # every answer a 503
        self.held = threading.Event()  # while set, the JWKS is not answered
        self.requests: Counter[str] = Counter()  # path -> requests answered
        self.discovered_issuer: str | None = None  # what discovery claims (default: url)
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._configuration),
                Route("/jwks", self._jwks),
            ]
        )

    def add(self, algorithm: str) -> Key:
        return new_key(algorithm, f"key-{next(self._kids)}")

    def publish(self, *keys: Key) -> None:
        """From now on, the JWKS holds these keys only."""
        self.published = list(keys)

    def rotate(self, algorithm: str = "RS256") -> Key:
        """A new key published alongside the current ones (what providers do first)."""
        key = self.add(algorithm)
        self.published = [*self.published, key]
        return key

    def sign(
        self,
        key: Key,
        *,
        header: dict[str, Any] | None = None,
        algorithm: str | None = None,
        **claims: Any,
    ) -> str:
        """A token as the provider issues it (claims given override; None drops one)."""
        now = datetime.now(UTC)
        payload = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "idp-user",
            "email": "idp-user@example.com",
            "iat": now,
            "exp": now + timedelta(minutes=10),
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload,
            key.private,
            algorithm=algorithm or key.algorithm,
            headers={"kid": key.kid, **(header or {})},
        )

    @property
    def fetches(self) -> int:
        return self.requests["/jwks"]

    async def _configuration(self, request: Request) -> Response:
        self.requests[request.url.path] += 1
        if self.down:
            return Response(status_code=503)
        return JSONResponse(
            {
                "issuer": self.discovered_issuer or self.url,
                "jwks_uri": f"{self.url}/jwks",
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        self.requests[request.url.path] += 1
        while self.held.is_set():  # noqa: ASYNC110 - cleared from the test's thread
            await asyncio.sleep(0.01)
        if self.down:
            return Response(status_code=503)
        headers = {}
        if self.max_age_s is not None:
            headers["Cache-Control"] = f"public, max-age={self.max_age_s}"
        return JSONResponse({"keys": [key.jwk for key in self.published]}, headers=headers)
