"""Data changes the code relies on, applied at start-up before the indexes are built."""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from models.base import utcnow
from models.habit import CheckInYear, day_set, year_key


async def migrate(db: AsyncDatabase[dict[str, Any]]) -> None:
    # Events from before sync carry no (externalId, instance): key them by their
    # own id, so the unique (calendarId, externalId, instance) index can be built.
    events = db["events"]
    async for row in events.find({"externalId": {"$exists": False}}, {"_id": 1}):
        await events.update_one(
            {"_id": row["_id"]},
            {"$set": {"externalId": str(row["_id"]), "instance": ""}, "$inc": {"rev": 1}},
        )

    await _check_ins_by_year(db)


async def _check_ins_by_year(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Check-ins were a document each (`check_ins`); now a habit's year is one document
    (`check_in_years`). Each old check-in is folded into its year, then deleted: a start
    that stops half-way leaves the rest for the next one. A day the new code has recorded
    already (another instance serving while this one starts) keeps the newer answer."""
    old, years = db["check_ins"], db[CheckInYear.Settings.name]
    # Built now, not after: two instances starting together make one document a year.
    for index in CheckInYear.Settings.indexes:
        if isinstance(index, IndexModel):
            await years.create_indexes([index])
    async for row in old.find({}):
        day = row["date"]
        key = year_key(row["userId"], row["habitId"], day)
        update = day_set(day, row["status"], row.get("value"), row.get("recordedAt", utcnow()))
        with contextlib.suppress(DuplicateKeyError):  # the year holds the day, recorded since
            await years.update_one({**key, f"days.{day}": {"$exists": False}}, update, upsert=True)
        await old.delete_one({"_id": row["_id"]})
