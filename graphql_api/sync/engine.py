"""A provider's changes applied to our copy of a calendar: idempotent, in bulk, resumable.

Every event is keyed by (calendar, external id, instance), so applying the same
page twice changes nothing; unchanged events are not even rewritten (their
content hash is compared first). The provider's cursor is saved only after the
last page is applied: a sync that dies half-way is simply run again. A full
listing removes whatever it did not mention.
"""

from __future__ import annotations

import hashlib
import json
import logging
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bson import ObjectId
from pymongo import InsertOne, ReplaceOne
from pymongo.errors import BulkWriteError

from graphql_api.recurrence import series_end
from graphql_api.sync.providers.base import (
    CursorExpired,
    Page,
    Provider,
    RemoteEvent,
    key_digest,
)
from models import Calendar, Event
from models.base import as_stored, matching, ref, save_changes

log = logging.getLogger(__name__)
TITLE_MAX, DESCRIPTION_MAX, LOCATION_MAX = 200, 5000, 500
DUPLICATE = 11000  # MongoDB's duplicate key error
BATCH = 500  # rows read (and deleted) at a time when walking a whole calendar


@dataclass
class Progress:
    processed: int = 0
    total: int | None = None
    created: int = 0
    updated: int = 0
    deleted: int = 0
    held: int | None = None  # events the calendar holds at the end, when a full sync counted
    # Events given their series' id after the fact (no count a subscriber is told of)
    linked: int = 0
    # A listing of the same run, cut short by an expired cursor, wrote events first
    wrote_before: bool = False

    @property
    def wrote(self) -> bool:
        """Whether the run changed any event: if not, what caches hold of them still holds."""
        changed = self.created or self.updated or self.deleted or self.linked
        return bool(changed or self.wrote_before)


def fingerprint(remote: RemoteEvent) -> str:
    """What an event's content is, to skip rewriting what did not change."""
    fields = [
        remote.title,
        remote.description,
        remote.location,
        str(remote.start),
        str(remote.end),
        remote.status,
        remote.busy,
        remote.timezone,
        remote.recurrence,
        remote.href,
    ]
    return hashlib.sha1(json.dumps(fields, default=str).encode()).hexdigest()  # noqa: S324


def to_document(calendar: Calendar, remote: RemoteEvent) -> Event:
    zone = remote.timezone or calendar.timezone
    if isinstance(remote.start, datetime) and isinstance(remote.end, datetime):
        start_time, end_time = remote.start.astimezone(UTC), remote.end.astimezone(UTC)
        end_time = max(start_time, end_time)
        dates: dict[str, Any] = {"all_day": False}
    else:
        first = remote.start if not isinstance(remote.start, datetime) else remote.start.date()
        last = remote.end if not isinstance(remote.end, datetime) else remote.end.date()
        last = max(last, first + timedelta(days=1))
        tz = ZoneInfo(calendar.timezone)
        start_time = datetime.combine(first, time(), tz).astimezone(UTC)
        end_time = datetime.combine(last, time(), tz).astimezone(UTC)
        dates = {"all_day": True, "start_date": first.isoformat(), "end_date": last.isoformat()}
    event = Event(
        user_id=calendar.user_id,
        calendar_id=ref(calendar),
        title=remote.title[:TITLE_MAX] or "(no title)",
        description=_clip(remote.description, DESCRIPTION_MAX),
        location=_clip(remote.location, LOCATION_MAX),
        start_time=start_time,
        end_time=end_time,
        busy=remote.busy,
        status=remote.status,
        external_id=remote.external_id,
        instance=remote.instance,
        recurrence=remote.recurrence,
        timezone=zone if isinstance(remote.start, datetime) else None,
        etag=fingerprint(remote),
        href=remote.href,
        **dates,
    )
    if event.recurrence:
        event.duration_s = int((event.end_time - event.start_time).total_seconds())
        try:
            event.end_time = series_end(event, calendar.timezone)
        except (ValueError, TypeError) as e:  # rules dateutil cannot read: keep the first one
            log.warning(
                "event %s: unreadable recurrence %s (%s)", remote.external_id, remote.recurrence, e
            )
            event.recurrence = []
    return event


