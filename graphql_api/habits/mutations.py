from __future__ import annotations

from datetime import date

import strawberry

from graphql_api.context import Context, Info
from graphql_api.habits import service
from graphql_api.habits.enums import CheckInStatus
from graphql_api.habits.inputs import CreateHabitInput, UpdateHabitInput
from graphql_api.habits.types import CheckIn, Habit
from graphql_api.reads import habit_by_id, habit_of
from graphql_api.relay import ref_of
from models import Habit as HabitDoc
from models.base import ref


async def load_habit(ctx: Context, habit_id: strawberry.ID) -> HabitDoc:
    habit = await habit_by_id(ctx, ref_of(habit_id, "Habit"))
    if habit is None:
        raise service.habit_not_found()
    return habit


async def habit_checked_in(ctx: Context, habit_id: strawberry.ID) -> HabitDoc:
    """The habit of a check-in, from the user's (cached) list: a check-in writes the
    check-in, never the habit, and every write of a habit bumps the list's version, so
    the list shows the habit as a read of it from Mongo would (without the round trip).
    The habit's own version comes with the list's: the check-in reads what is cached
    under it before writing (`service.check_in`)."""
    habit_ref = ref_of(habit_id, "Habit")
    ctx.cache.prefetch(f"habit:{habit_ref}")
    habit = await habit_of(ctx, habit_ref)
    if habit is None:
        raise service.habit_not_found()
    return habit


@strawberry.type
class HabitMutations:
    @strawberry.mutation
    async def create_habit(self, info: Info, input: CreateHabitInput) -> Habit:
        return Habit.of(await service.create_habit(info.context, input))

    @strawberry.mutation
    async def update_habit(self, info: Info, id: strawberry.ID, input: UpdateHabitInput) -> Habit:
        habit = await load_habit(info.context, id)
        return Habit.of(await service.update_habit(info.context, habit, input))

    @strawberry.mutation(description="Deletes the habit and its check-ins.")
    async def delete_habit(self, info: Info, id: strawberry.ID) -> bool:
        habit = await load_habit(info.context, id)
        await service.delete_habit(info.context, habit)
        info.context.loaders.habit_by_id.clear(ref(habit))
        return True

    @strawberry.mutation(
        description="Records the check-in for one day of the user's calendar, replacing any "
        "earlier check-in of that day."
    )
    async def check_in_habit(
        self,
        info: Info,
        habit_id: strawberry.ID,
        date: date,
        status: CheckInStatus,
        value: float | None = None,
    ) -> CheckIn:
        habit = await habit_checked_in(info.context, habit_id)
        doc = await service.check_in(info.context, habit, date, status.value, value)
        return CheckIn.of(doc)

    @strawberry.mutation(description="Removes the day's check-in; true if there was one.")
    async def clear_check_in(self, info: Info, habit_id: strawberry.ID, date: date) -> bool:
        habit = await habit_checked_in(info.context, habit_id)
        return await service.clear_check_in(info.context, habit, date)
