"""Data changes the code relies on, applied at start-up before the indexes are built."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


async def migrate(db: AsyncDatabase[dict[str, Any]]) -> None:
    # Events from before sync carry no (externalId, instance): key them by their
    # own id, so the unique (calendarId, externalId, instance) index can be built.
    events = db["events"]
    async for row in events.find({"externalId": {"$exists": False}}, {"_id": 1}):
        await events.update_one(
            {"_id": row["_id"]},
            {"$set": {"externalId": str(row["_id"]), "instance": ""}, "$inc": {"rev": 1}},
        )
