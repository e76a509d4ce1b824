"""How cached values become bytes and back."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import orjson
from beanie import Document

from graphql_api.memo import Memo
from models.base import built

T = TypeVar("T")
D = TypeVar("D", bound=Document)

# Building a Beanie document from its JSON (validation, then Beanie's and pydantic's
# set-up of each instance) costs ~35 µs an event, and a warm Dashboard decodes some
# 30 of them from the same few cached values request after request. Decoding is a
# function of the bytes alone, so each value is decoded once per process, here, and
# every caller gets shallow copies of its own (~5 µs each): a caller may set a
# document's fields (apply_change does), never change its nested values in place,
# which the copies share with this memo.
# Bounded by the documents it holds (a week of events, a user's goals, ...): 6,000, some
# 15 MB with the JSON they were decoded from (an event ~1.9 KB, its JSON ~0.6), a little
# less than 5,000 took before their private attributes were shared and the memo below
# kept digests (an event 2.7 KB). A process whose users' documents outnumber it decodes
# some of them again: those read least recently (a read makes a value the newest,
# `Memo.touch`). When the first decoded went first, however often read, decoding
# again was 4% of the load mix's API samples with 50 users; least recently read
# first cut the mix's API CPU by 3-4% (bench.cpu, 2026-12-07).
_DECODED: Memo[tuple[type[Document], bytes], list[Any]] = Memo(
    6_000, weigh=lambda docs: len(docs) + 1
)
# The same, one document at a time, by its own JSON: a value that changed in one of
# its documents (a week with one more event) builds only that one again. Its JSON is
# dumped again to look it up (~1 µs a document, against ~35 to build one), and kept as
# its BLAKE2b digest (16 bytes, where the JSON of an event takes ~600: a quarter of
# what a kept event held; two documents with one digest are as likely as two of git's
# objects with one hash). Weak: a document is found here while a value kept above (the
# week before the change, most often) or a request still holds it, so this memo keeps
# no document alive itself (with 10,000 kept on top of the memo above, the load bench's
# two API processes ended at 604 MB of RSS, against 411 MB before).
_DOCUMENTS: weakref.WeakValueDictionary[tuple[type[Document], bytes], Any] = (
    weakref.WeakValueDictionary()
)


@dataclass(frozen=True)
class Codec(Generic[T]):
    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]


def _decoded(
    model: type[D], raw: bytes, parse: Callable[[bytes], list[Any]], *, copies: bool = True
) -> list[D]:
    key = (model, raw)
    docs = _DECODED.get(key)
    if docs is None:
        docs = _DECODED[key] = [_document(model, item) for item in parse(raw)]
    else:
        _DECODED.touch(key)  # the least recently read go first
    return [doc.model_copy() for doc in docs] if copies else list(docs)


# The names of the fields a kept document was given (pydantic's `__pydantic_fields_set__`),
# one set for every kept document given the same: a stored event names all its 28
# fields, and a set of them takes 2.2 KB, 40% of what a kept event holds. Kept
# documents are never assigned to (they are shared read-only, or copied first, and a
# copy gets a set of its own), so nothing adds to a shared set.
_FIELDS_SET: dict[frozenset[str], set[str]] = {}
# The same for their private attributes (Beanie's: a lazily parsed store, saved states),
# one dict for every kept document of a model whose are the same as the first one's
# (all, as built: nothing here parses lazily or manages state). Kept documents are not
# saved, and a copy gets a dict of its own (pydantic's model_copy copies it).
_PRIVATE: dict[type[Document], dict[str, Any]] = {}


def _document(model: type[D], item: Any, dumped: bytes | None = None) -> D:
    """The kept document of `item` (JSON decoded, or a stored row), built if none is;
    `dumped`: the item's JSON (`orjson.dumps` of the decoded item), when at hand."""
    json = orjson.dumps(item) if dumped is None else dumped
    key = (model, hashlib.blake2b(json, digest_size=16).digest())
    doc: D | None = _DOCUMENTS.get(key)
    if doc is None:
        doc = _DOCUMENTS[key] = built(model, item)
        names = doc.__pydantic_fields_set__
        shared = _FIELDS_SET.setdefault(frozenset(names), names)
        object.__setattr__(doc, "__pydantic_fields_set__", shared)
        private = doc.__pydantic_private__
        if private is not None:
            first = _PRIVATE.setdefault(model, private)
            if private == first:
                object.__setattr__(doc, "__pydantic_private__", first)
    return doc


def documents(model: type[D], *, read_only: bool = False) -> Codec[list[D]]:
    """A list of Beanie documents, as their JSON.

    Decoded documents are kept per process; each decode hands out copies, so a caller
    may change them. `read_only=True` hands out the kept documents themselves (a
    tenth of an events page's CPU is those copies): only for readers that never
    assign to them."""

    def encode(docs: list[D]) -> bytes:
        return orjson.dumps([d.model_dump(mode="json", by_alias=True) for d in docs])

    def decode(raw: bytes) -> list[D]:
        return _decoded(model, raw, orjson.loads, copies=not read_only)

    return Codec(encode, decode)


@dataclass(frozen=True, slots=True)
class Listed(Generic[D]):
    """Documents and the JSON the cache keeps of them (`listed`)."""

    raw: bytes
    docs: list[D]


