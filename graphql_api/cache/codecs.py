"""How cached values become bytes and back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from beanie import Document

T = TypeVar("T")
D = TypeVar("D", bound=Document)


@dataclass(frozen=True)
class Codec(Generic[T]):
    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]


def documents(model: type[D]) -> Codec[list[D]]:
    """A list of Beanie documents, as their JSON."""

    def encode(docs: list[D]) -> bytes:
        return orjson.dumps([d.model_dump(mode="json", by_alias=True) for d in docs])

    def decode(raw: bytes) -> list[D]:
        return [model.model_validate(item) for item in orjson.loads(raw)]

    return Codec(encode, decode)


def document(model: type[D]) -> Codec[D]:
    def encode(doc: D) -> bytes:
        return orjson.dumps(doc.model_dump(mode="json", by_alias=True))

    def decode(raw: bytes) -> D:
        doc: D = model.model_validate(orjson.loads(raw))
        return doc

    return Codec(encode, decode)


JSON: Codec[Any] = Codec(orjson.dumps, orjson.loads)