def _clip(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


class Applier:
    """Writes pages into one calendar and counts what changed."""

    def __init__(self, calendar: Calendar, progress: Progress) -> None:
        self.calendar = calendar
        self.progress = progress
        # What a full listing mentioned, as 8-byte digests in one array: 8 bytes an
        # event, where a set of keys costs ~200 (memory stays flat in the event count).
        self.seen = array("Q")
        self.collection = Event.get_pymongo_collection()

    def _mine(self) -> dict[str, Any]:
        """The calendar's events, named with their owner: every filter of the sync goes
        to the owner's shard of a sharded `events`, through the (userId, calendarId)
        index."""
        return matching({"userId": self.calendar.user_id, "calendarId": ref(self.calendar)})

    def _key(self, external_id: str, instance: str) -> dict[str, Any]:
        return {**self._mine(), **matching({"externalId": external_id, "instance": instance})}

    async def apply(self, page: Page) -> None:
        if page.total is not None:
            self.progress.total = page.total
        await self._upsert(page.upserts)
        await self._remove_undefined(page)
        for removed in page.removed:
            query: dict[str, Any] = self._mine()
            if removed.href is not None:
                query["href"] = removed.href
            else:
                query["externalId"] = removed.external_id
                if removed.instance is not None:
                    query["instance"] = removed.instance
            result = await self.collection.delete_many(query)
            self.progress.deleted += result.deleted_count
        self.progress.processed += len(page.upserts) + len(page.removed)

    async def _remove_undefined(self, page: Page) -> None:
        """What the resources given whole in this page held before and define no more."""
        if not page.whole:
            return
        kept = {(e.external_id, e.instance) for e in page.upserts}
        gone = [
            row["_id"]
            async for row in self.collection.find(
                {**self._mine(), "href": {"$in": page.whole}},
                {"externalId": 1, "instance": 1},
            )
            if (row.get("externalId"), row.get("instance", "")) not in kept
        ]
        if gone:
            result = await self.collection.delete_many({"_id": {"$in": gone}})
            self.progress.deleted += result.deleted_count

    async def _upsert(self, remotes: list[RemoteEvent]) -> None:
        """One read of what the page's keys hold, one bulk write. A new master gets its id
        here, so that the instances written with it can name it."""
        if not remotes:
            return
        remotes = sorted(remotes, key=lambda r: bool(r.instance))  # masters first
        for remote in remotes:
            self.seen.append(key_digest(remote.external_id, remote.instance))
        ids = list({r.external_id for r in remotes})
        stored = {
            (row["externalId"], row["instance"]): row
            async for row in self.collection.find(
                {**self._mine(), "externalId": {"$in": ids}},
                {"externalId": 1, "instance": 1, "etag": 1, "rev": 1},
            )
        }
        masters = {k[0]: row["_id"] for k, row in stored.items() if not k[1]}
        inserts: list[dict[str, Any]] = []
        replaces: list[ReplaceOne[dict[str, Any]]] = []
        for remote in remotes:
            key = (remote.external_id, remote.instance)
            event = to_document(self.calendar, remote)
            if remote.instance and remote.external_id in masters:
                event.recurring_event_id = str(masters[remote.external_id])
            existing = stored.get(key)
            if existing is not None and existing.get("etag") == event.etag:
                continue  # unchanged: no write
            document = as_stored(event)
            if existing is None:
                if not remote.instance:
                    document["_id"] = masters[remote.external_id] = ObjectId()
                inserts.append(document)
                self.progress.created += 1
            else:
                document["_id"] = existing["_id"]  # the event keeps its id
                document["rev"] = existing.get("rev", 0) + 1  # and moves to a new revision
                replaces.append(ReplaceOne(self._key(*key), document, upsert=True))
                self.progress.updated += 1
        await self._write(inserts, replaces)

    async def _write(
        self, inserts: list[dict[str, Any]], replaces: list[ReplaceOne[dict[str, Any]]]
    ) -> None:
        """New events are inserted (far cheaper than upserts); the unique key turns a
        race with another writer into duplicates, which are then replaced instead."""
        operations: list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]] = [
            *(InsertOne(d) for d in inserts),
            *replaces,
        ]
        if not operations:
            return
        try:
            await self.collection.bulk_write(operations, ordered=False)
        except BulkWriteError as e:
            errors = e.details["writeErrors"]
            if any(w["code"] != DUPLICATE or w["index"] >= len(inserts) for w in errors):
                raise
            retried, lost = [], []
            for w in errors:
                document = {k: v for k, v in inserts[w["index"]].items() if k != "_id"}
                if not document["instance"] and "_id" in inserts[w["index"]]:
                    lost.append(str(inserts[w["index"]]["_id"]))  # the master keeps its id
                retried.append(
                    ReplaceOne(
                        self._key(document["externalId"], document["instance"]),
                        document,
                        upsert=True,
                    )
                )
            await self.collection.bulk_write(retried, ordered=False)
            if lost:  # instances that named the id it did not get: linked again at the end
                result = await self.collection.update_many(
                    {**self._mine(), "recurringEventId": {"$in": lost}},
                    {"$set": {"recurringEventId": None}, "$inc": {"rev": 1}},
                )
                self.progress.linked += result.modified_count

    async def remove_unseen(self) -> None:
        """After a full listing: whatever it did not mention is gone.

        Our events are read a batch at a time, and each batch is looked up in the
        array of what the listing mentioned in one C-level pass (a set intersection):
        nothing the size of the calendar is built in memory.
        """
        rows = self.collection.find(self._mine(), {"externalId": 1, "instance": 1}).batch_size(
            BATCH
        )
        batch: dict[int, Any] = {}
        read, deleted = 0, self.progress.deleted
        async for row in rows:
            read += 1
            batch[key_digest(row.get("externalId", ""), row.get("instance", ""))] = row["_id"]
            if len(batch) >= BATCH:
                await self._delete_unseen(batch)
                batch = {}
        await self._delete_unseen(batch)
        # What this walk read and left is what the calendar holds: no second walk to count it.
        self.progress.held = read - (self.progress.deleted - deleted)

    async def _delete_unseen(self, batch: dict[int, Any]) -> None:
        seen = batch.keys() & self.seen
        await self._delete([id_ for digest, id_ in batch.items() if digest not in seen])

    async def _delete(self, ids: list[Any]) -> None:
        if ids:
            result = await self.collection.delete_many({"_id": {"$in": ids}})
            self.progress.deleted += result.deleted_count

    async def link_overrides(self) -> None:
        """Overrides that arrived before their master (another page) get its id now."""
        loose = [
            row
            async for row in self.collection.find(
                {
                    **self._mine(),
                    "instance": {"$ne": ""},
                    "recurringEventId": None,
                },
                {"externalId": 1},
            )
        ]
        if not loose:
            return
        masters = {
            row["externalId"]: str(row["_id"])
            async for row in self.collection.find(
                {
                    **self._mine(),
                    "externalId": {"$in": list({r["externalId"] for r in loose})},
                    "instance": "",
                },
                {"externalId": 1},
            )
        }
        for row in loose:
            if row["externalId"] in masters:
                await self.collection.update_one(
                    {"_id": row["_id"]},
                    {"$set": {"recurringEventId": masters[row["externalId"]]}, "$inc": {"rev": 1}},
                )
                self.progress.linked += 1


