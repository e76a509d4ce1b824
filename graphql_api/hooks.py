"""Strawberry's extension hooks, run without a context manager apiece.

For each phase of every operation (operation, parsing, validation, execution),
Strawberry's runner looks at each extension's class for the phase's hook, asks
`inspect` whether it is a generator function, wraps the hook, bound to the
operation's instance, in a new `contextlib.contextmanager` (which copies the
function's name, docs and attributes onto a new wrapper), and enters and leaves
those through an exit stack of its own: with our eight extensions, about 120 Python
calls per executed operation more than driving the hooks directly (measured with
cProfile on an executed `me` query, 2026-12-05).

Here what a class's hook is (a generator function, an async one, a plain method, or
none of its own) is worked out once per (class, phase), and a phase drives the hooks'
generators itself: entering runs each hook up to its `yield`, in order; leaving
resumes them in reverse order, and throws the exception that ended the phase into
each, as Strawberry's exit stacks do (a hook that swallows it hides it from the hooks
before it, yet the phase still raises it, as Strawberry's do; one that raises another
passes that one on). A hook that fails to enter leaves the ones entered before it
closed, and the phase is not entered. An extension with a plain method for the phase
leaves that phase to Strawberry's own context managers.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType
from typing import Any, cast

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# (extension class, hook name) -> (the hook's function, whether it is an async
# generator), or None: the class has no hook of its own for the phase, or a plain one.
_Kind = tuple[Callable[[SchemaExtension], Any], bool] | None
_KINDS: dict[tuple[type[SchemaExtension], str], _Kind] = {}
_PLAIN: set[tuple[type[SchemaExtension], str]] = set()


def _kind_of(key: tuple[type[SchemaExtension], str], default: object) -> _Kind:
    extension, name = key
    hook = getattr(extension, name)
    if hook is default:
        return None
    if inspect.isgeneratorfunction(hook):
        return hook, False
    if inspect.isasyncgenfunction(hook):
        return hook, True
    _PLAIN.add(key)  # a plain method (or something Strawberry refuses): Strawberry's way
    return None


Entered = tuple[Generator[Any, None, None] | AsyncGenerator[Any, None], bool]


class _Phase(ExtensionContextManagerBase):
    """One phase's hooks, driven directly (see the module's docs); Strawberry's own
    context managers when an extension has a plain method for it."""

    __slots__ = ("_entered", "_found", "_strawberrys")

    def __init__(self, extensions: list[SchemaExtension]) -> None:
        self._found: list[tuple[SchemaExtension, Callable[[SchemaExtension], Any], bool]] = []
        self._entered: list[Entered] = []
        self._strawberrys = False
        name, default = self.HOOK_NAME, getattr(SchemaExtension, self.HOOK_NAME)
        for extension in extensions:
            key = (type(extension), name)
            try:
                kind = _KINDS[key]
            except KeyError:
                kind = _KINDS[key] = _kind_of(key, default)
            if kind is not None:
                self._found.append((extension, *kind))
            elif key in _PLAIN:
                self._strawberrys = True
        if self._strawberrys:
            super().__init__(extensions)

    def __enter__(self) -> None:
        if self._strawberrys:
            return super().__enter__()
        for extension, hook, is_async in self._found:
            if is_async:
                self._close_entered()
                raise RuntimeError(
                    f"SchemaExtension hook {extension}.{self.HOOK_NAME} "
                    "failed to complete synchronously."
                )
            try:
                self._enter(hook(extension))
            except BaseException:
                self._close_entered()
                raise
        return None

    async def __aenter__(self) -> None:
        if self._strawberrys:
            return await super().__aenter__()
        for extension, hook, is_async in self._found:
            if is_async:
                generator = cast("AsyncGenerator[Any, None]", hook(extension))
                try:
                    await generator.__anext__()
                except StopAsyncIteration:
                    await self._aclose_entered()
                    raise RuntimeError("generator didn't yield") from None
                except BaseException:
                    await self._aclose_entered()
                    raise
                self._entered.append((generator, True))
            else:
                try:
                    self._enter(hook(extension))
                except BaseException:
                    await self._aclose_entered()
                    raise
        return None

    def _enter(self, generator: Generator[Any, None, None]) -> None:
        try:
            next(generator)
        except StopIteration:
            raise RuntimeError("generator didn't yield") from None
        self._entered.append((generator, False))

    def _close_entered(self) -> None:
        while self._entered:
            generator, _ = self._entered.pop()
            cast("Generator[Any, None, None]", generator).close()

    async def _aclose_entered(self) -> None:
        while self._entered:
            generator, is_async = self._entered.pop()
            if is_async:
                await cast("AsyncGenerator[Any, None]", generator).aclose()
            else:
                cast("Generator[Any, None, None]", generator).close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self._strawberrys:
            return super().__exit__(exc_type, exc_val, exc_tb)
        pending = exc_val
        while self._entered:
            generator, _ = self._entered.pop()
            pending = _resumed(cast("Generator[Any, None, None]", generator), pending)
        self._outcome(exc_val, pending)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self._strawberrys:
            return await super().__aexit__(exc_type, exc_val, exc_tb)
        pending = exc_val
        while self._entered:
            generator, is_async = self._entered.pop()
            if is_async:
                pending = await _aresumed(cast("AsyncGenerator[Any, None]", generator), pending)
            else:
                pending = _resumed(cast("Generator[Any, None, None]", generator), pending)
        self._outcome(exc_val, pending)

    @staticmethod
    def _outcome(raised: BaseException | None, pending: BaseException | None) -> None:
        """As Strawberry's phases end: what a hook raised instead of what the phase
        raised is raised; what the phase raised goes on even when a hook swallowed it
        (Strawberry's phases never suppress; the hooks before that one saw no error)."""
        if pending is not None and pending is not raised:
            raise pending


def _resumed(
    generator: Generator[Any, None, None], pending: BaseException | None
) -> BaseException | None:
    """A hook resumed after its `yield` (with the exception that ended the phase, if
    any): what is still to be raised, as `contextlib.contextmanager` decides."""
    try:
        if pending is None:
            next(generator)
        else:
            generator.throw(pending)
    except StopIteration:
        return None  # ended; with an exception thrown in, it swallowed it
    except BaseException as raised:  # noqa: BLE001 - the hook's, passed on
        if raised is not pending and pending is not None and raised.__context__ is None:
            raised.__context__ = pending
        return raised
    generator.close()
    return RuntimeError("generator didn't stop")


async def _aresumed(
    generator: AsyncGenerator[Any, None], pending: BaseException | None
) -> BaseException | None:
    """An async hook resumed after its `yield`, as `_resumed`."""
    try:
        if pending is None:
            await generator.__anext__()
        else:
            await generator.athrow(pending)
    except StopAsyncIteration:
        return None
    except BaseException as raised:  # noqa: BLE001 - the hook's, passed on
        if raised is not pending and pending is not None and raised.__context__ is None:
            raised.__context__ = pending
        return raised
    await generator.aclose()
    return RuntimeError("generator didn't stop")


class _Operation(_Phase, OperationContextManager):
    __slots__ = ()


class _Validation(_Phase, ValidationContextManager):
    __slots__ = ()


class _Parsing(_Phase, ParsingContextManager):
    __slots__ = ()


class _Executing(_Phase, ExecutingContextManager):
    __slots__ = ()


class ExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner, its phases' hooks driven directly (see the module's docs)."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
