from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, utcnow


class SyncState(BaseModel):
    status: str  # QUEUED | RUNNING | SUCCEEDED | FAILED
    last_synced_at: datetime | None = Field(default=None, alias="lastSyncedAt")
    last_error: str | None = Field(default=None, alias="lastError")
    event_count: int = Field(default=0, alias="eventCount")

    model_config = DOCUMENT_CONFIG


class Calendar(Document):
    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    name: str
    provider: str  # GOOGLE | CALDAV | ICS | LOCAL
    timezone: str
    color: str | None = None
    is_primary: bool = Field(default=False, alias="isPrimary")
    # None for LOCAL calendars: there is nothing to sync.
    sync_state: SyncState | None = Field(default=None, alias="syncState")
    created_at: datetime = Field(default_factory=utcnow, alias="createdAt")

    class Settings:
        name = "calendars"
        indexes = [IndexModel([("userId", 1), ("createdAt", 1)])]