async def sync(
    calendar: Calendar,
    provider: Provider,
    *,
    full: bool,
    on_page: Callable[[Progress], Awaitable[None]] | None = None,
) -> Progress:
    """Brings our copy of the calendar to the provider's state."""
    first = Progress()
    try:
        return await _sync(calendar, provider, first, full=full, on_page=on_page)
    except CursorExpired:
        log.info("calendar %s: sync token expired; full sync", calendar.id)
        calendar.cursor.token = None
        # The full listing counts afresh; what the cut-short one wrote is still said.
        again = Progress(wrote_before=first.wrote)
        return await _sync(calendar, provider, again, full=True, on_page=on_page)


async def _sync(
    calendar: Calendar,
    provider: Provider,
    progress: Progress,
    *,
    full: bool,
    on_page: Callable[[Progress], Awaitable[None]] | None,
) -> Progress:
    applier = Applier(calendar, progress)
    listing = await provider.listing(calendar, full=full)
    async for page in listing.pages:
        await applier.apply(page)
        if on_page is not None:
            await on_page(progress)
    if listing.full:
        await applier.remove_unseen()
    await applier.link_overrides()
    # Only now, with every page applied, is the provider's cursor ours.
    await save_changes(calendar, {"userId": calendar.user_id}, cursor=calendar.cursor)
    return progress


def today_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


__all__ = ["ObjectId", "Progress", "sync", "to_document"]
