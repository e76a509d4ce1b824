from __future__ import annotations

from pydantic import Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, Instant, Ref, Revised, owner_index, utcnow


class Task(Revised):
    """Work of `duration_minutes` that the planner books as blocks: events on the task's
    (LOCAL) calendar with `taskId`. `at_risk` is the planner's last word on it."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    title: str
    notes: str | None = None
    priority: str = "P3"  # P1 ... P4: sorts as it ranks
    status: str = "OPEN"  # OPEN | DONE | ARCHIVED
    duration_minutes: int = Field(alias="durationMinutes")
    min_chunk_minutes: int = Field(default=30, alias="minChunkMinutes")
    max_chunk_minutes: int | None = Field(default=None, alias="maxChunkMinutes")  # None: whole
    not_before: Instant | None = Field(default=None, alias="notBefore")
    due: Instant | None = None
    goal_id: Ref | None = Field(default=None, alias="goalId")
    calendar_id: Ref | None = Field(default=None, alias="calendarId")  # None: the primary LOCAL
    at_risk: bool = Field(default=False, alias="atRisk")
    created_at: Instant = Field(default_factory=utcnow, alias="createdAt")
    updated_at: Instant = Field(default_factory=utcnow, alias="updatedAt")
    completed_at: Instant | None = Field(default=None, alias="completedAt")

    class Settings:
        name = "tasks"
        indexes = [
            owner_index(),
            IndexModel([("userId", 1), ("status", 1), ("priority", 1), ("due", 1)]),
            IndexModel([("due", 1)], sparse=True),
            IndexModel([("goalId", 1)], sparse=True),
        ]

    @property
    def max_chunk(self) -> int:
        return self.max_chunk_minutes or self.duration_minutes
