from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.context import Info
from graphql_api.events.types import Event, event_of
from graphql_api.recommend import booking
from graphql_api.recommend.ranking import habit_named


@strawberry.type
class RecommendationMutations:
    @strawberry.mutation(
        description="Books the habit at `start` for its duration on the given LOCAL calendar "
        "(default: the primary one). A time that is no longer free is refused."
    )
    async def schedule_habit(
        self,
        info: Info,
        habit_id: strawberry.ID,
        start: datetime,
        calendar_id: strawberry.ID | None = None,
    ) -> Event:
        habit = await habit_named(info.context, habit_id)
        event = await booking.schedule_habit(info.context, habit, start, calendar_id)
        return await event_of(info.context, event)

    @strawberry.mutation(
        description="What the user thought of a recommended slot: taken or turned down. "
        "Saying it again for the same slot replaces the earlier answer."
    )
    async def recommendation_feedback(
        self, info: Info, habit_id: strawberry.ID, start: datetime, accepted: bool
    ) -> bool:
        habit = await habit_named(info.context, habit_id)
        await booking.give_feedback(info.context, habit, start, accepted)
        return True
