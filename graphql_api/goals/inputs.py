from __future__ import annotations

from datetime import date

import strawberry

from graphql_api.goals.enums import GoalStatus, Priority


@strawberry.input
class GoalTargetInput:
    value: float
    unit: str


@strawberry.input
class CreateGoalInput:
    title: str
    description: str | None = None
    priority: Priority = Priority.P3
    target_date: date | None = None
    target: GoalTargetInput | None = None


@strawberry.input(description="Every field is optional; a field left out keeps its value.")
class UpdateGoalInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    priority: Priority | None = strawberry.UNSET
    target_date: date | None = strawberry.UNSET
    target: GoalTargetInput | None = strawberry.UNSET
    status: GoalStatus | None = strawberry.UNSET
