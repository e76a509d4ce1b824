from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, utcnow


class Frequency(BaseModel):
    times: int
    per: str  # DAY | WEEK | MONTH


class PreferredWindow(BaseModel):
    weekdays: list[int]  # ISO: Monday = 1
    start: str  # "HH:MM", local to the user
    end: str


class Habit(Document):
    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    goal_id: PydanticObjectId | None = Field(default=None, alias="goalId")
    name: str
    frequency: Frequency
    duration_minutes: int = Field(default=30, alias="durationMinutes")
    preferred_windows: list[PreferredWindow] = Field(default_factory=list, alias="preferredWindows")
    is_active: bool = Field(default=True, alias="isActive")
    created_at: datetime = Field(default_factory=utcnow, alias="createdAt")

    class Settings:
        name = "habits"
        indexes = [
            IndexModel([("userId", 1), ("frequency", 1)]),
            IndexModel([("userId", 1), ("isActive", 1)]),
            IndexModel([("goalId", 1)]),
        ]


class CheckIn(Document):
    """What the user says about one habit on one day of their calendar."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    habit_id: PydanticObjectId = Field(alias="habitId")
    date: str  # ISO date in the user's zone
    status: str  # DONE | SKIPPED | MISSED
    value: float | None = None
    created_at: datetime = Field(default_factory=utcnow, alias="createdAt")
    updated_at: datetime = Field(default_factory=utcnow, alias="updatedAt")

    class Settings:
        name = "check_ins"
        indexes = [IndexModel([("habitId", 1), ("date", 1)], unique=True)]
