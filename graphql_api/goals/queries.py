from __future__ import annotations

import strawberry

from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.goals import service
from graphql_api.goals.types import Goal, GoalOrder, GoalStatus
from graphql_api.relay import Connection, paginate


@strawberry.type
class GoalQueries:
    @strawberry.field(description="The user's goals, P1 first by default.", directives=cache(120))
    async def goals(
        self,
        info: Info,
        status: GoalStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: GoalOrder | None = None,
    ) -> Connection[Goal]:
        order = (order_by or GoalOrder.PRIORITY).value
        docs, key = await service.list_goals(info.context, status.value if status else None, order)
        return paginate(docs, key, first, after, Goal.of)
