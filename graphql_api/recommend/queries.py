from __future__ import annotations

import strawberry

from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.events.inputs import TimeRangeInput
from graphql_api.recommend import ranking
from graphql_api.recommend.ranking import habit_named
from graphql_api.recommend.types import Recommendation


@strawberry.type
class RecommendationQueries:
    @strawberry.field(
        description="Free slots of the habit's duration inside the range (at most 31 days), "
        "best first: inside its preferred windows (else the working hours, else 07:00-22:00), "
        "not sooner than the minimum notice. `limit` is 1 to 50.",
        directives=cache(60),
    )
    async def recommendations(
        self, info: Info, habit_id: strawberry.ID, range: TimeRangeInput, limit: int = 5
    ) -> list[Recommendation]:
        habit = await habit_named(info.context, habit_id)
        picks = await ranking.recommend(info.context, habit, range.start, range.end, limit)
        return [Recommendation.of(p) for p in picks]
