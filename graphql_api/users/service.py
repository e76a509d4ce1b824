from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from strawberry import UNSET

from graphql_api import validation
from graphql_api.changes import profile_changed
from graphql_api.errors import BadUserInput
from graphql_api.replans import request_replan
from models import User, WorkingHours
from models.base import save_changes

if TYPE_CHECKING:
    from graphql_api.context import Context
    from graphql_api.users.inputs import UpdateProfileInput, WorkingHoursInput

# As many as a habit's preferred windows; User.workingHours is sized by it.
MAX_WORKING_HOURS = 50


def working_hours(items: list[WorkingHoursInput]) -> list[WorkingHours]:
    """Validated working hours; windows on one weekday must not overlap."""
    if len(items) > MAX_WORKING_HOURS:
        raise BadUserInput(
            f"at most {MAX_WORKING_HOURS} working-hours windows, got {len(items)}",
            field="workingHours",
        )
    by_day: dict[int, list[tuple[int, int]]] = defaultdict(list)
    result = []
    for i, item in enumerate(items):
        field = f"workingHours[{i}]"
        validation.weekday(item.weekday, f"{field}.weekday")
        window = validation.time_window(item.start, item.end, field)
        for other in by_day[item.weekday]:
            if window[0] < other[1] and other[0] < window[1]:
                raise BadUserInput(
                    f"{field} overlaps another window on weekday {item.weekday}", field=field
                )
        by_day[item.weekday].append(window)
        result.append(WorkingHours(weekday=item.weekday, start=item.start, end=item.end))
    return sorted(result, key=lambda w: (w.weekday, w.start))


async def update_profile(ctx: Context, data: UpdateProfileInput) -> User:
    user = ctx.viewer
    changes: dict[str, Any] = {}
    if data.display_name is not UNSET:
        changes["display_name"] = validation.optional_text(
            data.display_name, "displayName", validation.SHORT_TEXT_MAX
        )
    if data.timezone is not UNSET:
        changes["timezone"] = validation.timezone(validation.not_null(data.timezone, "timezone"))
    if data.working_hours is not UNSET:
        changes["working_hours"] = working_hours(data.working_hours or [])
    if changes:
        await save_changes(user, {}, **changes)
        await profile_changed(ctx)
        if {"timezone", "working_hours"} & changes.keys():
            # Where work may go has moved: the user's tasks are planned again.
            await request_replan(ctx.state, ctx.user_id, "CALENDAR_CHANGED")
    return user
