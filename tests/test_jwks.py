"""Tokens from an identity provider: its JWKS (or OpenID discovery), RS256 and ES256,
rotated keys, an unreachable provider, and every forgery we know of refused with 401."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError
from starlette.applications import Starlette
from websockets.typing import Subprotocol

from graphql_api.app import create_app
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.security.jwks import key_set
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.conftest import api_process, process_env
from tests.fakes.identity_provider import AUDIENCE, IdentityProvider, Key, new_key
from tests.fakes.serve import serving

INTERVAL_S = 60.0  # JWT_JWKS_MIN_INTERVAL_S in these tests (the default)


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider(max_age_s=600)
    with serving(idp.app) as url:
        idp.url = url
        yield idp


def provider_settings(settings: Settings, idp: IdentityProvider, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "jwt_jwks_url": f"{idp.url}/jwks",
            "jwt_issuer": idp.url,
            "jwt_audience": AUDIENCE,
            "jwt_jwks_min_interval_s": INTERVAL_S,
            **overrides,
        }
    )


@pytest.fixture
def idp_settings(settings: Settings, provider: IdentityProvider) -> Settings:
    return provider_settings(settings, provider)


class Clock:
    """The key set's clock, moved by hand: max-ages and intervals pass at once."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def keys_clock(idp_settings: Settings) -> Clock:
    clock = Clock()
    key_set(idp_settings).clock = clock
    return clock


