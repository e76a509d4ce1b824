from __future__ import annotations

from typing import Any

import strawberry

from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.habits.types import Habit
from graphql_api.reads import user_habits
from graphql_api.relay import Connection, paginate
from models import Habit as HabitDoc


def _key(habit: HabitDoc) -> list[Any]:
    return [int(habit.created_at.timestamp() * 1_000_000), str(habit.id)]


@strawberry.type
class HabitQueries:
    @strawberry.field(description="The user's habits, oldest first.", directives=cache(120))
    async def habits(
        self,
        info: Info,
        active: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Habit]:
        docs = [h for h in await user_habits(info.context) if active in (None, h.is_active)]
        return paginate(docs, _key, first, after, Habit.of)
