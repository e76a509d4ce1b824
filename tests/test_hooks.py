"""Extension hooks found once per class (graphql_api.hooks) run as Strawberry runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from graphql_api.hooks import ExtensionsRunner

EVENTS: list[str] = []


class Outer(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        EVENTS.append("outer: operation begins")
        yield
        EVENTS.append("outer: operation ends")

    async def on_execute(self) -> AsyncIterator[None]:
        EVENTS.append("outer: execution begins")
        yield
        EVENTS.append("outer: execution ends")


class Inner(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        EVENTS.append("inner: operation begins")
        yield
        EVENTS.append("inner: operation ends")

    def on_validate(self) -> None:  # type: ignore[override] # a plain method, as Strawberry allows
        EVENTS.append("inner: validates")


class Refusing(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        EVENTS.append("refusing: execution begins")
        raise RuntimeError("refused")
        yield  # pragma: no cover - a generator that never gets here


class Swallowing(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except RuntimeError as e:
            EVENTS.append(f"swallowing: caught {e}")


class FailingAtEnd(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        EVENTS.append("failing: execution begins")
        yield
        raise RuntimeError("failed at the end")

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            EVENTS.append("failing: operation ends")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        EVENTS.append("resolver")
        return "world"


class Ours(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return ExtensionsRunner(execution_context=execution_context, extensions=extensions)


async def _run(
    schema_class: type[strawberry.Schema], *extensions: type[SchemaExtension]
) -> list[str]:
    schema = schema_class(query=Query, extensions=list(extensions))
    EVENTS.clear()
    for _ in range(2):  # the second finds every hook already known
        result = await schema.execute("{ hello }")
        EVENTS.append(f"answer: {result.data} {[e.message for e in result.errors or []]}")
    return list(EVENTS)


@pytest.mark.parametrize(
    "extensions",
    [
        (Outer, Inner),
        (Inner, Outer),
        (Outer, Refusing, Inner),
        (Outer, FailingAtEnd, Inner),
        (Swallowing, Outer, FailingAtEnd),
        (Refusing, Swallowing, FailingAtEnd),
    ],
    ids=[
        "outer-inner",
        "inner-outer",
        "a-hook-that-raises",
        "a-hook-that-raises-at-its-end",
        "a-hook-that-swallows-an-error",
        "a-refusal-and-a-failure",
    ],
)
async def test_hooks_run_in_strawberrys_order_with_its_answers(
    extensions: tuple[type[SchemaExtension], ...],
) -> None:
    # given: the same extensions in Strawberry's schema and in one with our runner
    # when: each runs the query twice
    theirs = await _run(strawberry.Schema, *extensions)
    ours = await _run(Ours, *extensions)
    # then: the same hooks ran, in the same order, and the answers are the same
    assert ours == theirs
    assert len(ours) > 4  # the hooks ran (a refusal answers with its error)
