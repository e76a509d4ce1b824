from __future__ import annotations

import strawberry


@strawberry.input
class WorkingHoursInput:
    weekday: int
    start: str
    end: str


@strawberry.input
class UpdateProfileInput:
    display_name: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    working_hours: list[WorkingHoursInput] | None = strawberry.UNSET
