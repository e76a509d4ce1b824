from __future__ import annotations

import strawberry

from graphql_api.habits.enums import Period

AUTO_SCHEDULE = (
    "The planner books the habit `frequency.times` times a period in the coming 14 days, at "
    "the slots the recommender ranks best inside its preferred windows (events linked by "
    "`Event.habit`), and books it again as the calendar changes."
)


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
    # Nullable as the clients' contract has it (operations/README.md); null is the default.
    auto_schedule: bool | None = strawberry.field(default=False, description=AUTO_SCHEDULE)


@strawberry.input(description="Every field is optional; a field left out keeps its value.")
class UpdateHabitInput:
    name: str | None = strawberry.UNSET
    goal_id: strawberry.ID | None = strawberry.UNSET
    frequency: FrequencyInput | None = strawberry.UNSET
    duration_minutes: int | None = strawberry.UNSET
    preferred_windows: list[PreferredWindowInput] | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
    auto_schedule: bool | None = strawberry.field(
        default=strawberry.UNSET, description=AUTO_SCHEDULE
    )