@pytest.fixture
async def api(idp_settings: Settings, app_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    """The API trusting the provider's keys (and no longer JWT_SECRET), over ASGI."""
    app: Starlette = create_app(idp_settings)
    app.state.app = dataclasses.replace(app_state, settings=idp_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def me(api: httpx.AsyncClient, token: str) -> tuple[int, Any]:
    r = await api.post(
        "/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = r.json()
    if body.get("errors"):
        return r.status_code, [e["extensions"]["code"] for e in body["errors"]]
    return r.status_code, body["data"]["me"]["email"]


def unique_sub() -> str:
    return f"idp-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_a_providers_token_gets_data(
    api: httpx.AsyncClient, provider: IdentityProvider, algorithm: str
) -> None:
    # given
    key = provider.rsa if algorithm == "RS256" else provider.ec
    token = provider.sign(key, sub=unique_sub(), email=f"{algorithm}@example.com")
    # when
    answer = await me(api, token)
    # then
    assert answer == (200, f"{algorithm}@example.com")


def _hs256_with(secret: bytes, claims: dict[str, Any], kid: str) -> str:
    """An HS256 token signed with `secret` as the HMAC key, whatever PyJWT thinks of it."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)
    )
    hmac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256)
    signature = hmac.sign(signing_input, secret)
    return (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()


def _unsigned(claims: dict[str, Any], kid: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    parts = [jwt.utils.base64url_encode(json.dumps(p).encode()) for p in (header, claims)]
    return b".".join([*parts, b""]).decode()


FORGERIES = [
    "alg none",
    "HS256 with the public key as secret",
    "HS256 with the JWK as secret",
    "ES256 header on the RSA key",
    "RS256 header on the EC key",
    "unknown kid",
    "no kid",
    "a stranger's key under a known kid",
    "wrong issuer",
    "wrong audience",
    "no audience",
    "expired",
    "not yet valid",
]


@pytest.mark.parametrize("case", FORGERIES)
async def test_a_forged_or_foreign_token_is_refused_with_401(
    api: httpx.AsyncClient, provider: IdentityProvider, case: str
) -> None:
    # given
    now = datetime.now(UTC)
    rsa, ec = provider.rsa, provider.ec
    claims = {
        "iss": provider.url,
        "aud": AUDIENCE,
        "sub": "forger",
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    pem = rsa.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = {
        "alg none": lambda: _unsigned(claims, rsa.kid),
        "HS256 with the public key as secret": lambda: _hs256_with(pem, claims, rsa.kid),
        "HS256 with the JWK as secret": lambda: _hs256_with(
            json.dumps(rsa.jwk).encode(), claims, rsa.kid
        ),
        # the EC key signs, the header claims ES256 but names the RSA key
        "ES256 header on the RSA key": lambda: provider.sign(ec, header={"kid": rsa.kid}),
        "RS256 header on the EC key": lambda: provider.sign(rsa, header={"kid": ec.kid}),
        "unknown kid": lambda: provider.sign(rsa, header={"kid": "made-up"}),
        "no kid": lambda: jwt.encode(claims, rsa.private, algorithm="RS256"),
        "a stranger's key under a known kid": lambda: provider.sign(
            Key(rsa.kid, "RS256", new_key("RS256", "stranger").private)
        ),
        "wrong issuer": lambda: provider.sign(rsa, iss="https://evil.example"),
        "wrong audience": lambda: provider.sign(rsa, aud="another-app"),
        "no audience": lambda: provider.sign(rsa, aud=None),
        "expired": lambda: provider.sign(rsa, exp=now - timedelta(minutes=2)),
        "not yet valid": lambda: provider.sign(rsa, nbf=now + timedelta(minutes=2)),
    }[case]()
    # when
    answer = await me(api, token)
    # then
    assert answer == (401, ["UNAUTHENTICATED"])


async def test_a_small_clock_skew_is_forgiven(
    api: httpx.AsyncClient, provider: IdentityProvider
) -> None:
    # given: the provider's clock 10 s ahead of ours, and a token that just expired
    now = datetime.now(UTC)
    ahead = provider.sign(provider.rsa, sub=unique_sub(), nbf=now + timedelta(seconds=10))
    just_expired = provider.sign(provider.ec, sub=unique_sub(), exp=now - timedelta(seconds=10))
    # then
    assert (await me(api, ahead))[0] == 200
    assert (await me(api, just_expired))[0] == 200


async def test_rotated_keys_are_fetched_once_and_a_removed_key_is_refused(
    api: httpx.AsyncClient, provider: IdentityProvider, keys_clock: Clock, idp_settings: Settings
) -> None:
    # given: a user with a token of the provider's first key, verified (and remembered)
    old_token = provider.sign(provider.rsa, sub=unique_sub(), email="old@example.com")
    assert await me(api, old_token) == (200, "old@example.com")
    assert provider.fetches == 1
    # when: the provider publishes a new key, signs with it, and later drops the old one
    new_key = provider.rotate("ES256")
    new_token = provider.sign(new_key, sub=unique_sub(), email="new@example.com")
    keys_clock.advance(INTERVAL_S)  # within the set's max-age, past the interval
    new_answer = await me(api, new_token)
    fetches_for_new_kid = provider.fetches
    provider.publish(new_key, provider.ec)
    keys_clock.advance(600)  # the set's max-age: refreshed in the background
    await me(api, new_token)
    await key_set(idp_settings).refreshed()
    # then: the new kid cost one fetch, and the old token, remembered as it is, is refused
    assert new_answer == (200, "new@example.com")
    assert fetches_for_new_kid == 2
    assert provider.fetches == 3
    assert await me(api, old_token) == (401, ["UNAUTHENTICATED"])
    assert await me(api, new_token) == (200, "new@example.com")


async def test_requests_go_on_while_a_new_kid_waits_for_its_one_fetch(
    api: httpx.AsyncClient, provider: IdentityProvider, keys_clock: Clock
) -> None:
    # given: the keys fetched; then a new key, and a provider slow to answer
    known = provider.sign(provider.rsa, sub=unique_sub(), email="known@example.com")
    assert (await me(api, known))[0] == 200
    new_key = provider.rotate()
    keys_clock.advance(INTERVAL_S)
    provider.held.set()
    # when: three requests with the new kid wait for the JWKS, and one with a known kid comes
    waiting = [
        asyncio.ensure_future(me(api, provider.sign(new_key, sub=unique_sub(), email="new@x.io")))
        for _ in range(3)
    ]
    while provider.fetches < 2:  # noqa: ASYNC110 - counted in the provider's thread
        await asyncio.sleep(0.01)
    meanwhile = await me(api, known)
    still_waiting = not any(w.done() for w in waiting)
    provider.held.clear()
    answers = await asyncio.gather(*waiting)
    # then: the event loop served the known kid during the fetch, and one fetch served three
    assert (meanwhile, still_waiting) == ((200, "known@example.com"), True)
    assert answers == [(200, "new@x.io")] * 3
    assert provider.fetches == 2


async def test_a_kid_given_to_another_key_refuses_the_old_keys_tokens(
    api: httpx.AsyncClient, provider: IdentityProvider, keys_clock: Clock, idp_settings: Settings
) -> None:
    # given: a token of the RSA key, verified (and remembered)
    old_token = provider.sign(provider.rsa, sub=unique_sub())
    assert (await me(api, old_token))[0] == 200
    # when: the provider puts another key under the same kid, and the set is refreshed
    replacement = Key(provider.rsa.kid, "RS256", new_key("RS256", "-").private)
    provider.publish(replacement, provider.ec)
    keys_clock.advance(601)
    await me(api, old_token)  # the stale set still answers this one, and is refreshed
    await key_set(idp_settings).refreshed()
    # then
    assert await me(api, old_token) == (401, ["UNAUTHENTICATED"])
    assert (await me(api, provider.sign(replacement, sub=unique_sub())))[0] == 200


async def test_a_flood_of_made_up_kids_makes_one_fetch_per_interval(
    api: httpx.AsyncClient, provider: IdentityProvider, keys_clock: Clock
) -> None:
    # given: the key set fetched once
    assert (await me(api, provider.sign(provider.rsa, sub=unique_sub())))[0] == 200
    assert provider.fetches == 1

    async def flood() -> list[tuple[int, Any]]:
        made_up = [provider.sign(provider.rsa, header={"kid": f"kid-{i}"}) for i in range(100)]
        return await asyncio.gather(*(me(api, token) for token in made_up))

    # when: 100 tokens with made-up kids at once, within the interval and then past it
    within = await flood()
    fetches_within = provider.fetches
    keys_clock.advance(INTERVAL_S)
    past = await flood()
    # then: refused, with no fetch within the interval and one after it
    assert all(answer == (401, ["UNAUTHENTICATED"]) for answer in within + past)
    assert fetches_within == 1
    assert provider.fetches == 2


async def test_the_provider_unreachable_keeps_the_previous_keys(
    api: httpx.AsyncClient, provider: IdentityProvider, keys_clock: Clock, idp_settings: Settings
) -> None:
    # given: the keys fetched, then the provider down and the set's max-age past
    token = provider.sign(provider.ec, sub=unique_sub(), email="kept@example.com")
    assert (await me(api, token))[0] == 200
    provider.down = True
    keys_clock.advance(601)
    # when: requests go on while it is down, through two intervals
    answers = [await me(api, token)]
    await key_set(idp_settings).refreshed()
    answers += [await me(api, token) for _ in range(5)]
    keys_clock.advance(INTERVAL_S)
    answers.append(await me(api, token))
    await key_set(idp_settings).refreshed()
    # then: every request answered with the previous keys; the provider asked once an interval
    assert answers == [(200, "kept@example.com")] * 7
    assert provider.fetches == 3
    # and once it is back, the next interval refreshes the set
    provider.down = False
    rotated = provider.rotate()
    provider.publish(rotated)
    keys_clock.advance(INTERVAL_S)
    await me(api, token)
    await key_set(idp_settings).refreshed()
    assert await me(api, token) == (401, ["UNAUTHENTICATED"])


async def test_the_keys_are_kept_for_the_providers_max_age(
    api: httpx.AsyncClient, provider: IdentityProvider, keys_clock: Clock, idp_settings: Settings
) -> None:
    # given
    token = provider.sign(provider.rsa, sub=unique_sub())
    assert (await me(api, token))[0] == 200
    # when: just before the max-age (600 s), and just after
    keys_clock.advance(599)
    await me(api, token)
    await key_set(idp_settings).refreshed()
    before = provider.fetches
    keys_clock.advance(2)
    await me(api, token)
    await key_set(idp_settings).refreshed()
    # then
    assert (before, provider.fetches) == (1, 2)


async def test_oidc_discovery_finds_the_jwks(
    settings: Settings, app_state: AppState, provider: IdentityProvider
) -> None:
    # given: only the issuer, and discovery
    discovering = provider_settings(settings, provider, jwt_jwks_url=None, jwt_oidc_discovery=True)
    app = create_app(discovering)
    app.state.app = dataclasses.replace(app_state, settings=discovering)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        # when
        answers = [
            await me(api, provider.sign(key, sub=unique_sub(), email="found@example.com"))
            for key in (provider.rsa, provider.ec)
        ]
    # then
    assert answers == [(200, "found@example.com")] * 2
    assert provider.requests["/.well-known/openid-configuration"] == 1
    assert provider.fetches == 1


async def test_discovery_that_names_another_issuer_is_not_trusted(
    settings: Settings, app_state: AppState, provider: IdentityProvider
) -> None:
    # given: a configuration document claiming to be someone else's
    provider.discovered_issuer = "https://someone-else.example"
    discovering = provider_settings(settings, provider, jwt_jwks_url=None, jwt_oidc_discovery=True)
    app = create_app(discovering)
    app.state.app = dataclasses.replace(app_state, settings=discovering)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        # when
        answer = await me(api, provider.sign(provider.rsa, sub=unique_sub()))
    # then
    assert answer == (401, ["UNAUTHENTICATED"])
    assert provider.fetches == 0


async def test_a_dev_token_is_refused_once_the_provider_is_trusted(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    assert await me(api, mint_dev_token(settings, unique_sub())) == (401, ["UNAUTHENTICATED"])


@pytest.fixture
def provider_server(
    settings: Settings, provider: IdentityProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The API as a real process trusting the provider; its WebSocket URL."""
    env = process_env(
        settings,
        JWT_JWKS_URL=f"{provider.url}/jwks",
        JWT_ISSUER=provider.url,
        JWT_AUDIENCE=AUDIENCE,
        CACHE_PREFIX=f"jwks-{uuid.uuid4().hex[:6]}:",
    )
    with api_process(env, tmp_path_factory.mktemp("jwks") / "api.log") as url:
        yield url.replace("http", "ws") + "/graphql"


async def connection_init(url: str, protocol: str, token: str) -> tuple[str | None, int | None]:
    """The server's answer to connection_init: its message type, or the close code."""
    async with websockets.connect(url, subprotocols=[Subprotocol(protocol)]) as ws:
        payload = {"Authorization": f"Bearer {token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 20))
                # (the legacy protocol says connection_error before it closes)
                if message["type"] not in {"ka", "connection_error"}:
                    return message["type"], None
        except websockets.ConnectionClosed as closed:
            return None, closed.rcvd.code if closed.rcvd else None


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_connection_init_takes_the_providers_tokens_only(
    provider_server: str, provider: IdentityProvider, protocol: str
) -> None:
    # given
    good = provider.sign(provider.ec, sub=unique_sub())
    forged = _unsigned({"sub": "forger", "exp": 4_000_000_000}, provider.rsa.kid)
    unknown = provider.sign(provider.rsa, header={"kid": "made-up"})
    wrong_audience = provider.sign(provider.rsa, aud="another-app")
    # when
    answers = [
        await connection_init(provider_server, protocol, token)
        for token in (good, forged, unknown, wrong_audience)
    ]
    # then
    assert answers == [("connection_ack", None)] + [(None, 4403)] * 3


PRODUCTION: dict[str, Any] = {
    "env": "production",
    "mongodb_uri": "mongodb://db",
    "redis_url": "redis://cache",
    "credentials_key": "k",
}


def test_production_takes_a_providers_jwks_over_https_with_issuer_and_audience() -> None:
    settings = Settings(
        **PRODUCTION,
        jwt_jwks_url="https://id.example/.well-known/jwks.json",
        jwt_issuer="https://id.example/",
        jwt_audience="api",
    )
    assert (settings.jwks_enabled, settings.dev_tokens_accepted) == (True, False)


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        ({"jwt_jwks_url": "http://id.example/jwks"}, "must be https"),
        ({"jwt_oidc_discovery": True, "jwt_issuer": "http://id.example"}, "must be https"),
        ({"jwt_jwks_url": "https://id.example/jwks", "jwt_audience": None}, "JWT_AUDIENCE"),
        ({"jwt_jwks_url": "https://id.example/jwks", "jwt_issuer": None}, "JWT_ISSUER"),
    ],
)
def test_production_refuses_keys_anyone_could_swap_or_tokens_of_any_app(
    overrides: dict[str, Any], refusal: str
) -> None:
    given = {"jwt_issuer": "https://id.example", "jwt_audience": "api", **overrides}
    with pytest.raises(ValidationError, match=refusal):
        Settings(**PRODUCTION, **given)


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ({"jwt_jwks_url": "https://id/jwks", "jwt_public_key": "PEM"}, "not both"),
        ({"jwt_oidc_discovery": True}, "needs JWT_ISSUER"),
        ({"jwt_jwks_url": "id.example/jwks"}, "http"),
        (
            {"jwt_oidc_discovery": True, "jwt_issuer": "https://id", "jwt_jwks_url": "https://x"},
            "unset JWT_JWKS_URL",
        ),
    ],
)
def test_contradicting_token_settings_are_refused_everywhere(
    given: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValidationError, match=refusal):
        Settings(**given)
