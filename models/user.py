from __future__ import annotations

from pydantic import BaseModel, Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, Instant, Revised, utcnow


class WorkingHours(BaseModel):
    weekday: int  # ISO: Monday = 1
    start: str  # "HH:MM", local to the user
    end: str


class User(Revised):
    """A person, identified by the `sub` claim of their bearer tokens."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    sub: str
    email: str | None = None
    display_name: str | None = Field(default=None, alias="displayName")
    timezone: str = "UTC"
    working_hours: list[WorkingHours] = Field(default_factory=list, alias="workingHours")
    created_at: Instant = Field(default_factory=utcnow, alias="createdAt")

    class Settings:
        name = "users"
        indexes = [IndexModel([("sub", 1)], unique=True)]
