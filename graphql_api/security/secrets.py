"""Provider credentials at rest: Fernet-encrypted with CREDENTIALS_KEY, never returned or logged."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from graphql_api.settings import Settings


def _fernet(settings: Settings) -> Fernet:
    if settings.credentials_key:
        return Fernet(settings.credentials_key.encode())
    # Development only (production requires CREDENTIALS_KEY): a key derived from the JWT secret.
    digest = hashlib.sha256(b"credentials:" + settings.jwt_secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(settings: Settings, secret: dict[str, Any]) -> str:
    return _fernet(settings).encrypt(json.dumps(secret).encode()).decode()


def unseal(settings: Settings, token: str | None) -> dict[str, Any]:
    if not token:
        return {}
    try:
        data: dict[str, Any] = json.loads(_fernet(settings).decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise ValueError("stored credentials cannot be read with this CREDENTIALS_KEY") from None
    return data
