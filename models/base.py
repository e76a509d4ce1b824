"""Shared pieces of the Beanie documents."""

from __future__ import annotations

import asyncio
import copy
import functools
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import bson
from beanie import Document, PydanticObjectId
from beanie.odm.utils.encoder import Encoder
from bson.codec_options import DEFAULT_CODEC_OPTIONS, CodecOptions
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic._internal._model_construction import init_private_attributes
from pydantic_core import PydanticUndefined, SchemaValidator
from pymongo import HASHED, IndexModel

# Python names in code, the seed's camelCase names (aliases) in Mongo.
DOCUMENT_CONFIG = ConfigDict(populate_by_name=True)

# Ids are made on our side, before the insert: never None, known to batch writes.
DocumentId = Annotated[PydanticObjectId, Field(default_factory=PydanticObjectId)]


def _in_utc(moment: datetime) -> datetime:
    """The same instant, held with `datetime.UTC` when it is in UTC, or has no zone (a time
    read without zones, as BSON keeps it: UTC; see `loaders.base.naive_times`). A time
    parsed from JSON (a cached document) comes with pydantic's own zero-offset tzinfo,
    and every comparison, subtraction or conversion between it and a time in `UTC` (the
    request's now, a range, another document's time) asks both for their offsets, in
    Python's slow path: 0.5 µs a comparison, against 0.03 between two times in `UTC`. A
    week of events is compared, sorted and paged by its times request after request. A
    time with another offset (an input's, before it is stored) is left as it is.

    Not `moment.replace(tzinfo=UTC)`: `replace` parses its keyword in C's slow path
    (~0.65 µs, more than the rest of a time's validation), where a naive time's distance
    from the epoch added to the epoch in `UTC` is two operations of C's fast path
    (~0.1 µs), the same instant to the microsecond for every `datetime`; and a zero
    offset's time is converted (`astimezone`, ~0.3 µs)."""
    zone = moment.tzinfo
    if zone is UTC:
        return moment
    if zone is None:
        return _EPOCH_UTC + (moment - _EPOCH)
    if not moment.utcoffset():
        return moment.astimezone(UTC)
    return moment


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)


# A document's instant: a `datetime`, in `UTC` unless it came with another offset (`_in_utc`).
Instant = Annotated[datetime, AfterValidator(_in_utc)]


# References to other documents (goalId, habitId, calendarId, ...) hold the
# referenced `_id` as its 24-hex string, as `userId` holds the token's `sub`:
# plain equality everywhere, in filters, unique keys and shard keys.
Ref = str


# Every collection of a user's documents carries this index: the shard key's index
# when the collection is sharded on a hashed `userId` (deploy/SCALING.md), made here
# so that `sh.shardCollection` finds it, and the index of the equality on `userId`
# that every user-scoped query starts with. (On the Mongo-wire test server it is
# also what turns `{userId, x: {$in: [...]}}` from a scan into a lookup.)
class Revised(Document):
    """A document changed in place (`apply_change`): it carries its revision, which
    every write increments, so that no write is made from a stale read."""

    rev: int = 0

    if not TYPE_CHECKING:
        # Beanie's documents read every attribute through lazy_model's __getattribute__,
        # which parses fields left raw by `find(lazy_parse=True)` (never used here):
        # ~0.5 µs a read, and a page of events reads some 700. These read directly.
        __getattribute__ = object.__getattribute__


D = TypeVar("D", bound=Revised)
M = TypeVar("M", bound=Document)


def built(model: type[M], data: Any) -> M:
    """`model.model_validate(data)` (a stored document, or its JSON), without Beanie's
    detour: Beanie's `Document.__init__` makes pydantic validate through `__init__` (a
    custom init), which validates the data a second time inside the first and runs the
    model's "after" validators twice, only to check that the collection is initialized.
    This is what pydantic's own `BaseModel.__init__` does: the same document (fields,
    fields set, private attributes), the same `ValidationError`s, in ~half the CPU (an
    event: 24-35 against 47-60 µs). Used where documents are built by the dozen: every
    read of a list (`loaders.base.find_all`) and every decode of a cached one.

    And without pydantic's post-init step where all it does is set the private
    attributes' defaults (Beanie's and lazy_model's: four, through one wrapper per class
    of the document's hierarchy, each looking every default up again): they are set
    here from a list worked out once per model (`_privates`), ~4 of an event's ~15 µs."""
    fast = _FAST.get(model, _UNKNOWN)
    if fast is _UNKNOWN:
        fast = _FAST[model] = _fast_of(model)
    doc = model.__new__(model)
    if fast is None:
        model.__pydantic_validator__.validate_python(data, self_instance=doc)
        return doc
    validator, privates = fast
    validator.validate_python(data, self_instance=doc)
    object.__setattr__(doc, "__pydantic_private__", {n: make() for n, make in privates})
    return doc


# Each model's validator without the post-init step, and how to make each private
# attribute's default; None where the post-init step does more than that.
_Fast = tuple[SchemaValidator, tuple[tuple[str, Callable[[], Any]], ...]] | None
_FAST: dict[type[BaseModel], _Fast] = {}
_UNKNOWN: Any = object()


