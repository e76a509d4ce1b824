"""Strawberry's extension hooks, found once per extension class, not per operation.

For each phase of every operation (operation, parsing, validation, execution),
Strawberry's runner looks at each extension's class for the phase's hook, asks
`inspect` whether it is a generator function, and wraps the hook, bound to the
operation's instance, in a new `contextlib.contextmanager` (which copies the
function's name, docs and attributes onto a new wrapper). With our eight extensions
that is some two hundred Python calls per executed operation before any hook runs,
about a tenth of an executed `{ __typename }`.

Here what a class's hook is, and its `contextmanager` wrapper, are worked out once per
(class, phase); an operation binds its instance to the wrapper with `functools.partial`.
What runs is what Strawberry runs: the same context managers, in the same order,
entered and exited by Strawberry's own exit stacks. A hook that is neither a generator
nor an async generator (a plain method) is left to Strawberry's own lookup.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# (extension class, hook name) -> (the hook as a context manager factory taking the
# instance, or None for a plain method; whether it is async); None: the class has no
# hook of its own for the phase.
_Kind = tuple[Callable[..., Any] | None, bool] | None
_KINDS: dict[tuple[type[SchemaExtension], str], _Kind] = {}


def _kind_of(extension: type[SchemaExtension], name: str, default: object) -> _Kind:
    hook = getattr(extension, name)
    if hook is default:
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    return None, False


class _KnownHooks(ExtensionContextManagerBase):
    __slots__ = ()

    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        key = (type(extension), self.HOOK_NAME)
        try:
            kind = _KINDS[key]
        except KeyError:
            kind = _KINDS[key] = _kind_of(type(extension), self.HOOK_NAME, self.default_hook)
        if kind is None:
            return None
        hook, is_async = kind
        if hook is None:
            return super().get_hook(extension)
        return WrappedHook(extension=extension, hook=partial(hook, extension), is_async=is_async)


class _Operation(_KnownHooks, OperationContextManager):
    __slots__ = ()


class _Validation(_KnownHooks, ValidationContextManager):
    __slots__ = ()


class _Parsing(_KnownHooks, ParsingContextManager):
    __slots__ = ()


class _Executing(_KnownHooks, ExecutingContextManager):
    __slots__ = ()


class ExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner, its phases' hooks found once per extension class."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
