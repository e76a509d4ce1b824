from __future__ import annotations

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, Instant, Ref, Revised, owner_index, utcnow


class Target(BaseModel):
    value: float
    unit: str


class Goal(Revised):
    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    title: str
    description: str | None = None
    status: str = "ACTIVE"
    # Stored as a weight, P1 = 4 ... P4 = 1, so the seed's `priority: -1` index
    # lists the most important goals first.
    priority: int = 2
    target_date: str | None = Field(default=None, alias="targetDate")  # ISO date, user's zone
    target: Target | None = None
    created_at: Instant = Field(default_factory=utcnow, alias="createdAt")
    updated_at: Instant = Field(default_factory=utcnow, alias="updatedAt")

    class Settings:
        name = "goals"
        indexes = [
            owner_index(),
            IndexModel([("userId", 1), ("status", 1)]),
            IndexModel([("targetDate", 1)], sparse=True),
            IndexModel([("createdAt", -1)]),
            IndexModel([("userId", 1), ("status", 1), ("priority", -1), ("targetDate", 1)]),
        ]


class GoalProgress(Document):
    """One `logGoalProgress` entry; a goal's logged value is the sum of its entries."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    goal_id: Ref = Field(alias="goalId")
    at: Instant = Field(default_factory=utcnow)
    value: float
    note: str | None = None

    class Settings:
        name = "goal_progress"
        indexes = [owner_index(), IndexModel([("goalId", 1), ("at", 1)])]