def _fast_of(model: type[BaseModel]) -> _Fast:
    hook: Any = model.model_post_init
    while getattr(hook, "__wrapped__", None) is not None:  # pydantic's wrapper, per class
        if hook.__code__.co_name != "wrapped_model_post_init":
            return None
        hook = hook.__wrapped__
    if hook is not init_private_attributes:
        return None  # a post-init of the model's own, or no private attributes
    privates = []
    for name, attribute in model.__private_attributes__.items():
        if attribute.default_factory_takes_validated_data:
            return None
        if attribute.default_factory is not None:
            privates.append((name, attribute.default_factory))
        elif attribute.default is PydanticUndefined:
            continue
        elif isinstance(attribute.default, _IMMUTABLE):
            privates.append((name, functools.partial(_same, attribute.default)))
        else:
            privates.append((name, functools.partial(copy.deepcopy, attribute.default)))
    schema = _without_post_init(model.__pydantic_core_schema__, model)
    return SchemaValidator(schema), tuple(privates)  # type: ignore[arg-type]


_IMMUTABLE = (type(None), bool, int, float, str, bytes, tuple, frozenset)


def _same(value: Any) -> Any:
    return value


def _without_post_init(schema: Any, model: type[BaseModel]) -> Any:
    """The core schema with the model's own `post_init` step left out (its fields'
    models keep theirs)."""
    if isinstance(schema, dict):
        kept = {k: _without_post_init(v, model) for k, v in schema.items()}
        if kept.get("type") == "model" and kept.get("cls") is model:
            kept.pop("post_init", None)
        return kept
    if isinstance(schema, list):
        return [_without_post_init(item, model) for item in schema]
    return schema


def owner_index() -> IndexModel:
    return IndexModel([("userId", HASHED)])


def ref(doc: Document) -> Ref:
    return str(doc.id)


def matching(query: dict[str, Any]) -> dict[str, Any]:
    """The same filter with each plain value matched through an explicit `$eq`.

    On MongoDB `{"f": v}` and `{"f": {"$eq": v}}` are one filter (both also match an
    array holding `v`). The embedded Mongo-wire server plans a bare value as "equal
    to, or an array containing", which no index serves once the filter has another
    condition: a loader's `{"habitId": {"$in": ...}, "userId": u}` scanned every
    check-in of every user (47 ms at 56,000 check-ins; 2.7 ms with `$eq`). Values
    that are already operator documents are left alone. For scalar fields (ids,
    dates, names): that server's `$eq` does not look inside arrays."""
    return {
        key: value if key.startswith("$") or isinstance(value, dict) else {"$eq": value}
        for key, value in query.items()
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_stored(doc: Document) -> dict[str, Any]:
    """The document as Mongo stores it: aliased names, BSON values, `_id`."""
    stored: dict[str, Any] = Encoder(to_db=True).encode(doc)
    stored.pop("revision_id", None)
    return stored


def as_read(doc: Document, options: CodecOptions[Any] = DEFAULT_CODEC_OPTIONS) -> dict[str, Any]:
    """The row a query finds just after `doc` was written: its stored form through BSON
    (times to the millisecond), decoded with `options` (by default, times naive, in UTC;
    a collection's own options read them as its client does)."""
    row: dict[str, Any] = bson.decode(bson.encode(as_stored(doc)), codec_options=options)
    return row


# How many times a change is re-applied to a document that others keep changing
# before it gives up (each round, one of the competing writers always gets through).
MAX_ATTEMPTS = 50


class WriteConflict(Exception):
    """The document kept changing under this write for MAX_ATTEMPTS rounds."""


def _at_revision(rev: int) -> dict[str, Any]:
    # Documents written before revisions existed have no `rev`: they are at 0.
    return {"rev": rev} if rev else {"rev": {"$in": [0, None]}}


async def apply_change(
    doc: D, owner: dict[str, Any], change: Callable[[D], dict[str, Any]]
) -> D | None:
    """Writes `change(stored)` (python-named field values) onto the stored document.

    Optimistic concurrency: the document is replaced only if it is still at the
    revision `change` was computed from (`rev`, incremented by every write), so a
    concurrent change of another field is never overwritten. When another writer got
    there first, the stored document is read again and `change` is computed anew from
    it (it may raise, e.g. BadUserInput, and then nothing is written). Concurrent
    changes of the same field end with one of the values, whole.

    Guarded by `owner` (e.g. `{"userId": ...}`), so it never writes another user's
    document. Returns the document as it was just before this write, or None when
    no document of that owner has this id; `doc` then holds what was written.
    A replacement rather than a `$set`, so that every field keeps its BSON type
    (the embedded Mongo-wire server turns `$set` datetimes into strings); the
    revision makes it as safe as a `$set` on MongoDB.
    """
    model = type(doc)
    collection = model.get_pymongo_collection()
    current: D = doc.model_copy()  # `doc` takes what is written; this keeps what it was
    for attempt in range(MAX_ATTEMPTS):
        updated = current.model_copy(update={**change(current), "rev": current.rev + 1})
        filter_ = {"_id": doc.id, **owner, **_at_revision(current.rev)}
        result = await collection.replace_one(filter_, as_stored(updated))
        if result.matched_count:
            for name in model.model_fields:
                setattr(doc, name, getattr(updated, name))
            return current
        stored = await collection.find_one({"_id": doc.id, **owner})
        if stored is None:
            return None
        current = model.model_validate(stored)
        # Many writers on one document: spread the next round out a little.
        await asyncio.sleep(random.uniform(0, 0.002 * attempt))  # noqa: S311
    raise WriteConflict(f"{model.__name__} {doc.id} changed {MAX_ATTEMPTS} times under a write")


async def save_changes(doc: D, owner: dict[str, Any], **changes: Any) -> D | None:
    """Sets these python-named fields on the stored document, whatever else changed in
    the meantime (see `apply_change`); returns the document as it was before."""
    return await apply_change(doc, owner, lambda _: changes)
