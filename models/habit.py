from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from itertools import repeat
from typing import Any, NamedTuple

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, Instant, Ref, Revised, owner_index, utcnow

# How long a skipped booking is remembered: a month, as long as a booking may count toward
# the period under way (graphql_api.planning.bookings.COUNTED_SINCE).
SKIPS_KEPT = timedelta(days=32)


class Frequency(BaseModel):
    times: int
    per: str  # DAY | WEEK | MONTH


class PreferredWindow(BaseModel):
    weekdays: list[int]  # ISO: Monday = 1
    start: str  # "HH:MM", local to the user
    end: str


class Habit(Revised):
    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    goal_id: Ref | None = Field(default=None, alias="goalId")
    name: str
    frequency: Frequency
    duration_minutes: int = Field(default=30, alias="durationMinutes")
    preferred_windows: list[PreferredWindow] = Field(default_factory=list, alias="preferredWindows")
    is_active: bool = Field(default=True, alias="isActive")
    # Booked by the planner (graphql_api.planning) at the recommender's best slots.
    auto_schedule: bool = Field(default=False, alias="autoSchedule")
    # The starts of the planner's bookings the user deleted (the last SKIPS_KEPT): each
    # counts toward its period and takes its day, so the planner does not book it again.
    skipped: list[Instant] = Field(default_factory=list)
    created_at: Instant = Field(default_factory=utcnow, alias="createdAt")

    @property
    def planner_books(self) -> bool:
        """Booked by the planner now: auto-scheduled and active."""
        return self.auto_schedule and self.is_active

    class Settings:
        name = "habits"
        indexes = [
            owner_index(),
            IndexModel([("userId", 1), ("frequency", 1)]),
            IndexModel([("userId", 1), ("isActive", 1)]),
            IndexModel([("goalId", 1)]),
        ]


class CheckInYear(Document):
    """A habit's check-ins of one calendar year, one per day (MongoDB's bucket pattern).

    `days` maps the ISO date in the user's zone to what the user said that day (DONE,
    SKIPPED or MISSED), `values` the days the user gave a value to that value: plain
    strings and numbers, which both MongoDB and the embedded server read fastest (a
    sub-document a day with its time cost the embedded server 2.2 against 0.8 ms for a
    user's five habits).
    A check-in sets its own day's fields and a clear unsets them (`day_set`,
    `day_unset`), so concurrent check-ins of one habit never overwrite each other, and a
    habit's whole history is a document a year: a dashboard reads a few documents per
    habit rather than one per day."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    habit_id: Ref = Field(alias="habitId")
    year: int
    days: dict[str, str] = Field(default_factory=dict)
    values: dict[str, float] = Field(default_factory=dict)
    # When its latest check-in was recorded.
    recorded_at: Instant = Field(default_factory=utcnow, alias="recordedAt")

    class Settings:
        name = "check_in_years"
        indexes = [owner_index(), IndexModel([("habitId", 1), ("year", 1)], unique=True)]


def year_key(user_id: str, habit_id: Ref, day: str) -> dict[str, Any]:
    """The filter of the year document that holds `day` (an ISO date); it names the
    owner, the shard key of a sharded `check_in_years` (deploy/SCALING.md)."""
    return {"userId": user_id, "habitId": habit_id, "year": int(day[:4])}


def day_set(day: str, status: str, value: float | None, at: datetime) -> dict[str, Any]:
    """The update that records the day's check-in, replacing any earlier one of that day."""
    if value is None:
        return {
            "$set": {f"days.{day}": status},
            "$unset": {f"values.{day}": ""},
            "$max": {"recordedAt": at},
        }
    return {"$set": {f"days.{day}": status, f"values.{day}": value}, "$max": {"recordedAt": at}}


def day_unset(day: str) -> dict[str, Any]:
    """The update that clears the day's check-in."""
    return {"$unset": {f"days.{day}": "", f"values.{day}": ""}}


def year_documents(
    user_id: str, entries: Iterable[CheckInEntry], at: datetime
) -> list[CheckInYear]:
    """The year documents holding these check-ins, recorded at `at` (seeding, tests)."""
    years: dict[tuple[Ref, int], CheckInYear] = {}
    for e in entries:
        key = (e.habit_id, int(e.date[:4]))
        if key not in years:
            years[key] = CheckInYear(
                user_id=user_id, habit_id=e.habit_id, year=key[1], recorded_at=at
            )
        years[key].days[e.date] = e.status
        if e.value is not None:
            years[key].values[e.date] = e.value
    return list(years.values())


class CheckInEntry(NamedTuple):
    """A check-in as read for streaks and lists: four fields, no model validation.

    Habits accumulate thousands of check-ins; building full documents for each
    one costs more than everything else a dashboard does. A named tuple: made in
    ~0.35 µs, where a frozen dataclass's `__init__` sets each field through
    `object.__setattr__` (~0.65 µs), and a cold Dashboard makes some 180.
    """

    habit_id: Ref
    date: str
    status: str
    value: float | None

    @classmethod
    def all_of(cls, year: Mapping[str, Any]) -> Iterator[CheckInEntry]:
        """The check-ins of a year document as read from Mongo, in no set order: each
        made in C (`tuple.__new__` of its four fields), where the class's own `__new__`
        is a Python function (a year's 56 entries in ~18 µs, not ~40)."""
        habit_id, days, values = year["habitId"], year["days"], year.get("values") or {}
        fields = zip(repeat(habit_id), days, days.values(), map(values.get, days), strict=False)
        return map(partial(tuple.__new__, cls), fields)
