"""What every calendar provider hands the sync engine."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from models import Calendar


@dataclass(frozen=True)
class RemoteEvent:
    """An event as the provider defines it, in our terms.

    `instance` is "" for a single event or a series' master, and the original
    start (see graphql_api.recurrence.instance_key) for an instance that differs
    from its series; such an instance shares the master's `external_id`.
    A date (not a datetime) start makes an all-day event, end exclusive.
    """

    external_id: str
    instance: str
    title: str
    start: datetime | date
    end: datetime | date
    description: str | None = None
    location: str | None = None
    status: str = "CONFIRMED"  # CONFIRMED | TENTATIVE | CANCELLED
    busy: bool = True
    timezone: str | None = None
    recurrence: list[str] = field(default_factory=list)
    etag: str | None = None
    href: str | None = None  # CalDAV: the resource (one UID, its overrides) it came from


@dataclass(frozen=True)
class Removed:
    """A deleted event: the whole series when `instance` is None.

    CalDAV names deleted resources, not their events: `href` removes every event
    that came from that resource (then `external_id` is "").
    """

    external_id: str
    instance: str | None = None
    href: str | None = None


@dataclass
class Page:
    """One batch of changes, applied before the next is fetched."""

    upserts: list[RemoteEvent] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    total: int | None = None  # of the whole sync, when the provider knows it
    # CalDAV: resources given whole in `upserts`; what we hold from them and they no
    # longer define (an override taken out of its series) is gone.
    whole: list[str] = field(default_factory=list)


@dataclass
class Listing:
    """What a provider's sync yields: the pages, then how far it got.

    `full` means the pages are everything the calendar holds: whatever we have
    that they do not mention is gone. `cursor` is stored only after the last
    page is applied.
    """

    full: bool
    pages: AsyncIterator[Page]


def key_digest(external_id: str, instance: str) -> int:
    """An event's key (external id, instance) in 8 bytes: what a sync remembers of the
    events it met, in an array("Q"), where a set of keys costs ~200 bytes an event."""
    key = f"{external_id}\0{instance}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


class CursorExpired(Exception):
    """The provider no longer accepts our sync token (Google 410, CalDAV 403/409/410)."""


class ProviderError(Exception):
    """The provider failed in a way a later attempt may not (network, 5xx, rate limits)."""


class ProviderRefused(Exception):
    """The provider refused us for good (bad credentials, a calendar that does not exist)."""


class Provider(Protocol):
    async def listing(self, calendar: Calendar, *, full: bool) -> Listing:
        """The changes since the calendar's cursor (everything when `full` or none is stored).

        The pages update `calendar.cursor` in memory as they go; the engine saves it
        once the last page is applied.
        """
        ...