def listed(model: type[D], *, read_only: bool = False) -> Codec[Listed[D]]:
    """A list of documents as the JSON of their rows (`stored`), decoded as `documents`
    decodes it (`read_only` as there), which takes the JSON of the documents dumped
    (`documents`' own, as lists were cached before) alike. A list read from Mongo is
    made by `listed_rows`."""

    def decode(raw: bytes) -> Listed[D]:
        return Listed(raw, _decoded(model, raw, orjson.loads, copies=not read_only))

    return Codec(_raw, decode)


def _raw(value: Listed[Any]) -> bytes:
    return value.raw


def listed_rows(model: type[D], rows: list[dict[str, Any]], *, read_only: bool) -> Listed[D]:
    """The documents of rows read from Mongo, with the JSON `listed` keeps them as: built
    from the rows and kept decoded (`documents_of_rows`), so that the next read of the
    list in this process builds nothing, where one of a list dumped from its documents
    parsed the JSON and built every document again (some 35 µs each: a user's first
    requests read their goals, habits and calendars so, one request after another);
    and written from the rows, about a tenth of the cost of dumping the documents."""
    each = stored_each(rows)
    raw = joined(each)
    docs = documents_of_rows(model, raw, rows, each)
    return Listed(raw, docs if read_only else [doc.model_copy() for doc in docs])


def stored(rows: list[dict[str, Any]]) -> bytes:
    """Documents as read from Mongo (pymongo's rows), as the JSON `documents(model)`
    decodes: validation takes the stored names, ISO instants and ids as hex. About a
    tenth of the cost of building the documents to dump them. A naive time is one read
    without time zones (UTC, as BSON keeps them): written as UTC, the same JSON as the
    time read with its zone."""
    return joined(stored_each(rows))


def stored_each(rows: list[dict[str, Any]]) -> list[bytes]:
    """Each row's JSON in `stored(rows)` (`joined` makes that of them): the JSON of its
    item once decoded, as well (its ids and times are written as the strings they
    decode to)."""
    return [orjson.dumps(row, default=str, option=orjson.OPT_NAIVE_UTC) for row in rows]


def joined(each: list[bytes]) -> bytes:
    """A JSON array of these JSON values, as orjson writes one (no spaces)."""
    return b"[" + b",".join(each) + b"]"


def documents_of_rows(
    model: type[D], raw: bytes, rows: list[dict[str, Any]], each: list[bytes] | None = None
) -> list[D]:
    """What `documents(model, read_only=True).decode(raw)` answers, where `raw` is
    `stored(rows)`: the same documents, built from the rows themselves (a stored event
    ~12 µs, against ~20 from its JSON, whose times and ids are text to parse again) and
    kept as that decode keeps them, so that the next read of `raw` (or of a value that
    shares some of them) shares them too. For a value just read from Mongo and stored;
    `each`: its rows' JSON (`stored_each`), when at hand."""
    key = (model, raw)
    docs = _DECODED.get(key)
    if docs is None:
        dumped = stored_each(rows) if each is None else each
        docs = _DECODED[key] = [
            _document(model, row, json) for row, json in zip(rows, dumped, strict=True)
        ]
    return list(docs)


def decoded_with(
    model: type[D],
    raw: bytes,
    grown: bytes,
    *,
    at: int | None,
    row: dict[str, Any],
    json: bytes,
) -> None:
    """Keeps `grown` decoded, as a read of it would keep it, where `raw` is kept decoded:
    `grown` is `raw` (a JSON array `documents(model)` decodes) with one more document at
    index `at` (None: last), `row` (as stored, or as JSON decoded; its JSON `json`).
    For a writer that carries a cached list over its write (a week with one more
    event, a user's new goal): the next read of the list in this process finds it
    decoded, where it would parse the whole list and digest each of its documents to
    find them kept (~5 µs a document, a week's thirty events and more for each read
    after a new event)."""
    docs = _DECODED.get((model, raw))
    if docs is not None and (model, grown) not in _DECODED:
        at = len(docs) if at is None else at
        doc = _document(model, row, json)
        _DECODED[(model, grown)] = [*docs[:at], doc, *docs[at:]]


def document(model: type[D]) -> Codec[D]:
    def encode(doc: D) -> bytes:
        return orjson.dumps(doc.model_dump(mode="json", by_alias=True))

    def decode(raw: bytes) -> D:
        return _decoded(model, raw, lambda raw: [orjson.loads(raw)])[0]

    return Codec(encode, decode)


JSON: Codec[Any] = Codec(orjson.dumps, orjson.loads)


def _same(raw: bytes) -> bytes:
    return raw


# A value's bytes as they are cached (a writer that edits the JSON itself).
BYTES: Codec[bytes] = Codec(_same, _same)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _encode_spans(spans: list[tuple[datetime, datetime]]) -> bytes:
    # Whole microseconds since the epoch: exact both ways, where float seconds are not.
    return orjson.dumps(
        [[(s - _EPOCH) // _MICROSECOND, (e - _EPOCH) // _MICROSECOND] for s, e in spans]
    )


def _decode_spans(raw: bytes) -> list[tuple[datetime, datetime]]:
    return [(_EPOCH + s * _MICROSECOND, _EPOCH + e * _MICROSECOND) for s, e in orjson.loads(raw)]


# Spans of time (start, end), as instants in UTC.
SPANS: Codec[list[tuple[datetime, datetime]]] = Codec(_encode_spans, _decode_spans)
