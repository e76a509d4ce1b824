"""Plain fields take a shortcut (graphql_api.execution): answers and errors are the same
as graphql-core's own execution gives, field for field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar

import pytest
import strawberry
from graphql.pyutils import Undefined, UndefinedType
from strawberry.extensions import ParserCache, SchemaExtension

from graphql_api import execution
from graphql_api.execution import Execution
from graphql_api.execution import _compiled as compiled
from graphql_api.execution import _run as run
from graphql_api.readers import readable
from graphql_api.scalars import SCALAR_MAP


@strawberry.enum
class Colour(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Part:
    label: str

    @strawberry.field
    def checked(self) -> str:
        if self.label == "bad":
            raise ValueError("a bad part")
        return self.label


@strawberry.type
class Leaf:
    label: str
    code: int | None


def _known_twin(root: Item) -> Part | UndefinedType:
    return Part(label=root.name) if root.ready else Undefined


@readable(_known_twin)
async def _twin(root: Item) -> Part:
    return Part(label=root.name)


def _known_shout(root: Item) -> str | UndefinedType:
    return root.name.upper() if root.ready else Undefined


@readable(_known_shout)
async def _shout(root: Item) -> str:
    return root.name.upper()


@strawberry.type
class Item:
    name: str
    count: int
    colour: Colour
    at: datetime
    note: str | None
    tags: list[str]
    part: Part
    spare: Part | None
    leaves: list[Leaf]
    maybe_leaves: list[Leaf | None] | None

    twin: Part = strawberry.field(resolver=_twin)
    shout: str = strawberry.field(resolver=_shout)
    ready: strawberry.Private[bool] = True  # whether the readers can tell

    @strawberry.field
    def loud(self) -> str:
        return self.name.upper()


def item(**changes: Any) -> Item:
    values: dict[str, Any] = {
        "name": "a",
        "count": 1,
        "colour": Colour.RED,
        "at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        "note": None,
        "tags": ["x"],
        "part": Part(label="p"),
        "spare": None,
        "leaves": [Leaf(label="l", code=None)],
        "maybe_leaves": None,
    }
    return Item(**{**values, **changes})


ITEMS: list[Item | None] = []


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return ITEMS


QUERY = """{
  items { name count colour at note tags loud part { label checked } spare { label } }
}"""

# Every field plain: each item is completed by a compiled plan.
PLAIN_QUERY = """query ($withCode: Boolean = true) {
  items {
    __typename name count colour at note tags
    spare { label }
    leaves { label code @include(if: $withCode) t: __typename }
    maybeLeaves { ...L }
  }
}
fragment L on Leaf { label code }"""
# The same without a directive: its plans are shared by the process, and compiled.
UNCONDITIONAL_QUERY = PLAIN_QUERY.replace("query ($withCode: Boolean = true) ", "").replace(
    " @include(if: $withCode)", ""
)


def plan_runs(monkeypatch: pytest.MonkeyPatch, *, answered: bool) -> list[tuple[str, str]]:
    """The object types plans ran on (each with "compiled" or "interpreted"), as the
    run began, or with `answered` as it answered."""
    runs: list[tuple[str, str]] = []

    def counted(plan: Any, made: Any, how: str) -> Any:
        def counting(value: Any) -> dict[str, Any]:
            if not answered:
                runs.append((plan.object_type.name, how))
            answer: dict[str, Any] = made(value)
            if answered:
                runs.append((plan.object_type.name, how))
            return answer

        return counting

    monkeypatch.setattr(
        execution,
        "_run",
        lambda plan, value: counted(plan, lambda v: run(plan, v), "interpreted")(value),
    )
    monkeypatch.setattr(
        execution, "_compiled", lambda plan: counted(plan, compiled(plan), "compiled")
    )
    return runs


def schemas(*extensions: type[SchemaExtension]) -> tuple[strawberry.Schema, strawberry.Schema]:
    config = strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP)
    ordinary = strawberry.Schema(Query, config=config, extensions=extensions)
    shortcut = strawberry.Schema(
        Query, config=config, extensions=extensions, execution_context_class=Execution
    )
    return ordinary, shortcut


async def answers(
    schema: strawberry.Schema, query: str = QUERY, variables: dict[str, Any] | None = None
) -> tuple[Any, list[Any]]:
    result = await schema.execute(query, variable_values=variables)
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([item(), item(name="b", colour=Colour.BLUE, note="n")], id="plain"),
        pytest.param([item(), item(name=None)], id="null-in-non-null"),
        pytest.param([item(count="many")], id="does-not-serialize"),
        pytest.param([item(colour="GREEN")], id="not-an-enum-value"),
        pytest.param([item(at="yesterday")], id="not-a-datetime"),
        pytest.param([item(spare=Part(label="s")), item()], id="objects"),
        pytest.param([item(part=None)], id="null-object-in-non-null"),
        pytest.param([item(part="not a part")], id="not-of-the-type"),
        pytest.param([item(part=Part(label="bad")), item()], id="error-inside-an-object"),
    ],
)
async def test_answers_and_errors_are_graphql_cores(items: list[Item | None]) -> None:
    # given
    ITEMS[:] = items
    ordinary, shortcut = schemas()

    # when
    expected = await answers(ordinary)
    got = await answers(shortcut)

    # then
    assert got == expected


PLAIN_CASES = [
    pytest.param([item(), item(name="b", colour=Colour.BLUE, note="n")], id="plain"),
    pytest.param([item(), item(name=None)], id="null-in-non-null"),
    pytest.param([item(count="many")], id="does-not-serialize"),
    pytest.param([item(at="yesterday")], id="not-a-datetime"),
    pytest.param([item(spare=Part(label="s")), item()], id="objects"),
    pytest.param([item(spare="not a part")], id="not-of-the-type"),
    pytest.param([item(leaves=[Leaf(label="a", code=1), Leaf(label="b", code=2)])], id="list"),
    pytest.param([item(leaves=[Leaf(label="a", code=1), None])], id="null-in-a-non-null-list"),
    pytest.param([item(leaves="not a list")], id="not-a-list"),
    pytest.param(
        [item(leaves=[Leaf(label=None, code=1)])],  # type: ignore[arg-type]
        id="null-leaf-in-a-list",
    ),
    pytest.param([item(maybe_leaves=[None, Leaf(label="m", code=3)])], id="nullable-items"),
    pytest.param([item(), None, item(tags=None)], id="null-items"),
    # A String's str passes through as it is; anything else its serializer converts
    # or refuses, as graphql-core's does.
    pytest.param([item(name=5), item(name=True)], id="not-a-str-in-a-string"),
    pytest.param([item(name=float("nan"))], id="a-string-that-does-not-serialize"),
    # An enum's member is answered with its name; anything else as graphql-core does.
    pytest.param([item(colour=Colour.BLUE), item(colour="RED")], id="enum-members-and-names"),
    pytest.param([item(colour="GREEN")], id="not-a-member"),
    pytest.param([item(leaves=[Leaf(label=7, code=1)])], id="not-a-str-in-a-list"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("items", PLAIN_CASES)
@pytest.mark.parametrize(
    ("query", "variables", "how"),
    [
        (PLAIN_QUERY, None, "interpreted"),
        (PLAIN_QUERY, {"withCode": False}, "interpreted"),
        (UNCONDITIONAL_QUERY, None, "compiled"),
    ],
    ids=["directive", "directive-false", "no-directive"],
)
async def test_plans_answer_and_err_as_graphql_core(
    items: list[Item | None],
    query: str,
    variables: dict[str, Any] | None,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a selection of plain fields only, and a count of the objects plans complete
    ITEMS[:] = items
    ordinary, shortcut = schemas()
    runs = plan_runs(monkeypatch, answered=False)

    # when
    expected = await answers(ordinary, query, variables)
    got = await answers(shortcut, query, variables)

    # then: the same answer and errors; the items were completed by the plan (written
    # out as a function of its own when the document has no directive)
    assert got == expected
    assert ("Item", how) in runs


class Seen(SchemaExtension):
    fields: ClassVar[list[str]] = []

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        Seen.fields.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_a_resolve_hook_still_sees_every_field() -> None:
    # given: an extension that hooks every field (as tracing does)
    ITEMS[:] = [item()]
    _, shortcut = schemas(Seen)
    Seen.fields.clear()

    # when
    data, errors = await answers(shortcut)

    # then
    assert not errors
    assert data["items"][0]["name"] == "a"
    leaves = ["name", "count", "colour", "at", "note", "tags", "loud", "label", "checked"]
    assert sorted(Seen.fields) == sorted(["items", *leaves, "part", "spare"])


SHARED_QUERY = """{
  items { __typename name count colour spare { label } leaves { label code } }
}"""


async def test_a_document_without_directives_is_compiled_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: one schema that parses a document once (as the server's does), a document
    # with no directive, and a count of compilations
    ordinary, _ = schemas()
    shortcut = strawberry.Schema(
        Query,
        config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[lambda: ParserCache(maxsize=10)],
        execution_context_class=Execution,
    )
    compiled: list[str] = []
    compile_ = Execution._compile

    def counted(self: Execution, object_type: Any, details: Any, **how: bool) -> Any:
        compiled.append(object_type.name)
        return compile_(self, object_type, details, **how)

    monkeypatch.setattr(Execution, "_compile", counted)

    # when: three requests, each over other values
    for items in ([item()], [item(name="b", spare=Part(label="s"))], [item(), None]):
        ITEMS[:] = items
        # then: the answers are graphql-core's every time
        assert await answers(shortcut, SHARED_QUERY) == await answers(ordinary, SHARED_QUERY)

    # and each selection was compiled by the first request only
    assert sorted(compiled) == ["Item", "Leaf", "Part"]


async def test_a_document_with_include_follows_each_requests_variables() -> None:
    # given: one schema and the same document run with @include's variable both ways
    ITEMS[:] = [item(leaves=[Leaf(label="a", code=1)])]
    ordinary, shortcut = schemas()

    for with_code in (True, False, True):
        # when
        variables = {"withCode": with_code}
        got = await answers(shortcut, PLAIN_QUERY, variables)

        # then
        assert got == await answers(ordinary, PLAIN_QUERY, variables)
        assert ("code" in got[0]["items"][0]["leaves"][0]) is with_code


READABLE_QUERY = "{ items { name shout twin { label } } }"


@pytest.mark.parametrize("ready", [True, False])
async def test_a_resolver_whose_value_is_at_hand_is_read_by_the_plan(
    ready: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: fields with async resolvers whose readers know the value when `ready`
    ITEMS[:] = [item(ready=ready), item(name="b", ready=ready)]
    ordinary, shortcut = schemas()
    runs = plan_runs(monkeypatch, answered=True)

    # when
    expected = await answers(ordinary, READABLE_QUERY)
    got = await answers(shortcut, READABLE_QUERY)

    # then: the same answer either way; the plan completed the items when the readers
    # could tell (else the resolvers ran, awaited)
    assert got == expected
    assert got[0]["items"][1] == {"name": "b", "shout": "B", "twin": {"label": "b"}}
    assert ("Item" in [name for name, _ in runs]) is ready


@strawberry.interface
class Named:
    title: str


@strawberry.type
class Book(Named):
    pages: int


@strawberry.type
class Film(Named):
    minutes: int


@strawberry.type
class Shelf:
    books: list[Book]


SHELF: list[Any] = []


@strawberry.type
class ShelfQuery:
    @strawberry.field
    def shelf(self) -> Shelf:
        return Shelf(books=SHELF)


@pytest.mark.parametrize(
    "shelf",
    [
        pytest.param([Book(title="a", pages=1), Book(title="b", pages=2)], id="books"),
        pytest.param([Book(title="a", pages=1), Film(title="f", minutes=3)], id="a-film"),
        pytest.param(
            [Book(title="a", pages=1), strawberry.cast(Film, Book(title="c", pages=4))],
            id="a-book-cast-to-a-film",
        ),
    ],
)
async def test_a_type_with_interfaces_checks_each_value_as_graphql_core_does(
    shelf: list[Any],
) -> None:
    # given: a type with an interface (so it checks its values) in a plan's list, and
    # some values that are not of it, by their class or by a cast
    SHELF[:] = shelf
    config = strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP)
    ordinary = strawberry.Schema(ShelfQuery, config=config, types=[Film])
    shortcut = strawberry.Schema(
        ShelfQuery, config=config, types=[Film], execution_context_class=Execution
    )
    query = "{ shelf { books { title pages } } }"
    # when: the same values are answered twice (the second time the classes are known)
    expected = [await answers(ordinary, query) for _ in range(2)]
    got = [await answers(shortcut, query) for _ in range(2)]
    # then
    assert got == expected
