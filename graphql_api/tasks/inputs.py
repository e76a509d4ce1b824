from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.goals.enums import Priority


@strawberry.input
class CreateTaskInput:
    title: str
    notes: str | None = None
    priority: Priority = Priority.P3
    duration_minutes: int = strawberry.field(
        description="A multiple of 15, from 15 to 10080 (a week of work)."
    )
    min_chunk_minutes: int = strawberry.field(
        default=30,
        description="The shortest block (a multiple of 15); longer than the duration: one "
        "block of the whole duration.",
    )
    max_chunk_minutes: int | None = strawberry.field(
        default=None, description="The longest block (a multiple of 15); default: the duration."
    )
    not_before: datetime | None = None
    due: datetime | None = None
    goal_id: strawberry.ID | None = None
    calendar_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A LOCAL calendar of the user for the blocks; default: the primary LOCAL "
        "one (made on first need).",
    )


@strawberry.input(description="Every field is optional; a field left out keeps its value.")
class UpdateTaskInput:
    title: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    priority: Priority | None = strawberry.UNSET
    duration_minutes: int | None = strawberry.UNSET
    min_chunk_minutes: int | None = strawberry.UNSET
    max_chunk_minutes: int | None = strawberry.UNSET
    not_before: datetime | None = strawberry.UNSET
    due: datetime | None = strawberry.UNSET
    goal_id: strawberry.ID | None = strawberry.UNSET
    calendar_id: strawberry.ID | None = strawberry.UNSET
