"""Opaque global IDs, the `Node` interface, and cursor connections."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from bson import ObjectId

from graphql_api.errors import BadUserInput
from models.base import Ref

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(raw: bytes) -> str:
    """URL-safe base64 without padding: base64.urlsafe_b64encode's, in C calls only (IDs
    and cursors are made for every edge of every page)."""
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).decode().rstrip("=")


def to_global_id(type_name: str, raw_id: object) -> strawberry.ID:
    return strawberry.ID(_b64(f"{type_name}:{raw_id}".encode()))


def decode_global_id(global_id: str) -> tuple[str, str]:
    """Split an ID into (type name, raw id); a malformed one is `BAD_USER_INPUT`."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"{global_id!r} is not a valid ID") from None
    if not type_name or not raw:
        raise BadUserInput(f"{global_id!r} is not a valid ID")
    return type_name, raw


def ref_of(global_id: str, type_name: str) -> Ref:
    """The stored id (24-hex) behind a global ID of `type_name`; `BAD_USER_INPUT` otherwise."""
    kind, raw = decode_global_id(global_id)
    if kind != type_name:
        raise BadUserInput(f"{global_id!r} is not a {type_name} ID")
    if not ObjectId.is_valid(raw):
        raise BadUserInput(f"{global_id!r} is not a valid ID")
    return str(ObjectId(raw))


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    """Implemented by types that wrap a Beanie document in `doc`; the ID names the type.

    Each type's `of(doc)` reads the document's plain values into attributes once,
    `id` among them: a field without a resolver is served by Strawberry's fast path
    (no `Info`, no argument parsing, no coroutine), several times cheaper a field.
    """

    doc: strawberry.Private[Any]
    id: strawberry.ID


# Each Node type's `of(doc)`, by type name: a field of one domain that returns another
# domain's type (Habit.goal is a Goal) builds it through here, so that domain's types
# module is imported by the schema, not by every type that points at it.
_VIEWS: dict[str, Callable[[Any], Any]] = {}


def register_view(type_name: str, of: Callable[[Any], Any]) -> None:
    """Called by each types module for its own Node types, when the schema imports it."""
    _VIEWS[type_name] = of


def view_of(type_name: str, doc: Any) -> Any:
    """The `type_name` Node of `doc` (as that type's `of(doc)` builds it)."""
    return _VIEWS[type_name](doc)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    total_count: int
    page_info: PageInfo
    edges: list[Edge[T]]


def encode_cursor(key: Sequence[Any]) -> str:
    # Compact JSON (orjson); cursors made by json.dumps before decode the same.
    try:
        raw = orjson.dumps(list(key))
    except TypeError:  # an int beyond 64 bits: no key of ours, a made-up cursor's
        raw = json.dumps(list(key), separators=(",", ":")).encode()
    return _b64(raw)


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"{cursor!r} is not a valid cursor", field="after") from None
    if not isinstance(key, list) or not all(isinstance(k, int | str) for k in key):
        raise BadUserInput(f"{cursor!r} is not a valid cursor", field="after")
    return key


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise BadUserInput(
            f"first must be between 0 and {MAX_PAGE_SIZE}, got {first}", field="first"
        )
    return first


def paginate(
    items: Sequence[T],
    key: Callable[[T], list[Any]],
    first: int | None,
    after: str | None,
    wrap: Callable[[T], Any],
    *,
    valid: Callable[[list[Any]], bool] = lambda key: True,
    cursor: Callable[[T], str] | None = None,
) -> Connection[Any]:
    """A keyset page over `items`, which must already be sorted by `key`.

    Keys are compared, not positions, so a page stays right when items are
    added or removed between requests. `valid` says whether a cursor's key could
    have come from this list at all. Keys are worked out for the page's items, and
    for the few a binary search looks at to find where the page after a cursor begins.
    `cursor`: an item's cursor (its key's, encoded), where the caller has it at hand.
    """
    size = page_size(first)
    start = 0
    if after is not None:
        cursor_key = decode_cursor(after)
        shape = [type(k) for k in key(items[0])] if items else None
        if not valid(cursor_key) or (shape and shape != [type(k) for k in cursor_key]):
            raise BadUserInput(f"{after!r} is not a cursor of this list", field="after")
        start = bisect.bisect_right(items, cursor_key, key=key)
    window = items[start : start + size]
    if cursor is None:
        edges = [Edge(cursor=encode_cursor(key(item)), node=wrap(item)) for item in window]
    else:
        edges = [Edge(cursor=cursor(item), node=wrap(item)) for item in window]
    return Connection(
        total_count=len(items),
        page_info=PageInfo(
            has_next_page=start + size < len(items),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
    )
