"""Calendar URLs come from users and are fetched by our workers: in production they must
not reach our own network (loopback, private ranges, link-local cloud metadata).

The check resolves the host and refuses it when any of its addresses is not a
global one. It runs when a calendar is connected and again before every fetch
(and every redirect an ICS feed answers), since DNS may change in between.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from graphql_api.settings import Settings


async def private_address(url: str) -> str | None:
    """Why `url` points inside a private network, or None when it does not.

    A host that does not resolve is not refused here: fetching it fails as
    unreachable, an error a later attempt may not have.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return "the URL has no host"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    for *_, address in infos:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            return f"{host} is a private, loopback or reserved address ({ip})"
    return None


async def refused_url(settings: Settings, url: str) -> str | None:
    """Why this deployment will not fetch `url` (None: it will)."""
    if settings.private_calendar_urls_allowed:
        return None
    return await private_address(url)
