"""Shared pieces of the Beanie documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from beanie import Document, PydanticObjectId
from beanie.odm.utils.encoder import Encoder
from pydantic import ConfigDict, Field

# Python names in code, the seed's camelCase names (aliases) in Mongo.
DOCUMENT_CONFIG = ConfigDict(populate_by_name=True)


# Ids are made on our side, before the insert: never None, known to batch writes.
DocumentId = Annotated[PydanticObjectId, Field(default_factory=PydanticObjectId)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def mongo_changes(model: type[Document], changes: dict[str, Any]) -> dict[str, Any]:
    """Python-named field values as a Mongo `$set` body: aliased names, BSON values."""
    encoder = Encoder(to_db=True)
    fields = model.model_fields
    return {(fields[name].alias or name): encoder.encode(value) for name, value in changes.items()}


async def set_fields(doc: Document, filter_: dict[str, Any], **changes: Any) -> bool:
    """`$set` fields on the stored document matching `filter_` and on `doc` itself.

    Returns False when nothing matched (the document is gone or not the user's).
    """
    result = (
        await type(doc)
        .get_pymongo_collection()
        .update_one({"_id": doc.id, **filter_}, {"$set": mongo_changes(type(doc), changes)})
    )
    if result.matched_count == 0:
        return False
    for name, value in changes.items():
        setattr(doc, name, value)
    return True
