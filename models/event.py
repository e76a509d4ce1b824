from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator
from pymongo import IndexModel

from models.base import (
    DOCUMENT_CONFIG,
    DocumentId,
    Instant,
    Ref,
    Revised,
    matching,
    owner_index,
    utcnow,
)


class Event(Revised):
    """A time block on one calendar.

    `start_time`/`end_time` are instants (UTC) and drive range queries. An all-day
    event also keeps its dates (`start_date`, `end_date`, end exclusive), which
    are what the user sees; its instants are local midnights in the calendar's
    zone, used only to find and order it.

    A recurring series is one document (the master) with its `recurrence` lines
    (RRULE, RDATE, EXDATE) in its own `timezone`; its `end_time` is the end of
    its last instance (far in the future when it never ends), for range queries:
    the API shows the series with its first instance's times. An instance that
    differs from the rule (moved, retitled, cancelled) is its own document with
    `recurring_event_id` and `instance`, the original start of the instance.
    Synced events are keyed by (calendar, `external_id`, `instance`): upserting
    the same provider data twice changes nothing.
    """

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    calendar_id: Ref = Field(alias="calendarId")
    title: str
    description: str | None = None
    location: str | None = None
    start_time: Instant = Field(alias="startTime")
    end_time: Instant = Field(alias="endTime")
    all_day: bool = Field(default=False, alias="allDay")
    start_date: str | None = Field(default=None, alias="startDate")
    end_date: str | None = Field(default=None, alias="endDate")
    busy: bool = True
    status: str = "CONFIRMED"  # CONFIRMED | TENTATIVE | CANCELLED
    recurring_event_id: Ref | None = Field(default=None, alias="recurringEventId")
    external_id: str = Field(default="", alias="externalId")  # the provider's id; ours if LOCAL
    instance: str = ""  # original start of an overridden instance (see instance_key)
    recurrence: list[str] = Field(default_factory=list)
    timezone: str | None = None  # the zone its recurrence rules are read in
    # A series' end_time is the end of its last instance; each instance lasts this long.
    duration_s: int | None = Field(default=None, alias="durationS")
    etag: str | None = None  # a fingerprint of the provider's content (see sync.engine)
    href: str | None = None  # the CalDAV resource it came from
    habit_id: Ref | None = Field(default=None, alias="habitId")
    task_id: Ref | None = Field(default=None, alias="taskId")  # a block the planner booked
    # A booking of `habit_id` the planner made (auto-scheduled): it moves and goes with the plan.
    planned: bool = False
    created_at: Instant = Field(default_factory=utcnow, alias="createdAt")
    updated_at: Instant = Field(default_factory=utcnow, alias="updatedAt")

    class Settings:
        name = "events"
        indexes = [
            owner_index(),
            IndexModel([("userId", 1), ("calendarId", 1)]),
            IndexModel([("startTime", 1), ("endTime", 1)]),
            IndexModel([("userId", 1), ("startTime", 1), ("endTime", 1)]),
            IndexModel([("habitId", 1)], sparse=True),
            IndexModel([("taskId", 1)], sparse=True),
            IndexModel([("calendarId", 1), ("externalId", 1), ("instance", 1)], unique=True),
            IndexModel([("calendarId", 1), ("recurringEventId", 1)]),
        ]

    @model_validator(mode="after")
    def _own_key(self) -> Event:
        # An event of ours (LOCAL, or created before it synced) is keyed by its own id.
        if not self.external_id:
            self.external_id = str(self.id)
        return self

    @property
    def is_series(self) -> bool:
        return bool(self.recurrence)


def overlapping(user_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The filter of a user's events that overlap [start, end), for the
    {userId, startTime, endTime} index (the owner through `$eq`: see `matching`)."""
    return matching({"userId": user_id, "startTime": {"$lt": end}, "endTime": {"$gt": start}})
