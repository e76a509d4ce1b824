"""The OAuth 2.0 refresh-token grant (RFC 6749, section 6) that Google and Microsoft
share: a new access token (and, where the provider rotates it, a new refresh token)
sealed into the calendar's source and written revision-checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from graphql_api.security.secrets import seal
from graphql_api.settings import Settings
from graphql_api.sync.providers.base import ProviderError, ProviderRefused
from models import Calendar
from models.base import save_changes


async def refreshed(
    provider: str,
    settings: Settings,
    http: httpx.AsyncClient,
    calendar: Calendar,
    secret: dict[str, Any],
    *,
    token_url: str,
    client_id: str | None,
    client_secret: str | None,
    scope: str | None = None,
    reason: Callable[[httpx.Response], str] | None = None,
) -> dict[str, Any]:
    """`secret` with a fresh access token, stored; ProviderRefused when the provider will
    not give one (no refresh token, or the grant refused: `reason` says why when given)."""
    refresh_token = secret.get("refreshToken")
    if not refresh_token or calendar.source is None:
        raise ProviderRefused(f"the {provider} access token expired and there is no refresh token")
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if scope:
        form["scope"] = scope
    if client_id:
        form["client_id"] = client_id
    if client_secret:
        form["client_secret"] = client_secret
    try:
        response = await http.post(token_url, data=form)
    except httpx.HTTPError as e:
        raise ProviderError(f"{provider} token endpoint unreachable: {type(e).__name__}") from e
    if response.status_code != 200:
        why = f": {reason(response)}" if reason is not None else ""
        raise ProviderRefused(
            f"{provider} refused to refresh the token (HTTP {response.status_code}{why})"
        )
    body = response.json()
    secret["accessToken"] = body["access_token"]
    secret["refreshToken"] = body.get("refresh_token") or refresh_token  # rotated, or kept
    secret["expiresAt"] = (
        datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 3600)))
    ).isoformat()
    calendar.source.credentials = seal(settings, secret)
    await save_changes(calendar, {"userId": calendar.user_id}, source=calendar.source)
    return secret
