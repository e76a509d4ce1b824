from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

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


class CheckIn(Document):
    """What the user says about one habit on one day of their calendar."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    habit_id: Ref = Field(alias="habitId")
    date: str  # ISO date in the user's zone
    status: str  # DONE | SKIPPED | MISSED
    value: float | None = None
    recorded_at: Instant = Field(default_factory=utcnow, alias="recordedAt")

    class Settings:
        name = "check_ins"
        indexes = [owner_index(), IndexModel([("habitId", 1), ("date", 1)], unique=True)]


@dataclass(frozen=True, slots=True)
class CheckInEntry:
    """A check-in as read for streaks and lists: four fields, no model validation.

    Habits accumulate thousands of check-ins; building full documents for each
    one costs more than everything else a dashboard does.
    """

    habit_id: Ref
    date: str
    status: str
    value: float | None

    @classmethod
    def of(cls, check_in: CheckIn) -> CheckInEntry:
        return cls(check_in.habit_id, check_in.date, check_in.status, check_in.value)
