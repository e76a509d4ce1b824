from __future__ import annotations

import strawberry

from graphql_api import eager
from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.goals import service
from graphql_api.goals.enums import GoalOrder, GoalStatus
from graphql_api.goals.types import Goal, complete_goals
from graphql_api.lookahead import asks_for
from graphql_api.reads import user_habits
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
        progress = asks_for(info, "edges", "node", "progress")
        habits = asks_for(info, "edges", "node", "habits")
        stats = asks_for(info, "edges", "node", "habits", "streak") or asks_for(
            info, "edges", "node", "habits", "strength"
        )
        listed = service.list_goals(info.context, status.value if status else None, order)
        if habits or stats:  # read along with the goals, in the same round of reads
            (docs, key), _ = await eager.both(listed, user_habits(info.context))
        else:
            docs, key = await listed
        page = paginate(docs, key, first, after, Goal.of)
        nodes = [edge.node for edge in page.edges]
        await complete_goals(info.context, nodes, progress=progress, habits=habits, stats=stats)
        return page
