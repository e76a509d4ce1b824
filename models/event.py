from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, Ref, utcnow


class Event(Document):
    """A time block on one calendar.

    `start_time`/`end_time` are instants (UTC) and drive range queries. An all-day
    event also keeps its dates (`start_date`, `end_date`, end exclusive), which
    are what the user sees; its instants are local midnights in the calendar's
    zone, used only to find and order it.
    """

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    calendar_id: Ref = Field(alias="calendarId")
    title: str
    description: str | None = None
    location: str | None = None
    start_time: datetime = Field(alias="startTime")
    end_time: datetime = Field(alias="endTime")
    all_day: bool = Field(default=False, alias="allDay")
    start_date: str | None = Field(default=None, alias="startDate")
    end_date: str | None = Field(default=None, alias="endDate")
    busy: bool = True
    status: str = "CONFIRMED"  # CONFIRMED | TENTATIVE | CANCELLED
    recurring_event_id: Ref | None = Field(default=None, alias="recurringEventId")
    habit_id: Ref | None = Field(default=None, alias="habitId")
    created_at: datetime = Field(default_factory=utcnow, alias="createdAt")
    updated_at: datetime = Field(default_factory=utcnow, alias="updatedAt")

    class Settings:
        name = "events"
        indexes = [
            IndexModel([("userId", 1), ("calendarId", 1)]),
            IndexModel([("startTime", 1), ("endTime", 1)]),
            IndexModel([("userId", 1), ("startTime", 1), ("endTime", 1)]),
            IndexModel([("habitId", 1)], sparse=True),
        ]
