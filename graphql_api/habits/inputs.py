from __future__ import annotations

import strawberry

from graphql_api.habits.enums import Period


@strawberry.input
class FrequencyInput:
    times: int
    per: Period


@strawberry.input
class PreferredWindowInput:
    weekdays: list[int]
    start: str
    end: str


@strawberry.input
class CreateHabitInput:
    name: str
    goal_id: strawberry.ID | None = None
    frequency: FrequencyInput
    duration_minutes: int = 30
    preferred_windows: list[PreferredWindowInput] | None = None


@strawberry.input(description="Every field is optional; a field left out keeps its value.")
class UpdateHabitInput:
    name: str | None = strawberry.UNSET
    goal_id: strawberry.ID | None = strawberry.UNSET
    frequency: FrequencyInput | None = strawberry.UNSET
    duration_minutes: int | None = strawberry.UNSET
    preferred_windows: list[PreferredWindowInput] | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
