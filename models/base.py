"""Shared pieces of the Beanie documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from beanie import Document, PydanticObjectId
from beanie.odm.utils.encoder import Encoder
from pydantic import ConfigDict, Field
from pymongo import HASHED, IndexModel

# Python names in code, the seed's camelCase names (aliases) in Mongo.
DOCUMENT_CONFIG = ConfigDict(populate_by_name=True)

# Ids are made on our side, before the insert: never None, known to batch writes.
DocumentId = Annotated[PydanticObjectId, Field(default_factory=PydanticObjectId)]

# References to other documents (goalId, habitId, calendarId, ...) hold the
# referenced `_id` as its 24-hex string, as `userId` holds the token's `sub`:
# plain equality everywhere, in filters, unique keys and shard keys.
Ref = str


# Every collection of a user's documents carries this index: the shard key's index
# when the collection is sharded on a hashed `userId` (deploy/SCALING.md), made here
# so that `sh.shardCollection` finds it, and the index of the equality on `userId`
# that every user-scoped query starts with. (On the Mongo-wire test server it is
# also what turns `{userId, x: {$in: [...]}}` from a scan into a lookup.)
def owner_index() -> IndexModel:
    return IndexModel([("userId", HASHED)])


def ref(doc: Document) -> Ref:
    return str(doc.id)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_stored(doc: Document) -> dict[str, Any]:
    """The document as Mongo stores it: aliased names, BSON values, `_id`."""
    stored: dict[str, Any] = Encoder(to_db=True).encode(doc)
    stored.pop("revision_id", None)
    return stored


async def save_changes(doc: Document, owner: dict[str, Any], **changes: Any) -> bool:
    """Applies python-named field changes to `doc` and replaces the stored document.

    The replacement is guarded by `owner` (e.g. `{"userId": ...}`), so it never
    writes another user's document; returns False when nothing matched. A whole
    replacement rather than a `$set`, so every field keeps its BSON type.
    """
    updated = doc.model_copy(update=changes)
    result = (
        await type(doc)
        .get_pymongo_collection()
        .replace_one({"_id": doc.id, **owner}, as_stored(updated))
    )
    if result.matched_count == 0:
        return False
    for name, value in changes.items():
        setattr(doc, name, value)
    return True
