from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, Instant, Revised, owner_index, utcnow


class PushChannel(BaseModel):
    """A Google push channel (events.watch) that tells us of the calendar's changes."""

    id: str  # ours (X-Goog-Channel-ID)
    resource_id: str = Field(alias="resourceId")  # Google's id of the watched resource
    expiration: Instant

    # Spelled out (not DOCUMENT_CONFIG) for mypy's pydantic plugin: built by python names.
    model_config = ConfigDict(populate_by_name=True)


class SyncState(BaseModel):
    status: str  # QUEUED | RUNNING | SUCCEEDED | FAILED
    last_synced_at: Instant | None = Field(default=None, alias="lastSyncedAt")
    last_error: str | None = Field(default=None, alias="lastError")
    event_count: int = Field(default=0, alias="eventCount")
    channel: PushChannel | None = None  # the calendar's live push channel, if any

    model_config = DOCUMENT_CONFIG


class Source(BaseModel):
    """Where a synced calendar comes from. `credentials` is encrypted (never returned)."""

    url: str | None = None  # the CalDAV collection or the ICS feed
    username: str | None = None
    # Google calendar id; Graph calendar id (None: the user's default calendar)
    external_id: str | None = Field(default=None, alias="externalId")
    credentials: str | None = None  # Fernet token of the password or the OAuth tokens

    model_config = DOCUMENT_CONFIG


class SyncCursor(BaseModel):
    """How far the last complete sync got: stored only once all of it is applied."""

    token: str | None = None  # Google syncToken, CalDAV sync-token, Graph @odata.deltaLink
    # Outlook: the start of the calendarView window the delta link was made for (ISO date)
    window_start: str | None = Field(default=None, alias="windowStart")
    ctag: str | None = None  # CalDAV getctag, for servers without sync-collection
    etag: str | None = None  # ICS feed: conditional GET
    last_modified: str | None = Field(default=None, alias="lastModified")
    # ICS feed: the digest of the body last applied in full (`providers.ics.content_digest`)
    content_digest: str | None = Field(default=None, alias="contentDigest")
    refresh_interval_s: int | None = Field(default=None, alias="refreshIntervalS")

    model_config = DOCUMENT_CONFIG


class Calendar(Revised):
    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    name: str
    provider: str  # GOOGLE | OUTLOOK | CALDAV | ICS | LOCAL
    timezone: str
    color: str | None = None
    is_primary: bool = Field(default=False, alias="isPrimary")
    source: Source | None = None
    cursor: SyncCursor = Field(default_factory=SyncCursor)
    # None for LOCAL calendars: there is nothing to sync.
    sync_state: SyncState | None = Field(default=None, alias="syncState")
    next_sync_at: Instant | None = Field(default=None, alias="nextSyncAt")
    created_at: Instant = Field(default_factory=utcnow, alias="createdAt")

    class Settings:
        name = "calendars"
        indexes = [
            owner_index(),
            IndexModel([("userId", 1), ("createdAt", 1)]),
            IndexModel([("provider", 1), ("nextSyncAt", 1)]),
            IndexModel([("provider", 1), ("syncState.channel.expiration", 1)]),
        ]


class SyncRun(Revised):
    """One sync of one calendar, from QUEUED to SUCCEEDED or FAILED."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    calendar_id: str = Field(alias="calendarId")
    status: str = "QUEUED"  # QUEUED | RUNNING | SUCCEEDED | FAILED
    full: bool = False
    processed: int = 0
    total: int | None = None
    created: int = 0
    updated: int = 0
    deleted: int = 0
    error: str | None = None
    attempts: int = 0
    queued_at: Instant = Field(default_factory=utcnow, alias="queuedAt")
    started_at: Instant | None = Field(default=None, alias="startedAt")
    finished_at: Instant | None = Field(default=None, alias="finishedAt")

    class Settings:
        name = "sync_runs"
        indexes = [
            IndexModel([("calendarId", 1), ("status", 1)]),
            owner_index(),
            IndexModel([("userId", 1), ("queuedAt", -1)]),
        ]
