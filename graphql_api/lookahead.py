"""What a query asks for below a field.

A page of goals, habits or events works out what its items show (progress, streaks,
a habit's goal) for all of them at once when the query asks for it: one batch of
reads, and fields that answer without a coroutine of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
    VariableNode,
)

from graphql_api.context import Info

T = TypeVar("T")


async def all_settled(futures: Collection[asyncio.Future[Any]]) -> None:
    """Until every one of these futures is done, without raising their errors (read
    each with `outcome`). Cancelled (its request was), it cancels those not done yet,
    as `asyncio.gather` cancels its own: no work goes on for a request that ended."""
    pending = [f for f in futures if not f.done()]
    if not pending:
        return
    try:
        await asyncio.wait(pending)
    except asyncio.CancelledError:
        for future in pending:
            future.cancel()
        raise


def outcome(future: asyncio.Future[T]) -> T | Exception:
    """A done future's value, or the error its field is to report (see `known`)."""
    error = future.exception()  # a cancelled one raises its CancelledError
    if error is None:
        return future.result()
    if isinstance(error, Exception):
        return error
    raise error


def known(value: T | Exception) -> T:
    """A value worked out in advance for a field; the error, if that is what it was."""
    if isinstance(value, Exception):
        raise value
    return value


def asks_for(info: Info, *path: str) -> bool:
    """Whether the query asks, below this field, for the field at `path` (field names,
    not aliases), through fragments, with @skip and @include honoured."""
    # The raw nodes: Strawberry's `info.selected_fields` converts the whole subtree
    # (~100 µs for a Dashboard's goals), where this walks the one path.
    raw = info._raw_info
    selections = [
        selection
        for node in raw.field_nodes
        if node.selection_set is not None
        for selection in node.selection_set.selections
    ]
    return _asks(selections, path, raw.fragments, info.variable_values)


def _asks(
    selections: Collection[SelectionNode],
    path: tuple[str, ...],
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> bool:
    for selection in selections:
        if not _included(selection, variables):
            continue
        if isinstance(selection, FieldNode):
            if selection.name.value != path[0]:
                continue
            if len(path) == 1:
                return True
            inner = selection.selection_set
            if inner is not None and _asks(inner.selections, path[1:], fragments, variables):
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _asks(selection.selection_set.selections, path, fragments, variables):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and _asks(
                fragment.selection_set.selections, path, fragments, variables
            ):
                return True
    return False


def _included(node: SelectionNode, variables: Mapping[str, Any]) -> bool:
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
        if isinstance(condition, VariableNode):
            value = bool(variables.get(condition.name.value))
        else:
            value = isinstance(condition, BooleanValueNode) and condition.value
        if value == (name == "skip"):
            return False
    return True
