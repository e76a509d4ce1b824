"""Errors a client can act on, each with its `extensions.code`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from graphql import GraphQLError, GraphQLSyntaxError
from pymongo.errors import ConnectionFailure
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from models.base import WriteConflict


class AppError(Exception):
    """An error whose message is meant for the client, never masked."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {"code": self.code, **extensions}


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"


class NotFound(AppError):
    code = "NOT_FOUND"


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"


class Forbidden(AppError):
    code = "FORBIDDEN"


def not_found(kind: str) -> NotFound:
    return NotFound(f"{kind} not found")


def for_item(error: AppError, index: int, list_field: str) -> AppError:
    """The same error, naming the list item it is about (`inputs[3].title`)."""
    item = f"{list_field}[{index}]"
    field = error.extensions.get("field")
    extensions = {k: v for k, v in error.extensions.items() if k != "code"}
    extensions |= {"index": index, "field": f"{item}.{field}" if field else item}
    return type(error)(f"{item}: {error.message}", **extensions)


log = logging.getLogger("graphql_api.errors")


class ErrorCodes(SchemaExtension):
    """Gives every error an `extensions.code`; hides unexpected ones in production.

    Syntax errors are GRAPHQL_PARSE_FAILED, validation errors
    GRAPHQL_VALIDATION_FAILED, variables that do not coerce BAD_USER_INPUT, our
    AppErrors their own code, an update that lost every race CONFLICT, anything
    else INTERNAL with the request id.
    """

    def __init__(self) -> None:
        self._validation_errors: set[int] = set()

    def on_validate(self) -> Iterator[None]:
        yield
        self._validation_errors = {id(e) for e in self.execution_context.pre_execution_errors or []}

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._coded(error) for error in result.errors]
        answer_unavailable(result.data, result.errors, self.execution_context)

    def _coded(self, error: GraphQLError) -> GraphQLError:  # noqa: PLR0911 - one per kind
        original = error.original_error
        if isinstance(original, AppError):
            return _with_extensions(error, original.message, original.extensions)
        if isinstance(original, ConnectionFailure):
            return unavailable(error, self.execution_context)
        if isinstance(original, WriteConflict):
            # Nothing of this update was written: the client may simply send it again.
            message = "the object changed too often at once to apply this update; send it again"
            return _with_extensions(error, message, {"code": "CONFLICT"})
        if error.extensions and "code" in error.extensions:
            return error
        if isinstance(error, GraphQLSyntaxError):
            return _with_extensions(error, error.message, {"code": "GRAPHQL_PARSE_FAILED"})
        if id(error) in self._validation_errors:
            return _with_extensions(error, error.message, {"code": "GRAPHQL_VALIDATION_FAILED"})
        if not error.path:
            # Raised before any field ran: variables that did not coerce, an
            # unknown operation name, and the like.
            return _with_extensions(error, error.message, {"code": "BAD_USER_INPUT"})
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        settings = getattr(getattr(context, "state", None), "settings", None)
        mask = settings is None or settings.is_production
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(str(p) for p in error.path),
            request_id,
            exc_info=original,
        )
        message = "Internal server error" if mask else error.message
        return _with_extensions(error, message, {"code": "INTERNAL", "requestId": request_id})


def unavailable(error: GraphQLError, execution_context: ExecutionContext) -> GraphQLError:
    """The database could not be reached: said plainly, with nothing of the driver's."""
    request_id = getattr(execution_context.context, "request_id", None)
    log.warning("database unavailable (request %s): %s", request_id, error.original_error)
    return _with_extensions(
        error,
        "the service is temporarily unavailable; try again shortly",
        {"code": "SERVICE_UNAVAILABLE", "requestId": request_id},
    )


def answer_unavailable(
    data: object, errors: list[GraphQLError], execution_context: ExecutionContext
) -> None:
    """No data at all because the database is down: HTTP 503, so clients and balancers retry."""
    codes = {(e.extensions or {}).get("code") for e in errors}
    response = getattr(execution_context.context, "response", None)
    if data is None and "SERVICE_UNAVAILABLE" in codes and isinstance(response, Response):
        response.status_code = 503
        response.headers["Retry-After"] = "1"


def _with_extensions(
    error: GraphQLError, message: str, extensions: dict[str, object]
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), **extensions},
    )
