"""Resolvers whose value can be read without calling them.

A field with a resolver goes through graphql-core's whole field machinery, and an object
with such a field is never completed by a compiled plan (graphql_api.execution). Some
resolvers only look a value up that is usually at hand on the object (an event's habit,
which its page has read for all its events) and do I/O only when it is not. Such a
resolver names a `reader`: given the object alone, it returns the value, or `Undefined`
when only the resolver can tell; execution then calls the resolver the ordinary way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_READER = "__graphql_api_reader__"


def readable(reader: Callable[[Any], Any]) -> Callable[[F], F]:
    """Marks the resolver as one whose value `reader(root)` gives when it does not return
    `graphql.pyutils.Undefined`. The reader must be cheap, do no I/O and give what the
    resolver would."""

    def mark(resolver: F) -> F:
        setattr(resolver, _READER, reader)
        return resolver

    return mark


def reader_of(resolver: object) -> Callable[[Any], Any] | None:
    reader: Callable[[Any], Any] | None = getattr(resolver, _READER, None)
    return reader
