from __future__ import annotations

from typing import Any

import strawberry

from graphql_api.context import Info
from graphql_api.habits.types import Habit
from graphql_api.relay import Connection, paginate
from loaders.base import BATCH_SIZE
from models import Habit as HabitDoc
from models.base import ref


def _key(habit: HabitDoc) -> list[Any]:
    return [int(habit.created_at.timestamp() * 1_000_000), str(habit.id)]


@strawberry.type
class HabitQueries:
    @strawberry.field(description="The user's habits, oldest first.")
    async def habits(
        self,
        info: Info,
        active: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Habit]:
        query: dict[str, Any] = {"userId": info.context.user_id}
        if active is not None:
            query["isActive"] = active
        docs = await HabitDoc.find(query, batch_size=BATCH_SIZE).to_list()
        docs.sort(key=_key)
        for doc in docs:
            info.context.loaders.habit_by_id.prime(ref(doc), doc)
        return paginate(docs, _key, first, after, lambda d: Habit(doc=d))
