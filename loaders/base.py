"""Per-request DataLoaders over Beanie documents, scoped to one user.

Keys are stored ids as hex strings (`Ref`). Every query carries the user's id,
so another user's key is simply a miss; values come back aligned to the keys,
`None` or `[]` for a miss.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from typing import Any, ClassVar, Generic, TypeVar

from aiodataloader import DataLoader
from beanie import Document
from bson import ObjectId
from prometheus_client import Histogram
from pymongo.asynchronous.collection import AsyncCollection

from loaders.reads import Reads, find
from models.base import Ref, built, matching

D = TypeVar("D", bound=Document)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# How many keys each batch carried: 1s everywhere would mean the batching is lost.
BATCH_SIZES = Histogram(
    "dataloader_batch_size",
    "Keys per DataLoader batch",
    ["loader"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)


async def find_all(
    model: type[D],
    query: dict[str, Any],
    collection: AsyncCollection[Any] | None = None,
    reads: Reads | None = None,
) -> list[D]:
    """`model.find(query).to_list()` in one round trip, through pymongo: Beanie adds a
    projection naming every field, which makes the embedded Mongo-wire server copy
    each document, and its query building and parsing cost ~40% more CPU. Its times are
    read without zones (`naive_times`): the documents' instants are made UTC as they
    are built (`models.base.Instant`)."""
    collection = collection if collection is not None else model.get_pymongo_collection()
    rows = await find_rows(naive_times(collection), query, reads)
    return [built(model, row) for row in rows]


def naive_times(collection: AsyncCollection[Any]) -> AsyncCollection[Any]:
    """The collection with the client's codec options but for time zones: stored times
    read as naive datetimes (UTC, as BSON keeps them). With the client's (`tz_aware`,
    Python's UTC), bson builds each time with its own UTC, a tzinfo written in Python,
    and converts it: a Python call a time, ~2.5 µs a row of two times (a cold
    Dashboard's check-ins, some 170 rows: a twentieth of its CPU). For rows whose times
    are not read (a check-in's day is a string) or become JSON (`codecs.stored` writes
    a naive time as UTC), and for documents, whose instants are made UTC as they are
    built (`models.base.Instant`): never for rows whose times are compared as they are.
    Made once per collection object (~6-12 µs: new codec options and a new collection),
    as it may run on another client (tests); by identity, as collections that differ
    only in their options compare equal."""
    kept = _NAIVE.get(id(collection))
    if kept is not None and kept[0] is collection:
        return kept[1]
    options = collection.codec_options.with_options(tz_aware=False, tzinfo=None)
    naive = collection.with_options(codec_options=options)
    if len(_NAIVE) >= _NAIVE_KEPT:  # collections made per request (secondary reads)
        _NAIVE.clear()
    _NAIVE[id(collection)] = (collection, naive)  # kept alive: its id stays its own
    return naive


_NAIVE: dict[int, tuple[AsyncCollection[Any], AsyncCollection[Any]]] = {}
_NAIVE_KEPT = 256


async def find_rows(
    collection: AsyncCollection[Any], query: dict[str, Any], reads: Reads | None = None
) -> list[Any]:
    """The matching documents, whole and as stored, in one round trip (with the request's
    `reads`, sent along with its other reads of the moment: `loaders.reads`). No
    projection: it makes the embedded Mongo-wire server copy each document to cut it
    down, which costs it more than it saves (a 56-check-in history: 2.0 against 1.5 ms
    of its CPU)."""
    if reads is not None:
        return await reads.rows(collection, query)
    return await find(collection, query)


class UserScopedLoader(DataLoader[K, V]):
    def __init__(self, user_id: str, reads: Reads | None = None) -> None:
        super().__init__()
        self.user_id = user_id
        self.reads = reads  # the request's (None: each batch a find of its own)

    async def batch_load_fn(self, keys: list[K]) -> list[V]:
        BATCH_SIZES.labels(type(self).__name__).observe(len(keys))
        return await self.load_batch(keys)

    async def load_batch(self, keys: list[K]) -> list[V]:
        """The values for these keys, aligned to them: one query per batch."""
        raise NotImplementedError


class ByIdLoader(UserScopedLoader[Ref, D | None], Generic[D]):
    """`<Entity>ByIdLoader`: the user's document with that id, or None."""

    document: ClassVar[type[Document]]

    async def load_batch(self, keys: list[Ref]) -> list[D | None]:
        ids = [ObjectId(k) for k in set(keys) if ObjectId.is_valid(k)]
        query = matching({"_id": {"$in": ids}, "userId": self.user_id})
        # Not with the request's other reads: see `loaders.reads` on ids and times.
        docs = await find_all(self.document, query)
        by_id: dict[str, Any] = {str(doc.id): doc for doc in docs}
        return [by_id.get(key) for key in keys]


class ByParentLoader(UserScopedLoader[Ref, list[D]], Generic[D]):
    """`<Entities>By<Parent>Loader`: the user's documents under each parent id.

    `field` is the Mongo name of the parent reference, `attribute` its Python
    name; `order_by` names the attribute the lists are sorted on.
    """

    document: ClassVar[type[Document]]
    field: ClassVar[str]
    attribute: ClassVar[str]
    order_by: ClassVar[str]

    async def load_batch(self, keys: list[Ref]) -> list[list[D]]:
        query = matching({self.field: {"$in": list(set(keys))}, "userId": self.user_id})
        docs: list[Any] = await find_all(self.document, query, reads=self.reads)
        grouped: dict[Ref, list[Any]] = defaultdict(list)
        for doc in sorted(docs, key=lambda d: (getattr(d, self.order_by), d.id)):
            grouped[getattr(doc, self.attribute)].append(doc)
        return [grouped.get(key, []) for key in keys]
