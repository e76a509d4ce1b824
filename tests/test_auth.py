"""Bearer tokens: who may ask, and what a refused client sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from graphql_api.security.tokens import verify_token
from graphql_api.settings import Settings
from tests.conftest import Client


def token(settings: Settings, **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {"sub": "someone", "iat": now, "exp": now + timedelta(hours=1), **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, settings.jwt_secret)


async def me(http: httpx.AsyncClient, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not bearer",
        "empty bearer",
        "garbage",
        "expired",
        "bad signature",
        "no sub",
        "no exp",
        "alg none",
    ],
)
async def test_a_refused_token_gets_401_and_unauthenticated(
    http: httpx.AsyncClient, settings: Settings, case: str
) -> None:
    # given
    past = datetime.now(UTC) - timedelta(hours=2)
    authorization = {
        "missing": None,
        "not bearer": "Basic dXNlcjpwYXNz",
        "empty bearer": "Bearer ",
        "garbage": "Bearer not.a.jwt",
        "expired": f"Bearer {token(settings, exp=past)}",
        "bad signature": "Bearer "
        + jwt.encode({"sub": "x", "exp": past + timedelta(days=1)}, "x" * 40),
        "no sub": f"Bearer {token(settings, sub=None)}",
        "no exp": f"Bearer {token(settings, exp=None)}",
        "alg none": "Bearer "
        + jwt.encode({"sub": "x", "exp": past + timedelta(days=1)}, "", algorithm="none"),
    }[case]
    # when
    r = await me(http, authorization)
    # then
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_the_user_is_created_on_first_sight_with_the_tokens_email(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    # given
    bearer = f"Bearer {token(settings, sub='first-sight', email='new@example.com')}"
    # when
    first = await http.post(
        "/graphql", json={"query": "{ me { id email } }"}, headers={"Authorization": bearer}
    )
    again = await http.post(
        "/graphql", json={"query": "{ me { id email } }"}, headers={"Authorization": bearer}
    )
    # then
    assert first.json()["data"]["me"]["email"] == "new@example.com"
    assert again.json()["data"]["me"]["id"] == first.json()["data"]["me"]["id"]


async def test_graphiql_loads_without_a_token(http: httpx.AsyncClient) -> None:
    r = await http.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "graphiql" in r.text.lower()


async def test_introspection_alone_needs_no_token(anonymous: Client) -> None:
    r = await anonymous.execute("{ __schema { queryType { name } } }")
    assert r.data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_introspection_mixed_with_data_needs_a_token(anonymous: Client) -> None:
    r = await anonymous.execute("{ __typename me { id } }")
    assert (r.status, r.codes) == (401, ["UNAUTHENTICATED"])


def _rsa_pair() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


async def test_rs256_tokens_are_verified_with_the_public_key_only() -> None:
    # given
    key, public = _rsa_pair()
    settings = Settings(jwt_public_key=public, jwt_issuer="https://id.example", jwt_audience="api")
    exp = datetime.now(UTC) + timedelta(minutes=5)
    good = jwt.encode(
        {"sub": "u1", "exp": exp, "iss": "https://id.example", "aud": "api"}, key, "RS256"
    )
    # then
    assert (await verify_token(good, settings)).sub == "u1"
    wrong_audience = jwt.encode(
        {"sub": "u1", "exp": exp, "iss": "https://id.example", "aud": "x"}, key, "RS256"
    )
    wrong_issuer = jwt.encode(
        {"sub": "u1", "exp": exp, "iss": "https://evil", "aud": "api"}, key, "RS256"
    )
    # an HS256 token signed with the public key text: the classic algorithm confusion
    confused = jwt.encode(
        {"sub": "u1", "exp": exp, "iss": "https://id.example", "aud": "api"}, "k" * 64, "HS256"
    )
    for refused in (wrong_audience, wrong_issuer, confused):
        with pytest.raises(Exception, match="not valid"):
            await verify_token(refused, settings)


async def test_a_token_verified_before_is_still_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a token good for one more minute, verified (and so remembered) once
    settings = Settings()
    exp = datetime.now(UTC) + timedelta(minutes=1)
    short = token(settings, sub="u1", exp=exp)
    assert (await verify_token(short, settings)).sub == "u1"
    # when: the clock passes its expiry and the 30 s leeway
    later = exp.timestamp() + 31
    monkeypatch.setattr("graphql_api.security.tokens.time.time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _frozen_datetime(later))
    # then
    with pytest.raises(Exception, match="expired"):
        await verify_token(short, settings)


async def test_a_remembered_token_is_not_accepted_under_another_secret() -> None:
    # given: a token verified with the secret that signed it
    signer = Settings(jwt_secret="s" * 40)
    other = Settings(jwt_secret="o" * 40)
    signed = token(signer, sub="u1")
    assert (await verify_token(signed, signer)).sub == "u1"
    # then: a server with another secret refuses it
    with pytest.raises(Exception, match="not valid"):
        await verify_token(signed, other)


def _frozen_datetime(timestamp: float) -> type[datetime]:
    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:
            return cls.fromtimestamp(timestamp, tz)

    return Frozen
