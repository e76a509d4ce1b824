from __future__ import annotations

import strawberry

from graphql_api.context import Info
from graphql_api.goals import service
from graphql_api.goals.types import Goal, GoalOrder, GoalStatus
from graphql_api.relay import Connection, paginate
from models.base import ref


@strawberry.type
class GoalQueries:
    @strawberry.field(description="The user's goals, P1 first by default.")
    async def goals(
        self,
        info: Info,
        status: GoalStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: GoalOrder | None = None,
    ) -> Connection[Goal]:
        order = (order_by or GoalOrder.PRIORITY).value
        docs, key = await service.list_goals(
            info.context.user_id, status.value if status else None, order
        )
        for doc in docs:  # later Goal lookups in this request need no query
            info.context.loaders.goal_by_id.prime(ref(doc), doc)
        return paginate(docs, key, first, after, lambda d: Goal(doc=d))
